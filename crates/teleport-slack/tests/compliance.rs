//! The shared compliance suite (teleport-plugin-testsupport) run against `teleport-slack`
//! and the fake Slack.

use crate::common;

use std::path::Path;

use common::fake_slack_options;
use teleport_fakes::{FakeSlack, Fault};
use teleport_plugin_testsupport::compliance::{
    ComplianceWorld, ConfigParams, MalformedConfig, quote,
};
use teleport_testkit::Testkit;

/// The bot token: distinctive, so that any part of it in a log is found.
const TOKEN: &str = "xoxb-0123456789-SECRET-should-never-be-logged";
/// Where every request goes: the channels' IDs in the fake.
const CHANNELS: [&str; 2] = ["C0REQ", "C0DBA"];
/// The requester's DM channel: the decision goes there, which is no delivery to reviewers.
const REQUESTER_DM: &str = "U0ALICE";

struct SlackWorld {
    slack: FakeSlack,
}

impl SlackWorld {
    /// The `[slack]` section with this token line, and the recipients.
    fn sections(&self, token_line: &str) -> String {
        format!(
            "[slack]\n{token_line}\napiurl = {url}\n\n[role_to_recipients]\n\"*\" = [\"access-requests\", \"dba-team\"]\n",
            url = quote(&self.slack.base_url()),
        )
    }
}

impl ComplianceWorld for SlackWorld {
    const BINARY: &'static str = env!("CARGO_BIN_EXE_teleport-slack");
    const PLUGIN: &'static str = "slack";

    async fn start(_kit: &Testkit, _dir: &Path) -> Self {
        Self {
            slack: FakeSlack::start(fake_slack_options().token(TOKEN)).await,
        }
    }

    fn config(&self, params: &ConfigParams) -> String {
        params.shared_sections() + &self.sections(&format!("token = {}", quote(TOKEN)))
    }

    fn recipients(&self) -> Vec<String> {
        CHANNELS.map(String::from).to_vec()
    }

    fn deliveries(&self, request_id: &str) -> Vec<String> {
        let id_line = format!("*ID*: {request_id}");
        self.slack
            .root_messages()
            .into_iter()
            .filter(|m| m.channel != REQUESTER_DM && m.posted.visible_text().contains(&id_line))
            .map(|m| m.channel)
            .collect()
    }

    fn shows_approved(&self, request_id: &str) -> bool {
        let id_line = format!("*ID*: {request_id}");
        let roots: Vec<_> = self
            .slack
            .root_messages()
            .into_iter()
            .filter(|m| m.channel != REQUESTER_DM && m.posted.visible_text().contains(&id_line))
            .collect();
        !roots.is_empty()
            && roots
                .iter()
                .all(|m| m.current().visible_text().contains("✅ APPROVED"))
    }

    fn refuse_sends(&self, refuse: bool) {
        self.slack
            .control()
            .refuse_all(refuse.then_some(Fault::ServerError { status: 503 }));
    }

    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.to_owned()]
    }

    fn malformed_configs(&self, params: &ConfigParams) -> Vec<MalformedConfig> {
        let shared = params.shared_sections();
        let with_token = |line: &str| shared.clone() + &self.sections(line);
        let recipients = |body: &str| {
            format!(
                "{shared}[slack]\ntoken = {}\n\n[role_to_recipients]\n{body}\n",
                quote(TOKEN)
            )
        };
        vec![
            MalformedConfig::new("token missing", with_token(""), &["slack.token"]),
            MalformedConfig::new(
                "token not a string",
                with_token("token = 42"),
                &["slack.token"],
            ),
            MalformedConfig::new(
                "token file missing",
                with_token("token = \"/nonexistent/slack-token\""),
                &["slack.token", "/nonexistent/slack-token"],
            ),
            MalformedConfig::new(
                "token variable unset",
                with_token("token = \"env:NO_SUCH_SLACK_TOKEN_VARIABLE\""),
                &["slack.token", "NO_SUCH_SLACK_TOKEN_VARIABLE"],
            ),
            MalformedConfig::new(
                "no \"*\" recipients",
                recipients("\"dev\" = \"access-requests\""),
                &["role_to_recipients", "\"*\""],
            ),
            MalformedConfig::new(
                "recipients not a string",
                recipients("\"*\" = \"access-requests\"\n\"dev\" = 5"),
                &["role_to_recipients.dev"],
            ),
        ]
    }
}

teleport_plugin_testsupport::compliance_suite!(SlackWorld);
