//! Teleport access-request plugin for Mattermost, built on the shared plugin runtime.

pub mod bot;
pub mod config;
pub mod mattermost_api;
pub mod render;

use anyhow::Context;
use teleport_plugin_runtime::app::{self, MessagingPlugin, PluginContext};
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
use tokio_util::sync::CancellationToken;

use crate::bot::MattermostBot;
use crate::config::Config;
use crate::mattermost_api::MattermostApi;

/// The plugin's name: its plugin-data namespace and the `teleport-<name>` binary.
pub const PLUGIN_NAME: &str = "mattermost";

/// The example config printed by `configure`.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

/// Connects to Teleport and Mattermost, checks the bot's access, and relays access requests
/// until `stop` is cancelled (or, without a token, until SIGTERM/SIGINT).
pub async fn run(
    config: Config,
    user_agent: String,
    stop: Option<CancellationToken>,
) -> anyhow::Result<()> {
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    app::check_credentials(&config.teleport)?;
    let http = http_client(&HttpClientOptions {
        user_agent: Some(user_agent),
        extra_ca: config.mattermost.ca_file.clone(),
        ..HttpClientOptions::default()
    })?;
    let notify_requester = config.mattermost.notify_requester;
    let api = MattermostApi::new(
        http,
        &config.mattermost.url,
        config.mattermost.token.clone(),
    )
    .context("[mattermost] url")?;
    let plugin = MessagingPlugin {
        name: PLUGIN_NAME,
        role_to_recipients: config.role_to_recipients.clone(),
        notify_requester,
        ops: config.ops.clone(),
    };
    let recipients = config.role_to_recipients.clone();
    let make_bot =
        move |_: &PluginContext| async move { Ok(MattermostBot::connect(api, &recipients).await?) };
    let stop = stop.unwrap_or_else(app::stop_on_signals);
    let result = app::run_messaging(&config.teleport, plugin, make_bot, stop.clone()).await;
    // A failed start-up check returns early; stop what the runtime already started.
    stop.cancel();
    result
}
