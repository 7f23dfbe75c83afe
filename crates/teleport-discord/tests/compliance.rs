//! The shared compliance suite (teleport-plugin-testsupport) run against
//! `teleport-discord` and the fake Discord.

use crate::common;

use std::path::Path;

use common::{CHANNEL, OTHER_CHANNEL, fake_options};
use teleport_fakes::Fault;
use teleport_fakes::discord::FakeDiscord;
use teleport_plugin_testsupport::compliance::{
    ComplianceWorld, ConfigParams, MalformedConfig, quote,
};
use teleport_testkit::Testkit;

/// The bot token: distinctive, so that any part of it in a log is found.
const TOKEN: &str = "discord-bot-token-SECRET-7c1e9a04d2";

struct DiscordWorld {
    fake: FakeDiscord,
}

impl DiscordWorld {
    /// The `[discord]` section with this token line, and the recipients.
    fn sections(&self, token_line: &str) -> String {
        format!(
            "[discord]\napiurl = {url}\n{token_line}\n\n[role_to_recipients]\n\"*\" = [\"{CHANNEL}\", \"{OTHER_CHANNEL}\"]\n",
            url = quote(&self.fake.base_url()),
        )
    }

    /// The request's messages: (channel, current content).
    fn messages(&self, request_id: &str) -> Vec<(String, String)> {
        let id_line = format!("*ID*: {request_id}\n");
        self.fake.with_state(|state| {
            state
                .messages
                .iter()
                .filter(|m| m.posted.content.contains(&id_line))
                .map(|m| (m.channel_id.clone(), m.current().content.clone()))
                .collect()
        })
    }
}

impl ComplianceWorld for DiscordWorld {
    const BINARY: &'static str = env!("CARGO_BIN_EXE_teleport-discord");
    const PLUGIN: &'static str = "discord";

    async fn start(_kit: &Testkit, _dir: &Path) -> Self {
        Self {
            fake: FakeDiscord::start(fake_options().token(TOKEN)).await,
        }
    }

    fn config(&self, params: &ConfigParams) -> String {
        params.shared_sections() + &self.sections(&format!("token = {}", quote(TOKEN)))
    }

    fn recipients(&self) -> Vec<String> {
        vec![CHANNEL.to_owned(), OTHER_CHANNEL.to_owned()]
    }

    fn deliveries(&self, request_id: &str) -> Vec<String> {
        self.messages(request_id)
            .into_iter()
            .map(|(channel, _)| channel)
            .collect()
    }

    fn shows_approved(&self, request_id: &str) -> bool {
        let messages = self.messages(request_id);
        !messages.is_empty()
            && messages
                .iter()
                .all(|(_, text)| text.contains("✅ APPROVED"))
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
        let recipients = |body: &str| {
            format!(
                "{shared}[discord]\napiurl = {}\n{token}\n\n[role_to_recipients]\n{body}\n",
                quote(&self.fake.base_url())
            )
        };
        vec![
            MalformedConfig::new("token missing", with_token(""), &["discord.token"]),
            MalformedConfig::new(
                "token empty",
                with_token("token = \"\""),
                &["discord.token"],
            ),
            MalformedConfig::new(
                "token file missing",
                with_token("token = \"/nonexistent/discord-token\""),
                &["discord.token", "/nonexistent/discord-token"],
            ),
            MalformedConfig::new(
                "apiurl not a URL",
                format!(
                    "{shared}[discord]\napiurl = \"discord.com/api\"\n{token}\n\n[role_to_recipients]\n\"*\" = \"{CHANNEL}\"\n"
                ),
                &["discord.apiurl"],
            ),
            MalformedConfig::new(
                "recipient not a channel ID",
                recipients("\"*\" = \"#access-requests\""),
                &["role_to_recipients.\"*\""],
            ),
            MalformedConfig::new(
                "no wildcard recipient",
                recipients(&format!("dev = \"{CHANNEL}\"")),
                &["role_to_recipients"],
            ),
            MalformedConfig::new(
                "recipient not a string",
                recipients(&format!("\"*\" = [\"{CHANNEL}\", 5]")),
                &["role_to_recipients"],
            ),
        ]
    }
}

teleport_plugin_testsupport::compliance_suite!(DiscordWorld);
