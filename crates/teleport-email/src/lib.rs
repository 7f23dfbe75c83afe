//! Teleport access-request plugin for e-mail (SMTP or Mailgun), built on the shared runtime.

pub mod bot;
pub mod config;
pub mod mailer;
pub mod mailgun;
pub mod render;
pub mod smtp;

use teleport_plugin_runtime::app::{self, MessagingPlugin};
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
use tokio_util::sync::CancellationToken;

use crate::bot::EmailBot;
use crate::config::{Config, Transport};
use crate::mailer::Mailer;
use crate::mailgun::MailgunMailer;
use crate::smtp::SmtpMailer;

/// The plugin's name: its plugin-data namespace and the `teleport-<name>` binary.
pub const PLUGIN_NAME: &str = "email";

/// The example config printed by `configure`.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

/// Checks the transport, connects to Teleport, and mails access requests until `stop` is
/// cancelled (or, without a token, until SIGTERM/SIGINT).
pub async fn run(
    config: Config,
    user_agent: String,
    stop: Option<CancellationToken>,
) -> anyhow::Result<()> {
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    app::check_credentials(&config.teleport)?;
    let mailer = match config.transport()? {
        Transport::Smtp(settings) => {
            tracing::info!(host = %settings.host, port = settings.port, "using SMTP as the e-mail transport");
            let smtp = SmtpMailer::new(&settings)?;
            smtp.check().await?;
            Mailer::Smtp(smtp)
        }
        Transport::Mailgun(settings) => {
            tracing::info!(domain = %settings.domain, api_base = %settings.api_base, "using Mailgun as the e-mail transport");
            let http = http_client(&HttpClientOptions {
                user_agent: Some(user_agent),
                ..HttpClientOptions::default()
            })?;
            Mailer::Mailgun(MailgunMailer::new(http, settings))
        }
    };
    let bot = EmailBot::new(mailer, config.sender.clone());
    let plugin = MessagingPlugin {
        name: PLUGIN_NAME,
        role_to_recipients: config.role_to_recipients.clone(),
        notify_requester: config.notify_requester,
        ops: config.ops.clone(),
    };
    let stop = stop.unwrap_or_else(app::stop_on_signals);
    let result = app::run_messaging(
        &config.teleport,
        plugin,
        |_| async { Ok(bot) },
        stop.clone(),
    )
    .await;
    stop.cancel();
    result
}
