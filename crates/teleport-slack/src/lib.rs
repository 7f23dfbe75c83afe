//! Teleport access-request plugin for Slack: posts each request to the right
//! channels and people, threads the reviews, and marks the outcome.

pub mod bot;
pub mod config;
pub mod render;
pub mod slack_api;

use std::sync::Arc;

use anyhow::Context;
use teleport_plugin_runtime::app::{self, MessagingPlugin};
use teleport_plugin_runtime::config::Loaded;
use teleport_plugin_runtime::tls;
use tokio_util::sync::CancellationToken;

use crate::bot::SlackBot;
use crate::config::SlackPluginConfig;
use crate::slack_api::{SlackApi, SlackApiConfig, SlackToken};

/// The plugin-data namespace, shared with the Go plugin.
pub const PLUGIN_NAME: &str = "slack";

/// Runs the plugin until `stop` is cancelled or a fatal error.
pub async fn run(loaded: Loaded<SlackPluginConfig>, stop: CancellationToken) -> anyhow::Result<()> {
    let role_to_recipients = loaded.require_role_to_recipients()?.clone();
    let section = &loaded.plugin.slack;
    if !(section.api_url().starts_with("https://") || section.api_url().starts_with("http://")) {
        return Err(loaded
            .key_error("slack.apiurl", "expected an http:// or https:// URL")
            .into());
    }
    app::check_credentials(&loaded.teleport)?;
    if section.recipients.is_some() {
        tracing::warn!(
            "slack.recipients is ignored (as by the Go plugin since v11); use [role_to_recipients]"
        );
    }
    let tls = tls::client_tls_config(section.ca_file.as_deref())
        .context("cannot set up TLS for the Slack API")?;
    let api_config = SlackApiConfig::new(SlackToken::new(section.token.expose()))
        .with_api_url(section.api_url());
    let api = SlackApi::with_tls_config(Arc::new(tls), api_config);
    let identity = api
        .auth_test()
        .await
        .context("Slack API health check failed")?;
    tracing::info!(team = %identity.team, bot_user = %identity.user_id, "Slack token works");
    let bot = SlackBot::new(api);
    let plugin = MessagingPlugin {
        name: PLUGIN_NAME,
        role_to_recipients,
        notify_requester: section.notify_requester,
        ops: loaded.plugin.ops.clone(),
    };
    app::run_messaging(&loaded.teleport, plugin, |_| async { Ok(bot) }, stop).await
}
