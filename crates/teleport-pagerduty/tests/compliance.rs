//! The shared compliance suite (teleport-plugin-testsupport) run against
//! `teleport-pagerduty` and the fake PagerDuty: an incident per request that carries the
//! notify-service annotation.

use crate::common;

use std::path::Path;

use common::{BOT_EMAIL, NOTIFY, NOTIFY_SERVICE, incidents_for};
use teleport_fakes::{FakePagerDuty, FakePagerDutyOptions, Fault};
use teleport_plugin_testsupport::compliance::{
    ComplianceWorld, ConfigParams, MalformedConfig, quote,
};
use teleport_testkit::{NewRequest, Testkit};

/// The REST API key: distinctive, so that any part of it in a log is found.
const API_KEY: &str = "pd-api-key-SECRET-2b8c61f0e5";

struct PagerDutyWorld {
    pd: FakePagerDuty,
    /// The ID of the service incidents are opened on.
    service: String,
}

impl PagerDutyWorld {
    /// `[pagerduty]` with these key lines (the API key and user e-mail lines).
    fn sections(&self, key_lines: &str) -> String {
        format!(
            "[pagerduty]\n{key_lines}\napi_endpoint = {endpoint}\n",
            endpoint = quote(&self.pd.base_url()),
        )
    }
}

impl ComplianceWorld for PagerDutyWorld {
    const BINARY: &'static str = env!("CARGO_BIN_EXE_teleport-pagerduty");
    const PLUGIN: &'static str = "pagerduty";

    async fn start(_kit: &Testkit, _dir: &Path) -> Self {
        let pd = FakePagerDuty::start(FakePagerDutyOptions::default().api_key(API_KEY)).await;
        pd.add_user("Teleport Bot", BOT_EMAIL);
        let policy = pd.add_escalation_policy("ep1");
        let service = pd.add_service(NOTIFY_SERVICE, &policy);
        Self { pd, service }
    }

    fn config(&self, params: &ConfigParams) -> String {
        let keys = format!(
            "api_key = {}\nuser_email = {}",
            quote(API_KEY),
            quote(BOT_EMAIL)
        );
        params.shared_sections() + &self.sections(&keys)
    }

    /// Only requests that name the service to notify get an incident.
    fn new_request<'k>(&self, kit: &'k Testkit, user: &str) -> NewRequest<'k> {
        kit.new_request(user, &["dev"])
            .system_annotation(NOTIFY, &[NOTIFY_SERVICE])
    }

    fn recipients(&self) -> Vec<String> {
        vec![self.service.clone()]
    }

    fn deliveries(&self, request_id: &str) -> Vec<String> {
        incidents_for(&self.pd, request_id)
            .into_iter()
            .map(|i| i.service_id)
            .collect()
    }

    /// The incident is resolved with the approval as its last note.
    fn shows_approved(&self, request_id: &str) -> bool {
        let incidents = incidents_for(&self.pd, request_id);
        !incidents.is_empty()
            && incidents.iter().all(|i| {
                i.status == "resolved"
                    && i.notes
                        .last()
                        .is_some_and(|n| n.content.starts_with("Access request has been approved"))
            })
    }

    fn refuse_sends(&self, refuse: bool) {
        self.pd
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
        let email = format!("user_email = {}", quote(BOT_EMAIL));
        vec![
            MalformedConfig::new("API key missing", with(&email), &["pagerduty.api_key"]),
            MalformedConfig::new(
                "API key empty",
                with(&format!("api_key = \"\"\n{email}")),
                &["pagerduty.api_key"],
            ),
            MalformedConfig::new(
                "API key file missing",
                with(&format!("api_key = \"/nonexistent/pd-key\"\n{email}")),
                &["pagerduty.api_key", "/nonexistent/pd-key"],
            ),
            MalformedConfig::new(
                "user e-mail not an address",
                with(&format!("{key}\nuser_email = \"teleport-bot\"")),
                &["pagerduty.user_email"],
            ),
            MalformedConfig::new(
                "API endpoint not a URL",
                format!(
                    "{shared}[pagerduty]\n{key}\n{email}\napi_endpoint = \"api.pagerduty.com\"\n"
                ),
                &["pagerduty.api_endpoint"],
            ),
            MalformedConfig::new(
                "escalation level below 1",
                with(&format!("{key}\n{email}"))
                    + "\n[pagerduty.auto_approval]\nmax_escalation_level = 0\n",
                &["pagerduty.auto_approval.max_escalation_level"],
            ),
        ]
    }
}

teleport_plugin_testsupport::compliance_suite!(PagerDutyWorld);
