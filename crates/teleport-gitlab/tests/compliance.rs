//! The shared compliance suite (teleport-plugin-testsupport) run against `teleport-gitlab`
//! and the fake GitLab: an issue per request in the project, closed with the outcome's
//! label. The config has both a webhook (HTTPS on an ephemeral loopback port, so two
//! replicas can run side by side) and polling, so the webhook secret is one of the secrets
//! no log may show.

use std::path::{Path, PathBuf};

use teleport_fakes::gitlab::access;
use teleport_fakes::{FakeGitlab, FakeGitlabOptions, Fault};
use teleport_plugin_testsupport::compliance::{
    ComplianceWorld, ConfigParams, MalformedConfig, quote,
};
use teleport_testkit::Testkit;

/// The access token and the webhook secret: distinctive, so that any part of them in a log
/// is found.
const TOKEN: &str = "glpat-SECRET-compliance-4f1d2c";
const HOOK_SECRET: &str = "gitlab-hook-SECRET-9a7e";
const PROJECT_ID: u64 = 4242;
const PROJECT_PATH: &str = "ops/access-requests";

struct GitlabWorld {
    gitlab: FakeGitlab,
    cert_file: PathBuf,
    key_file: PathBuf,
}

impl GitlabWorld {
    /// `[gitlab]` with this token line, polling and the webhook, and `[http]`.
    fn sections(&self, token_line: &str, extra: &str) -> String {
        format!(
            "[gitlab]\nurl = {url}\n{token_line}\nproject_id = {project}\nwebhook_secret = {secret}\npoll_interval = \"2s\"\n{extra}\n\n[http]\npublic_addr = \"https://127.0.0.1:8044\"\nlisten_addr = \"127.0.0.1:0\"\nhttps_cert_file = {cert}\nhttps_key_file = {key}\n",
            url = quote(&self.gitlab.base_url()),
            project = quote(PROJECT_PATH),
            secret = quote(HOOK_SECRET),
            cert = quote(&self.cert_file.display().to_string()),
            key = quote(&self.key_file.display().to_string()),
        )
    }

    /// The issues that name the request.
    fn issues(&self, request_id: &str) -> Vec<teleport_fakes::gitlab::GlIssue> {
        let marker = format!("Request ID is `{request_id}`.");
        self.gitlab
            .issues()
            .into_iter()
            .filter(|i| i.description.contains(&marker))
            .collect()
    }
}

impl ComplianceWorld for GitlabWorld {
    const BINARY: &'static str = env!("CARGO_BIN_EXE_teleport-gitlab");
    const PLUGIN: &'static str = "gitlab";

    async fn start(_kit: &Testkit, dir: &Path) -> Self {
        let gitlab = FakeGitlab::start(
            FakeGitlabOptions::default()
                .token(TOKEN)
                .project(PROJECT_ID, PROJECT_PATH)
                .user(7, "maria", Some(access::MAINTAINER)),
        )
        .await;
        let listener = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
            .expect("a listener certificate");
        let cert_file = dir.join("webhook.crt");
        let key_file = dir.join("webhook.key");
        std::fs::write(&cert_file, listener.cert.pem()).expect("the certificate is written");
        std::fs::write(&key_file, listener.signing_key.serialize_pem())
            .expect("the key is written");
        Self {
            gitlab,
            cert_file,
            key_file,
        }
    }

    fn config(&self, params: &ConfigParams) -> String {
        params.shared_sections() + &self.sections(&format!("token = {}", quote(TOKEN)), "")
    }

    fn recipients(&self) -> Vec<String> {
        vec![PROJECT_PATH.to_owned()]
    }

    /// One issue per request, in the one project.
    fn deliveries(&self, request_id: &str) -> Vec<String> {
        self.issues(request_id)
            .into_iter()
            .map(|_| PROJECT_PATH.to_owned())
            .collect()
    }

    /// The issue is closed with the approval label.
    fn shows_approved(&self, request_id: &str) -> bool {
        let issues = self.issues(request_id);
        !issues.is_empty()
            && issues
                .iter()
                .all(|i| i.state == "closed" && i.has_label("Teleport: Approved"))
    }

    fn refuse_sends(&self, refuse: bool) {
        self.gitlab
            .control()
            .refuse_all(refuse.then_some(Fault::ServerError { status: 503 }));
    }

    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.to_owned(), HOOK_SECRET.to_owned()]
    }

    fn malformed_configs(&self, params: &ConfigParams) -> Vec<MalformedConfig> {
        let shared = params.shared_sections();
        let with =
            |token_line: &str, extra: &str| shared.clone() + &self.sections(token_line, extra);
        let token = format!("token = {}", quote(TOKEN));
        vec![
            MalformedConfig::new("token missing", with("", ""), &["gitlab.token"]),
            MalformedConfig::new(
                "token file missing",
                with("token = \"/nonexistent/gitlab-token\"", ""),
                &["gitlab.token", "/nonexistent/gitlab-token"],
            ),
            MalformedConfig::new(
                "token variable unset",
                with("token = \"env:NO_SUCH_GITLAB_TOKEN_VARIABLE\"", ""),
                &["gitlab.token", "NO_SUCH_GITLAB_TOKEN_VARIABLE"],
            ),
            MalformedConfig::new(
                "min_access_level unknown",
                with(&token, "min_access_level = \"admin\""),
                &["gitlab.min_access_level"],
            ),
            MalformedConfig::new(
                "neither webhook nor polling",
                format!(
                    "{shared}[gitlab]\n{token}\nproject_id = {}\n",
                    quote(PROJECT_PATH)
                ),
                &["gitlab.webhook_secret"],
            ),
            MalformedConfig::new(
                "project_id without a namespace",
                format!(
                    "{shared}[gitlab]\n{token}\nproject_id = \"access\"\npoll_interval = \"30s\"\n"
                ),
                &["gitlab.project_id"],
            ),
            MalformedConfig::new(
                "webhook without TLS files",
                format!(
                    "{shared}[gitlab]\n{token}\nproject_id = 1\nwebhook_secret = {}\n\n[http]\npublic_addr = \"plugin.example.com\"\n",
                    quote(HOOK_SECRET)
                ),
                &["http.https_cert_file"],
            ),
        ]
    }
}

teleport_plugin_testsupport::compliance_suite!(GitlabWorld);
