//! Teleport access-request plugin for Mattermost, built on the shared plugin runtime.

pub mod bot;
pub mod config;
pub mod mattermost_api;
pub mod render;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use teleport_plugin_runtime::app::{self, PluginContext, RunOptions};
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
use teleport_plugin_runtime::messaging::{MessagingApp, MessagingOptions};
use tokio_util::sync::CancellationToken;

use crate::bot::MattermostBot;
use crate::config::Config;
use crate::mattermost_api::MattermostApi;

/// The plugin's name: its plugin-data namespace and the `teleport-<name>` binary.
pub const PLUGIN_NAME: &str = "mattermost";

/// The example config printed by `configure`.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

/// How long this replica may work on a request without saving progress before another
/// replica takes over.
const LEASE: Duration = Duration::from_secs(30);

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
    let recipients = config.role_to_recipients.clone();
    let options = RunOptions {
        ops_listen: config.ops.listen_addr,
        ..RunOptions::default()
    };
    let make_handler = move |ctx: PluginContext| async move {
        let bot = MattermostBot::connect(api, &recipients).await?;
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
    // A failed start-up check returns early; stop what the runtime already started.
    stop.cancel();
    result
}
