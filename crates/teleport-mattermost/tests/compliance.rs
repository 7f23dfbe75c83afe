//! The shared compliance suite (teleport-plugin-testsupport) run against
//! `teleport-mattermost` and the fake Mattermost.

use crate::common;

use std::path::Path;

use common::{CHANNEL, TEAM, fake_options};
use teleport_fakes::Fault;
use teleport_fakes::mattermost::FakeMattermost;
use teleport_plugin_testsupport::compliance::{
    ComplianceWorld, ConfigParams, MalformedConfig, quote,
};
use teleport_testkit::Testkit;

/// The bot token: distinctive, so that any part of it in a log is found.
const TOKEN: &str = "mm-bot-token-SECRET-4f9a2c7e1b";
/// A second channel the bot is a member of, so every request goes to two recipients.
const APPROVERS: &str = "chan00000000000000000000003";

struct MattermostWorld {
    fake: FakeMattermost,
}

impl MattermostWorld {
    /// The `[mattermost]` section with this token line, and the recipients.
    fn sections(&self, token_line: &str) -> String {
        format!(
            "[mattermost]\nurl = {url}\n{token_line}\n\n[role_to_recipients]\n\"*\" = [\"eng/access-requests\", \"eng/approvers\"]\n",
            url = quote(&self.fake.base_url()),
        )
    }

    /// The request's root posts outside direct channels (the requester's notice is in one).
    fn reviewer_posts(&self, request_id: &str) -> Vec<(String, String)> {
        let id_line = format!("**Request ID**: {request_id}");
        self.fake.with_state(|state| {
            state
                .roots()
                .filter(|post| post.message.contains(&id_line))
                .filter(|post| {
                    state
                        .channels
                        .iter()
                        .any(|c| c.id == post.channel_id && c.kind != "D")
                })
                .map(|post| (post.channel_id.clone(), post.current().to_owned()))
                .collect()
        })
    }
}

impl ComplianceWorld for MattermostWorld {
    const BINARY: &'static str = env!("CARGO_BIN_EXE_teleport-mattermost");
    const PLUGIN: &'static str = "mattermost";

    async fn start(_kit: &Testkit, _dir: &Path) -> Self {
        let options =
            fake_options()
                .token(TOKEN)
                .channel(APPROVERS, TEAM, "approvers", "Approvers", true);
        Self {
            fake: FakeMattermost::start(options).await,
        }
    }

    fn config(&self, params: &ConfigParams) -> String {
        params.shared_sections() + &self.sections(&format!("token = {}", quote(TOKEN)))
    }

    fn recipients(&self) -> Vec<String> {
        vec![CHANNEL.to_owned(), APPROVERS.to_owned()]
    }

    fn deliveries(&self, request_id: &str) -> Vec<String> {
        self.reviewer_posts(request_id)
            .into_iter()
            .map(|(channel, _)| channel)
            .collect()
    }

    fn shows_approved(&self, request_id: &str) -> bool {
        let posts = self.reviewer_posts(request_id);
        !posts.is_empty() && posts.iter().all(|(_, text)| text.contains("✅ APPROVED"))
    }

    fn refuse_sends(&self, refuse: bool) {
        self.fake
            .control()
            .refuse_all(refuse.then_some(Fault::ServerError { status: 503 }));
    }

    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.to_owned()]
    }

    fn malformed_configs(&self, params: &ConfigParams) -> Vec<MalformedConfig> {
        let shared = params.shared_sections();
        let token = format!("token = {}", quote(TOKEN));
        let with_token = |line: &str| shared.clone() + &self.sections(line);
        let with_url = |url: &str| {
            format!(
                "{shared}[mattermost]\nurl = {}\n{token}\n\n[role_to_recipients]\n\"*\" = \"eng/access-requests\"\n",
                quote(url)
            )
        };
        let recipients = |body: &str| {
            format!(
                "{shared}[mattermost]\nurl = {}\n{token}\n\n[role_to_recipients]\n{body}\n",
                quote(&self.fake.base_url())
            )
        };
        vec![
            MalformedConfig::new("token missing", with_token(""), &["mattermost.token"]),
            MalformedConfig::new(
                "token empty",
                with_token("token = \"\""),
                &["mattermost.token"],
            ),
            MalformedConfig::new(
                "token file missing",
                with_token("token = \"/nonexistent/mattermost-token\""),
                &["mattermost.token", "/nonexistent/mattermost-token"],
            ),
            MalformedConfig::new(
                "url not a URL",
                with_url("mattermost.example.com"),
                &["mattermost.url"],
            ),
            MalformedConfig::new(
                "recipient not a string",
                recipients("\"*\" = [\"eng/access-requests\", 5]"),
                &["role_to_recipients"],
            ),
        ]
    }
}

teleport_plugin_testsupport::compliance_suite!(MattermostWorld);
