//! The shared compliance suite (teleport-plugin-testsupport) run against
//! `teleport-msteams` and the fake Microsoft Teams.

use crate::common;

use std::path::Path;

use common::{CAROL, CAROL_ID, CHANNEL, GROUP, channel_link, fake_options};
use teleport_fakes::Fault;
use teleport_fakes::msteams::FakeMsTeams;
use teleport_plugin_testsupport::compliance::{
    ComplianceWorld, ConfigParams, MalformedConfig, quote,
};
use teleport_testkit::Testkit;

/// The app secret: distinctive, so that any part of it in a log is found.
const SECRET: &str = "msteams-app-secret-SECRET-5e2b8c71f0";

struct MsTeamsWorld {
    fake: FakeMsTeams,
    carol_chat: String,
}

impl MsTeamsWorld {
    /// `[msapi]` with this secret line, and the recipients.
    fn sections(&self, secret_line: &str) -> String {
        format!(
            "[msapi]\napp_id = {app}\ntenant_id = {tenant}\nteams_app_id = \"00000000-0000-4000-8000-00000000cccc\"\n{secret_line}\nlogin_url = {login}\ngraph_url = {graph}\nbot_framework_url = {bot}\n\n[role_to_recipients]\n\"*\" = [{carol}, {link}]\n",
            app = quote(self.fake.app_id()),
            tenant = quote(self.fake.tenant_id()),
            login = quote(&self.fake.login_url()),
            graph = quote(&self.fake.graph_url()),
            bot = quote(&self.fake.bot_framework_url()),
            carol = quote(CAROL),
            link = quote(&channel_link(CHANNEL, GROUP)),
        )
    }

    /// The request's cards: (conversation, current text).
    fn cards(&self, request_id: &str) -> Vec<(String, String)> {
        let title = format!("Access Request {request_id}");
        self.fake.with_state(|state| {
            state
                .activities
                .iter()
                .filter(|a| a.posted.card.to_string().contains(&title))
                .map(|a| (a.conversation.clone(), a.text()))
                .collect()
        })
    }
}

impl ComplianceWorld for MsTeamsWorld {
    const BINARY: &'static str = env!("CARGO_BIN_EXE_teleport-msteams");
    const PLUGIN: &'static str = "msteams";

    async fn start(_kit: &Testkit, _dir: &Path) -> Self {
        let fake = FakeMsTeams::start(fake_options().app_secret(SECRET)).await;
        let carol_chat = fake.install_for(CAROL_ID).expect("Carol's chat");
        Self { fake, carol_chat }
    }

    fn config(&self, params: &ConfigParams) -> String {
        params.shared_sections() + &self.sections(&format!("app_secret = {}", quote(SECRET)))
    }

    fn recipients(&self) -> Vec<String> {
        vec![self.carol_chat.clone(), CHANNEL.to_owned()]
    }

    fn deliveries(&self, request_id: &str) -> Vec<String> {
        self.cards(request_id)
            .into_iter()
            .map(|(conversation, _)| conversation)
            .collect()
    }

    fn shows_approved(&self, request_id: &str) -> bool {
        let cards = self.cards(request_id);
        !cards.is_empty() && cards.iter().all(|(_, text)| text.contains("APPROVED"))
    }

    fn refuse_sends(&self, refuse: bool) {
        self.fake
            .control()
            .refuse_all(refuse.then_some(Fault::ServerError { status: 503 }));
    }

    /// The app secret, and every access token the fake issued.
    fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![SECRET.to_owned()];
        secrets.extend(
            self.fake
                .with_state(|s| s.tokens.iter().map(|t| t.token.clone()).collect::<Vec<_>>()),
        );
        secrets
    }

    fn malformed_configs(&self, params: &ConfigParams) -> Vec<MalformedConfig> {
        let shared = params.shared_sections();
        let secret = format!("app_secret = {}", quote(SECRET));
        let with_secret = |line: &str| shared.clone() + &self.sections(line);
        let msapi = self.sections(&secret);
        let recipients = |body: &str| {
            let head = msapi
                .split("[role_to_recipients]")
                .next()
                .unwrap_or_default()
                .to_owned();
            format!("{shared}{head}[role_to_recipients]\n{body}\n")
        };
        vec![
            MalformedConfig::new("secret missing", with_secret(""), &["msapi.app_secret"]),
            MalformedConfig::new(
                "secret empty",
                with_secret("app_secret = \"\""),
                &["msapi.app_secret"],
            ),
            MalformedConfig::new(
                "secret file missing",
                with_secret("app_secret = \"/nonexistent/msteams-secret\""),
                &["msapi.app_secret", "/nonexistent/msteams-secret"],
            ),
            MalformedConfig::new(
                "no app ID",
                shared.clone() + &msapi.replace("\napp_id = ", "\n# app_id = "),
                &["msapi.app_id"],
            ),
            MalformedConfig::new(
                "no Teams app ID",
                shared.clone() + &msapi.replace("\nteams_app_id = ", "\n# teams_app_id = "),
                &["msapi.teams_app_id"],
            ),
            MalformedConfig::new(
                "graph_url not a URL",
                shared.clone() + &msapi.replace("graph_url = \"", "graph_url = \"graph."),
                &["msapi.graph_url"],
            ),
            MalformedConfig::new(
                "recipient a link that is no channel",
                recipients("\"*\" = \"https://teams.microsoft.com/l/chat/x\""),
                &["role_to_recipients.\"*\""],
            ),
            MalformedConfig::new(
                "no wildcard recipient",
                recipients(&format!("dev = {}", quote(CAROL))),
                &["role_to_recipients"],
            ),
            MalformedConfig::new(
                "recipient not a string",
                recipients(&format!("\"*\" = [{}, 5]", quote(CAROL))),
                &["role_to_recipients"],
            ),
        ]
    }
}

teleport_plugin_testsupport::compliance_suite!(MsTeamsWorld);
