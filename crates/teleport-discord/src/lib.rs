//! Teleport access-request plugin for Discord: posts each request to the configured
//! channels, shows the reviews as embeds, and edits in the outcome.

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

use crate::bot::DiscordBot;
use crate::client::DiscordApi;
use crate::config::{Config, DiscordFile};

/// The plugin's name: its plugin-data namespace and the `teleport-<name>` binary.
pub const PLUGIN_NAME: &str = "discord";

/// The Discord plugin, for the runtime's CLI.
pub struct DiscordPlugin;

impl Plugin for DiscordPlugin {
    const NAME: &'static str = PLUGIN_NAME;
    const SAMPLE_CONFIG: &'static str = include_str!("sample.toml");
    type File = DiscordFile;
    type Args = NoExtraArgs;
    type Config = Config;

    fn config(loaded: Loaded<DiscordFile>, _args: NoExtraArgs) -> anyhow::Result<Config> {
        Ok(Config::from_loaded(loaded)?)
    }

    async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
        run(config, stop).await
    }
}

/// Connects to Teleport and Discord, checks the bot's token and channels, and relays access
/// requests until `stop` is cancelled or a fatal error.
pub async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
    let http =
        user_agent_client_with_ca(&config.runtime.user_agent, config.discord.ca_file.clone())?;
    let api = DiscordApi::new(http, &config.discord.api_url, config.discord.token.clone())
        .context("[discord] apiurl")?;
    let bot = DiscordBot::new(api, config.role_to_recipients.clone());
    let plugin = MessagingPlugin {
        name: PLUGIN_NAME,
        role_to_recipients: config.role_to_recipients,
        // Discord bots cannot find a person by their Teleport name or e-mail (as in Go).
        notify_requester: false,
        requester_sees_request: false,
    };
    run_messaging(config.runtime, plugin, bot, stop).await
}
