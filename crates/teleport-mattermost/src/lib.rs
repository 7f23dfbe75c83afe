//! Teleport access-request plugin for Mattermost: posts each request to the configured
//! channels and people, replies with the reviews, and edits in the outcome.

pub mod bot;
pub mod client;
pub mod config;
pub mod record;
pub mod render;

use anyhow::Context;
use teleport_plugin_runtime::cli::NoExtraArgs;
use teleport_plugin_runtime::config::Loaded;
use teleport_plugin_runtime::http::user_agent_client_with_ca;
use teleport_plugin_runtime::messaging::{MessagingPlugin, run_messaging};
use teleport_plugin_runtime::plugin::Plugin;
use tokio_util::sync::CancellationToken;

use crate::bot::MattermostBot;
use crate::client::MattermostApi;
use crate::config::{Config, MattermostFile};

/// The plugin's name: its plugin-data namespace and the `teleport-<name>` binary.
pub const PLUGIN_NAME: &str = "mattermost";

/// The Mattermost plugin, for the runtime's CLI.
pub struct MattermostPlugin;

impl Plugin for MattermostPlugin {
    const NAME: &'static str = PLUGIN_NAME;
    const SAMPLE_CONFIG: &'static str = include_str!("sample.toml");
    type File = MattermostFile;
    type Args = NoExtraArgs;
    type Config = Config;

    fn config(loaded: Loaded<MattermostFile>, _args: NoExtraArgs) -> anyhow::Result<Config> {
        Ok(Config::from_loaded(loaded)?)
    }

    async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
        run(config, stop).await
    }
}

/// Connects to Teleport and Mattermost, checks the bot's access, and relays access requests
/// until `stop` is cancelled or a fatal error.
pub async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
    let http = user_agent_client_with_ca(
        &config.runtime.user_agent,
        config.mattermost.ca_file.clone(),
    )?;
    let api = MattermostApi::new(
        http,
        &config.mattermost.url,
        config.mattermost.token.clone(),
    )
    .context("[mattermost] url")?;
    let bot = MattermostBot::new(api, config.role_to_recipients.clone());
    let plugin = MessagingPlugin {
        name: PLUGIN_NAME,
        role_to_recipients: config.role_to_recipients,
        notify_requester: config.mattermost.notify_requester,
        // The Go plugin never did.
        requester_sees_request: false,
    };
    run_messaging(config.runtime, plugin, bot, stop).await
}
