//! The shared compliance suite (teleport-plugin-testsupport) run against `teleport-datadog`
//! and the fake Datadog: an incident per request for the one team `role_to_recipients` names.

use crate::common;

use std::path::Path;

use common::fake_options;
use teleport_fakes::{FakeDatadog, Fault};
use teleport_plugin_testsupport::compliance::{
    ComplianceWorld, ConfigParams, MalformedConfig, quote,
};
use teleport_testkit::{NewRequest, Testkit};

/// The keys: distinctive, so that any part of either in a log is found.
const API_KEY: &str = "dd-api-key-SECRET-4be81f07c2";
const APP_KEY: &str = "dd-app-key-SECRET-9a3d5e11b6";
/// The one recipient of every incident.
const TEAM: &str = "platform";

struct DatadogWorld {
    dd: FakeDatadog,
}

impl DatadogWorld {
    fn sections(&self, key_lines: &str) -> String {
        format!(
            "[datadog]\n{key_lines}\napi_endpoint = {endpoint}\n\n[role_to_recipients]\n\"*\" = {team}\n",
            endpoint = quote(&self.dd.base_url()),
            team = quote(TEAM),
        )
    }

    fn keys() -> String {
        format!(
            "api_key = {}\napplication_key = {}",
            quote(API_KEY),
            quote(APP_KEY)
        )
    }

    fn incidents(&self, request_id: &str) -> Vec<teleport_fakes::datadog::DdIncident> {
        let line = format!("ID: {request_id}\n");
        self.dd
            .incidents()
            .into_iter()
            .filter(|i| i.field("summary").contains(&line))
            .collect()
    }
}

impl ComplianceWorld for DatadogWorld {
    const BINARY: &'static str = env!("CARGO_BIN_EXE_teleport-datadog");
    const PLUGIN: &'static str = "datadog";

    async fn start(_kit: &Testkit, _dir: &Path) -> Self {
        Self {
            dd: FakeDatadog::start(fake_options().keys(API_KEY, APP_KEY)).await,
        }
    }

    fn config(&self, params: &ConfigParams) -> String {
        params.shared_sections() + &self.sections(&Self::keys())
    }

    fn new_request<'k>(&self, kit: &'k Testkit, user: &str) -> NewRequest<'k> {
        kit.new_request(user, &["dev"])
    }

    fn recipients(&self) -> Vec<String> {
        vec![TEAM.to_owned()]
    }

    /// One entry per incident created, named by its team.
    fn deliveries(&self, request_id: &str) -> Vec<String> {
        self.incidents(request_id)
            .into_iter()
            .flat_map(|i| i.field_values("teams"))
            .collect()
    }

    fn shows_approved(&self, request_id: &str) -> bool {
        let incidents = self.incidents(request_id);
        !incidents.is_empty()
            && incidents.iter().all(|i| {
                i.state() == "resolved"
                    && i.timeline
                        .iter()
                        .any(|c| c.starts_with("Access request is ✅ APPROVED"))
            })
    }

    fn refuse_sends(&self, refuse: bool) {
        self.dd
            .control()
            .refuse_all(refuse.then_some(Fault::ServerError { status: 503 }));
    }

    fn secrets(&self) -> Vec<String> {
        vec![API_KEY.to_owned(), APP_KEY.to_owned()]
    }

    fn malformed_configs(&self, params: &ConfigParams) -> Vec<MalformedConfig> {
        let shared = params.shared_sections();
        let with = |lines: &str| shared.clone() + &self.sections(lines);
        let api = format!("api_key = {}", quote(API_KEY));
        let app = format!("application_key = {}", quote(APP_KEY));
        vec![
            MalformedConfig::new("API key missing", with(&app), &["datadog.api_key"]),
            MalformedConfig::new(
                "application key empty",
                with(&format!("{api}\napplication_key = \"\"")),
                &["datadog.application_key"],
            ),
            MalformedConfig::new(
                "application key file missing",
                with(&format!(
                    "{api}\napplication_key = \"/nonexistent/dd-app-key\""
                )),
                &["datadog.application_key", "/nonexistent/dd-app-key"],
            ),
            MalformedConfig::new(
                "API endpoint not a URL",
                format!(
                    "{shared}[datadog]\n{}\napi_endpoint = \"api.datadoghq.com\"\n\n[role_to_recipients]\n\"*\" = \"platform\"\n",
                    Self::keys()
                ),
                &["datadog.api_endpoint"],
            ),
            MalformedConfig::new(
                "no \"*\" recipients",
                format!(
                    "{shared}[datadog]\n{}\napi_endpoint = {}\n\n[role_to_recipients]\n\"dev\" = \"dev-team\"\n",
                    Self::keys(),
                    quote(&self.dd.base_url())
                ),
                &["role_to_recipients"],
            ),
        ]
    }
}

teleport_plugin_testsupport::compliance_suite!(DatadogWorld);
