//! The shared compliance suite (teleport-plugin-testsupport) run against `teleport-email`
//! and a real SMTP server on loopback, with AUTH.

use crate::common;

use std::path::Path;

use common::smtp_server::{Received, SmtpOptions, SmtpServer};
use common::{SENDER, parts};
use teleport_plugin_testsupport::compliance::{
    ComplianceWorld, ConfigParams, MalformedConfig, REQUESTER, quote,
};
use teleport_testkit::Testkit;

/// The SMTP user and password: the password is distinctive, so that any part of it in a log
/// is found.
const USER: &str = "mailer";
const PASSWORD: &str = "smtp-pass-SECRET-7d3e90b1c4";
/// Where every request goes.
const RECIPIENTS: [&str; 2] = ["admin@example.com", "ops@example.com"];

struct EmailWorld {
    server: SmtpServer,
}

impl EmailWorld {
    /// `[smtp]` with these credential lines, `[delivery]` and the recipients.
    fn sections(&self, credentials: &str) -> String {
        format!(
            "[smtp]\nhost = \"localhost\"\nport = {port}\nstarttls_policy = \"opportunistic\"\n{credentials}\n\n\
             [delivery]\nsender = {sender}\n\n[role_to_recipients]\n\"*\" = [\"{}\", \"{}\"]\n",
            RECIPIENTS[0],
            RECIPIENTS[1],
            port = self.server.port(),
            sender = quote(SENDER),
        )
    }

    /// The mails of this request (its ID ends the subject) to reviewers, not the requester.
    fn mails(&self, request_id: &str) -> Vec<Received> {
        self.server
            .messages()
            .into_iter()
            .filter(|m| {
                m.header("Subject")
                    .is_some_and(|subject| subject.ends_with(request_id))
            })
            .filter(|m| m.to.iter().all(|to| to != REQUESTER))
            .collect()
    }
}

impl ComplianceWorld for EmailWorld {
    const BINARY: &'static str = env!("CARGO_BIN_EXE_teleport-email");
    const PLUGIN: &'static str = "email";

    async fn start(_kit: &Testkit, _dir: &Path) -> Self {
        let server = SmtpServer::start(SmtpOptions {
            credentials: Some((USER.into(), PASSWORD.into())),
            ..SmtpOptions::default()
        })
        .await;
        Self { server }
    }

    fn config(&self, params: &ConfigParams) -> String {
        let credentials = format!("username = {}\npassword = {}", quote(USER), quote(PASSWORD));
        params.shared_sections() + &self.sections(&credentials)
    }

    fn recipients(&self) -> Vec<String> {
        RECIPIENTS.map(String::from).to_vec()
    }

    /// The first mail of a thread (no `In-Reply-To`) per recipient.
    fn deliveries(&self, request_id: &str) -> Vec<String> {
        self.mails(request_id)
            .into_iter()
            .filter(|m| m.header("In-Reply-To").is_none())
            .flat_map(|m| m.to)
            .collect()
    }

    /// Every recipient got the resolution as a reply in their thread.
    fn shows_approved(&self, request_id: &str) -> bool {
        let resolved: Vec<String> = self
            .mails(request_id)
            .into_iter()
            .filter(|m| m.header("In-Reply-To").is_some())
            .filter(|m| {
                let (text, _) = parts(&m.data);
                text.contains("has been resolved") && text.contains("✅ APPROVED")
            })
            .flat_map(|m| m.to)
            .collect();
        RECIPIENTS.iter().all(|r| resolved.iter().any(|to| to == r))
    }

    /// New connections are greeted with `421` (the plugin opens one per mail).
    fn refuse_sends(&self, refuse: bool) {
        self.server.set_unavailable(refuse);
    }

    fn secrets(&self) -> Vec<String> {
        vec![PASSWORD.to_owned()]
    }

    fn malformed_configs(&self, params: &ConfigParams) -> Vec<MalformedConfig> {
        let shared = params.shared_sections();
        let with_credentials = |lines: &str| shared.clone() + &self.sections(lines);
        let password = format!("password = {}", quote(PASSWORD));
        vec![
            MalformedConfig::new(
                "password file missing",
                with_credentials(
                    "username = \"mailer\"\npassword_file = \"/nonexistent/smtp-password\"",
                ),
                &["smtp.password_file", "/nonexistent/smtp-password"],
            ),
            MalformedConfig::new(
                "no transport",
                format!(
                    "{shared}[delivery]\nsender = {}\n\n[role_to_recipients]\n\"*\" = \"admin@example.com\"\n",
                    quote(SENDER)
                ),
                &["smtp", "[mailgun]"],
            ),
            MalformedConfig::new(
                "recipient not an e-mail address",
                with_credentials(&format!("username = \"mailer\"\n{password}"))
                    .replace("\"admin@example.com\"", "\"admins\""),
                &["role_to_recipients.\"*\"[0]"],
            ),
            MalformedConfig::new(
                "sender missing",
                with_credentials(&format!("username = \"mailer\"\n{password}"))
                    .replace(&format!("sender = {}", quote(SENDER)), ""),
                &["delivery.sender"],
            ),
        ]
    }
}

teleport_plugin_testsupport::compliance_suite!(EmailWorld);
