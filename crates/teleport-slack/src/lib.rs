//! Teleport access-request plugin for Slack: posts each request to the right channels and
//! people, threads the reviews, and marks the outcome.

pub mod bot;
pub mod client;
pub mod config;
pub mod record;
pub mod render;
pub mod review;

use std::sync::Arc;

use anyhow::Context;
use teleport_plugin_runtime::app::PluginContext;
use teleport_plugin_runtime::cli::NoExtraArgs;
use teleport_plugin_runtime::config::Loaded;
use teleport_plugin_runtime::messaging::{MessagingPlugin, run_messaging_with_companions};
use teleport_plugin_runtime::plugin::Plugin;
use teleport_plugin_runtime::tls;
use tokio_util::sync::CancellationToken;

use crate::bot::SlackBot;
use crate::client::{SlackApi, SlackApiConfig, SlackToken};
use crate::config::{Config, SlackFile};

/// The plugin-data namespace, shared with the Go plugin.
pub const PLUGIN_NAME: &str = "slack";

/// The Slack plugin, for the runtime's CLI.
pub struct SlackPlugin;

impl Plugin for SlackPlugin {
    const NAME: &'static str = PLUGIN_NAME;
    const SAMPLE_CONFIG: &'static str = include_str!("sample.toml");
    type File = SlackFile;
    type Args = NoExtraArgs;
    type Config = Config;

    fn config(loaded: Loaded<SlackFile>, _args: NoExtraArgs) -> anyhow::Result<Config> {
        Ok(Config::from_loaded(loaded)?)
    }

    async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
        run(config, stop).await
    }
}

/// Runs the plugin until `stop` is cancelled or a fatal error.
pub async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
    let tls = Arc::new(
        tls::client_tls_config(config.slack.ca_file.as_deref())
            .context("cannot set up TLS for the Slack API")?,
    );
    let api_config = || {
        SlackApiConfig::new(SlackToken::new(config.slack.token.expose()))
            .with_api_url(&config.slack.api_url)
    };
    let bot = SlackBot::new(SlackApi::with_tls_config(tls.clone(), api_config()))
        .with_review_buttons(config.review.is_some());
    let plugin = MessagingPlugin {
        name: PLUGIN_NAME,
        role_to_recipients: config.role_to_recipients,
        notify_requester: config.slack.notify_requester,
        // Go's Slack plugin sends the request to the requester too.
        requester_sees_request: config.slack.notify_requester,
    };
    // The buttons' Socket Mode client starts once Slack and Teleport answered, beside the
    // watch; without `[review]` there is nothing to start.
    let review = config.review;
    let review_api = Arc::new(SlackApi::with_tls_config(tls.clone(), api_config()));
    let companions = move |ctx: &PluginContext| {
        let started = match review {
            Some(review) => review::start(
                ctx.client.clone(),
                review_api,
                tls,
                review,
                ctx.stop.clone(),
            ),
            None => Vec::new(),
        };
        std::future::ready(Ok(started))
    };
    run_messaging_with_companions(config.runtime, plugin, bot, companions, stop).await
}
