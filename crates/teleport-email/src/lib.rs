//! Teleport access-request plugin for e-mail (SMTP or Mailgun), built on the shared runtime.

pub mod bot;
pub mod config;
pub mod mailer;
pub mod mailgun;
pub mod render;
pub mod smtp;

use std::sync::Arc;
use std::time::Duration;

use teleport_plugin_runtime::app::{self, PluginContext, RunOptions};
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
use teleport_plugin_runtime::messaging::{MessagingApp, MessagingOptions};
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

/// How long this replica may work on a request without saving progress before another
/// replica takes over.
const LEASE: Duration = Duration::from_secs(30);

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
    let recipients = config.role_to_recipients.clone();
    let notify_requester = config.notify_requester;
    let options = RunOptions {
        ops_listen: config.ops.listen_addr,
        ..RunOptions::default()
    };
    let make_handler = move |ctx: PluginContext| async move {
        let options = MessagingOptions {
            plugin_name: PLUGIN_NAME.to_owned(),
            cluster: ctx.cluster.cluster_name.clone(),
            web_base: ctx.web_base(),
            role_to_recipients: recipients,
            notify_requester,
            replica_id: ctx.replica_id.clone(),
            lease: LEASE,
        };
        Ok(MessagingApp::new(
            Arc::new(bot),
            ctx.client.clone(),
            options,
            ctx.metrics.clone(),
        ))
    };
    let stop = stop.unwrap_or_else(app::stop_on_signals);
    let result = app::run_until(&config.teleport, options, make_handler, stop.clone()).await;
    stop.cancel();
    result
}
