//! The shared compliance suite (teleport-plugin-testsupport) run against
//! `teleport-servicenow` and the fake ServiceNow: an incident per request, assigned to the
//! reviewer the requester suggests.

use crate::common;

use std::path::Path;

use common::{correlation, fake_options};
use teleport_fakes::servicenow::SnIncident;
use teleport_fakes::{FakeServiceNow, Fault};
use teleport_plugin_testsupport::compliance::{
    ComplianceWorld, ConfigParams, MalformedConfig, quote,
};
use teleport_testkit::{NewRequest, Testkit};

/// The API token: distinctive, so that any part of it in a log is found.
const API_TOKEN: &str = "sn-api-token-SECRET-4e7b2c91d0";
/// The one assignee of every incident.
const ASSIGNEE: &str = "carol";
const CLOSE_CODE: &str = "Solution provided";

struct ServiceNowWorld {
    sn: FakeServiceNow,
}

impl ServiceNowWorld {
    fn sections(&self, lines: &str) -> String {
        format!(
            "[servicenow]\napi_endpoint = {endpoint}\n{lines}\n",
            endpoint = quote(&self.sn.base_url()),
        )
    }

    fn complete(&self, token_line: &str) -> String {
        self.sections(&format!(
            "username = {user}\n{token_line}\nclose_code = {code}",
            user = quote(common::USERNAME),
            code = quote(CLOSE_CODE),
        ))
    }

    fn incidents(&self, request_id: &str) -> Vec<SnIncident> {
        let correlation = correlation(request_id);
        self.sn
            .incidents()
            .into_iter()
            .filter(|i| i.correlation_id == correlation)
            .collect()
    }
}

impl ComplianceWorld for ServiceNowWorld {
    const BINARY: &'static str = env!("CARGO_BIN_EXE_teleport-servicenow");
    const PLUGIN: &'static str = "servicenow";

    async fn start(_kit: &Testkit, _dir: &Path) -> Self {
        Self {
            sn: FakeServiceNow::start(fake_options().credentials(common::USERNAME, API_TOKEN))
                .await,
        }
    }

    fn config(&self, params: &ConfigParams) -> String {
        params.shared_sections() + &self.complete(&format!("api_token = {}", quote(API_TOKEN)))
    }

    fn new_request<'k>(&self, kit: &'k Testkit, user: &str) -> NewRequest<'k> {
        kit.new_request(user, &["dev"])
            .suggested_reviewers(&[ASSIGNEE])
    }

    fn recipients(&self) -> Vec<String> {
        vec![ASSIGNEE.to_owned()]
    }

    /// One entry (the assignee) per incident opened for the request.
    fn deliveries(&self, request_id: &str) -> Vec<String> {
        self.incidents(request_id)
            .into_iter()
            .map(|i| i.assigned_to)
            .collect()
    }

    fn shows_approved(&self, request_id: &str) -> bool {
        let incidents = self.incidents(request_id);
        !incidents.is_empty()
            && incidents.iter().all(|i| {
                i.incident_state == "6" && i.close_notes.starts_with("Access request has been")
            })
    }

    fn refuse_sends(&self, refuse: bool) {
        self.sn
            .control()
            .refuse_all(refuse.then_some(Fault::ServerError { status: 503 }));
    }

    fn secrets(&self) -> Vec<String> {
        vec![API_TOKEN.to_owned()]
    }

    fn malformed_configs(&self, params: &ConfigParams) -> Vec<MalformedConfig> {
        let shared = params.shared_sections();
        let token = format!("api_token = {}", quote(API_TOKEN));
        vec![
            MalformedConfig::new(
                "API token missing",
                shared.clone() + &self.complete(""),
                &["servicenow", "api_token"],
            ),
            MalformedConfig::new(
                "API token empty",
                shared.clone() + &self.complete("api_token = \"\""),
                &["servicenow.api_token"],
            ),
            MalformedConfig::new(
                "API token file missing",
                shared.clone() + &self.complete("api_token = \"/nonexistent/sn-token\""),
                &["servicenow.api_token", "/nonexistent/sn-token"],
            ),
            MalformedConfig::new(
                "plain http to a remote instance",
                format!(
                    "{shared}[servicenow]\napi_endpoint = \"http://example.service-now.com\"\n\
                     username = \"u\"\n{token}\nclose_code = \"c\"\n"
                ),
                &["servicenow.api_endpoint"],
            ),
            MalformedConfig::new(
                "username missing",
                shared.clone() + &self.sections(&format!("{token}\nclose_code = \"c\"")),
                &["servicenow.username"],
            ),
            MalformedConfig::new(
                "close code missing",
                shared + &self.sections(&format!("username = \"u\"\n{token}")),
                &["servicenow.close_code"],
            ),
        ]
    }
}

teleport_plugin_testsupport::compliance_suite!(ServiceNowWorld);
