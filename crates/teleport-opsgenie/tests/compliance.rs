//! The shared compliance suite (teleport-plugin-testsupport) run against
//! `teleport-opsgenie` and the fake Opsgenie: an alert per request that names a schedule to
//! notify.

use crate::common;

use std::path::Path;

use common::{NOTIFY, fake_options};
use teleport_fakes::{FakeOpsgenie, Fault};
use teleport_plugin_testsupport::compliance::{
    ComplianceWorld, ConfigParams, MalformedConfig, quote,
};
use teleport_testkit::{NewRequest, Testkit};

/// The API key: distinctive, so that any part of it in a log is found.
const API_KEY: &str = "og-api-key-SECRET-93d1c7a5f0";
/// The one recipient of every alert.
const SCHEDULE: &str = "Primary";

struct OpsgenieWorld {
    og: FakeOpsgenie,
}

impl OpsgenieWorld {
    fn sections(&self, key_line: &str) -> String {
        format!(
            "[opsgenie]\n{key_line}\napi_endpoint = {endpoint}\n",
            endpoint = quote(&self.og.base_url()),
        )
    }

    fn alerts(&self, request_id: &str) -> Vec<teleport_fakes::opsgenie::OgAlert> {
        let alias = format!("teleport-access-request/{request_id}");
        self.og
            .alerts()
            .into_iter()
            .filter(|a| a.alias == alias)
            .collect()
    }
}

impl ComplianceWorld for OpsgenieWorld {
    const BINARY: &'static str = env!("CARGO_BIN_EXE_teleport-opsgenie");
    const PLUGIN: &'static str = "opsgenie";

    async fn start(_kit: &Testkit, _dir: &Path) -> Self {
        Self {
            og: FakeOpsgenie::start(fake_options().api_key(API_KEY)).await,
        }
    }

    fn config(&self, params: &ConfigParams) -> String {
        params.shared_sections() + &self.sections(&format!("api_key = {}", quote(API_KEY)))
    }

    /// Only requests that name a schedule (or team) get an alert.
    fn new_request<'k>(&self, kit: &'k Testkit, user: &str) -> NewRequest<'k> {
        kit.new_request(user, &["dev"])
            .system_annotation(NOTIFY, &[SCHEDULE])
    }

    fn recipients(&self) -> Vec<String> {
        vec![SCHEDULE.to_owned()]
    }

    /// One entry per alert create Opsgenie counted (a de-duplicated create counts too).
    fn deliveries(&self, request_id: &str) -> Vec<String> {
        self.alerts(request_id)
            .into_iter()
            .flat_map(|a| {
                let name = a.responders[0]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                std::iter::repeat_n(name, a.count as usize)
            })
            .collect()
    }

    fn shows_approved(&self, request_id: &str) -> bool {
        let alerts = self.alerts(request_id);
        !alerts.is_empty()
            && alerts.iter().all(|a| {
                a.closed
                    .as_deref()
                    .is_some_and(|n| n.starts_with("Access request has been approved"))
            })
    }

    fn refuse_sends(&self, refuse: bool) {
        self.og
            .control()
            .refuse_all(refuse.then_some(Fault::ServerError { status: 503 }));
    }

    fn secrets(&self) -> Vec<String> {
        vec![API_KEY.to_owned()]
    }

    fn malformed_configs(&self, params: &ConfigParams) -> Vec<MalformedConfig> {
        let shared = params.shared_sections();
        let with = |lines: &str| shared.clone() + &self.sections(lines);
        let key = format!("api_key = {}", quote(API_KEY));
        vec![
            MalformedConfig::new("API key missing", with(""), &["opsgenie.api_key"]),
            MalformedConfig::new(
                "API key empty",
                with("api_key = \"\""),
                &["opsgenie.api_key"],
            ),
            MalformedConfig::new(
                "API key file missing",
                with("api_key = \"/nonexistent/og-key\""),
                &["opsgenie.api_key", "/nonexistent/og-key"],
            ),
            MalformedConfig::new(
                "API endpoint not a URL",
                format!("{shared}[opsgenie]\n{key}\napi_endpoint = \"api.opsgenie.com\"\n"),
                &["opsgenie.api_endpoint"],
            ),
            MalformedConfig::new(
                "priority not P1..P5",
                with(&format!("{key}\npriority = \"urgent\"")),
                &["opsgenie.priority"],
            ),
        ]
    }
}

teleport_plugin_testsupport::compliance_suite!(OpsgenieWorld);
