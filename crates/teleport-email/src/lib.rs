//! Teleport access-request plugin for e-mail (SMTP or Mailgun): one mail thread per
//! recipient, replies for the reviews and the outcome.

pub mod bot;
pub mod client;
pub mod config;
pub mod record;
pub mod render;

use teleport_plugin_runtime::cli::NoExtraArgs;
use teleport_plugin_runtime::config::Loaded;
use teleport_plugin_runtime::http::user_agent_client;
use teleport_plugin_runtime::messaging::{MessagingPlugin, run_messaging};
use teleport_plugin_runtime::plugin::Plugin;
use tokio_util::sync::CancellationToken;

use crate::bot::EmailBot;
use crate::client::Mailer;
use crate::client::mailgun::MailgunMailer;
use crate::client::smtp::SmtpMailer;
use crate::config::{Config, EmailFile, Transport};

/// The plugin's name: its plugin-data namespace and the `teleport-<name>` binary.
pub const PLUGIN_NAME: &str = "email";

/// The e-mail plugin, for the runtime's CLI.
pub struct EmailPlugin;

impl Plugin for EmailPlugin {
    const NAME: &'static str = PLUGIN_NAME;
    const SAMPLE_CONFIG: &'static str = include_str!("sample.toml");
    type File = EmailFile;
    type Args = NoExtraArgs;
    type Config = Config;

    fn config(loaded: Loaded<EmailFile>, _args: NoExtraArgs) -> anyhow::Result<Config> {
        Ok(Config::from_loaded(loaded)?)
    }

    async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
        run(config, stop).await
    }
}

/// Connects to Teleport, checks the transport, and mails access requests until `stop` is
/// cancelled or a fatal error.
pub async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
    let mailer = match config.transport()? {
        Transport::Smtp(settings) => {
            tracing::info!(host = %settings.host, port = settings.port, "using SMTP as the e-mail transport");
            Mailer::Smtp(SmtpMailer::new(&settings)?)
        }
        Transport::Mailgun(settings) => {
            tracing::info!(domain = %settings.domain, api_base = %settings.api_base, "using Mailgun as the e-mail transport");
            let http = user_agent_client(&config.runtime.user_agent)?;
            Mailer::Mailgun(MailgunMailer::new(http, settings))
        }
    };
    let bot = EmailBot::new(mailer, config.sender.clone());
    let plugin = MessagingPlugin {
        name: PLUGIN_NAME,
        role_to_recipients: config.role_to_recipients,
        notify_requester: config.notify_requester,
        // The Go plugin never did.
        requester_sees_request: false,
    };
    run_messaging(config.runtime, plugin, bot, stop).await
}
