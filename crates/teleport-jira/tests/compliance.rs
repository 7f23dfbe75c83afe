//! The shared compliance suite (teleport-plugin-testsupport) run against `teleport-jira` and
//! the fake Jira Cloud over HTTPS: one issue per request in the project, moved to Approved
//! when Teleport approves it. The plugin polls (no `[http]`), so replicas need no port.

use std::path::{Path, PathBuf};

use teleport_fakes::jira::FakeIssue;
use teleport_fakes::{FakeJira, FakeJiraOptions, Fault};
use teleport_plugin_testsupport::compliance::{
    ComplianceWorld, ConfigParams, MalformedConfig, quote,
};
use teleport_testkit::Testkit;

/// The API token: distinctive, so that any part of it in a log is found.
const API_TOKEN: &str = "jira-token-SECRET-5a1f93c0d2";
const USERNAME: &str = "jira-bot@example.com";
const PROJECT: &str = "TD2";
/// The issue property that carries the request ID.
const PROPERTY: &str = "teleportAccessRequestId";

struct JiraWorld {
    jira: FakeJira,
    /// The fake's CA, written for `[jira] ca_file`.
    ca_file: PathBuf,
}

impl JiraWorld {
    /// `[jira]` with these credential lines.
    fn section(&self, credentials: &str) -> String {
        format!(
            "[jira]\nurl = {url}\nproject = {project}\nca_file = {ca}\npoll_interval = \"1h\"\n{credentials}\n",
            url = quote(&self.jira.base_url()),
            project = quote(PROJECT),
            ca = quote(&self.ca_file.display().to_string()),
        )
    }

    fn issues_for(&self, request_id: &str) -> Vec<FakeIssue> {
        self.jira
            .issues()
            .into_iter()
            .filter(|i| i.properties.get(PROPERTY).and_then(|v| v.as_str()) == Some(request_id))
            .collect()
    }
}

impl ComplianceWorld for JiraWorld {
    const BINARY: &'static str = env!("CARGO_BIN_EXE_teleport-jira");
    const PLUGIN: &'static str = "jira";

    async fn start(_kit: &Testkit, dir: &Path) -> Self {
        let options = FakeJiraOptions {
            api_token: API_TOKEN.into(),
            username: USERNAME.into(),
            project: PROJECT.into(),
            ..FakeJiraOptions::default()
        };
        let jira = FakeJira::start(options).await;
        let ca_file = dir.join("jira-ca.pem");
        std::fs::write(&ca_file, jira.ca_pem()).expect("write the fake Jira's CA");
        Self { jira, ca_file }
    }

    fn config(&self, params: &ConfigParams) -> String {
        let credentials = format!(
            "username = {}\napi_token = {}",
            quote(USERNAME),
            quote(API_TOKEN)
        );
        params.shared_sections() + &self.section(&credentials)
    }

    fn recipients(&self) -> Vec<String> {
        vec![PROJECT.to_owned()]
    }

    fn deliveries(&self, request_id: &str) -> Vec<String> {
        self.issues_for(request_id)
            .into_iter()
            .map(|i| i.project)
            .collect()
    }

    /// The issue was moved to Approved.
    fn shows_approved(&self, request_id: &str) -> bool {
        let issues = self.issues_for(request_id);
        !issues.is_empty() && issues.iter().all(|i| i.status == "Approved")
    }

    fn refuse_sends(&self, refuse: bool) {
        self.jira
            .control()
            .refuse_all(refuse.then_some(Fault::ServerError { status: 503 }));
    }

    fn secrets(&self) -> Vec<String> {
        vec![API_TOKEN.to_owned()]
    }

    fn malformed_configs(&self, params: &ConfigParams) -> Vec<MalformedConfig> {
        let shared = params.shared_sections();
        let user = format!("username = {}", quote(USERNAME));
        let token = format!("api_token = {}", quote(API_TOKEN));
        let with = |lines: &str| shared.clone() + &self.section(lines);
        vec![
            MalformedConfig::new("API token missing", with(&user), &["jira.api_token"]),
            MalformedConfig::new(
                "API token file missing",
                with(&format!("{user}\napi_token = \"/nonexistent/jira-token\"")),
                &["jira.api_token", "/nonexistent/jira-token"],
            ),
            MalformedConfig::new("username missing", with(&token), &["jira.username"]),
            MalformedConfig::new(
                "URL not https",
                format!(
                    "{shared}[jira]\nurl = \"http://jira.example.com\"\nproject = \"{PROJECT}\"\npoll_interval = \"1h\"\n{user}\n{token}\n"
                ),
                &["jira.url"],
            ),
            MalformedConfig::new(
                "poll interval not a duration",
                format!(
                    "{shared}[jira]\nurl = {url}\nproject = \"{PROJECT}\"\npoll_interval = \"often\"\n{user}\n{token}\n",
                    url = quote(&self.jira.base_url()),
                ),
                &["jira.poll_interval"],
            ),
        ]
    }
}

teleport_plugin_testsupport::compliance_suite!(JiraWorld);
