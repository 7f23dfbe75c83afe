//! Teleport access-request plugin for Microsoft Teams: an adaptive card per request to each
//! recipient (people by e-mail or Entra ID user ID, in their chat with the bot, or channels
//! by link), replaced to show the reviews and the outcome.

pub mod bot;
pub mod client;
pub mod commands;
pub mod config;
pub mod lookup;
pub mod package;
pub mod recipient;
pub mod record;
pub mod render;

use anyhow::Context;
use teleport_plugin_runtime::cli::NoExtraArgs;
use teleport_plugin_runtime::config::Loaded;
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
use teleport_plugin_runtime::messaging::{MessagingPlugin, run_messaging};
use teleport_plugin_runtime::plugin::Plugin;
use tokio_util::sync::CancellationToken;

use crate::bot::TeamsBot;
use crate::client::MsApi;
use crate::config::{Config, MsTeamsFile};

/// The plugin's name: its plugin-data namespace and the `teleport-<name>` binary.
pub const PLUGIN_NAME: &str = "msteams";

/// Go's timeout for a call to the Microsoft APIs.
pub const HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The Teams plugin, for the runtime's CLI.
pub struct MsTeamsPlugin;

impl Plugin for MsTeamsPlugin {
    const NAME: &'static str = PLUGIN_NAME;
    const SAMPLE_CONFIG: &'static str = include_str!("sample.toml");
    type File = MsTeamsFile;
    type Args = NoExtraArgs;
    type Config = Config;

    fn config(loaded: Loaded<MsTeamsFile>, _args: NoExtraArgs) -> anyhow::Result<Config> {
        Ok(Config::from_loaded(loaded)?)
    }

    async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
        run(config, stop).await
    }
}

/// The API client `config` describes (no I/O).
pub fn api(config: &Config) -> anyhow::Result<MsApi> {
    let http = http_client(&HttpClientOptions {
        user_agent: Some(config.runtime.user_agent.clone()),
        extra_ca: config.msapi.ca_file.clone(),
        timeout: HTTP_TIMEOUT,
    })
    .context("[msapi] ca_file")?;
    Ok(MsApi::new(
        http,
        config.msapi.endpoints.clone(),
        config.msapi.credentials.clone(),
    ))
}

/// Connects to Teleport and Microsoft, checks the Teams app (and with `preload` every
/// recipient), and relays access requests until `stop` is cancelled or a fatal error.
pub async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
    let api = api(&config)?;
    let preload = config.preload.then(|| config.role_to_recipients.clone());
    if config.msapi.lookup_posted {
        tracing::info!(
            "lookup_posted: a card posted but never recorded is looked for through Graph before it is posted again (needs Chat.Read.All; ChannelMessage.Read.All for channels)"
        );
    }
    let bot = TeamsBot::new(api, config.msapi.teams_app_id.clone(), preload)
        .looking_up_posted(config.msapi.lookup_posted);
    let plugin = MessagingPlugin {
        name: PLUGIN_NAME,
        role_to_recipients: config.role_to_recipients,
        // Go's Teams plugin tells nobody but the reviewers.
        notify_requester: false,
        requester_sees_request: false,
    };
    run_messaging(config.runtime, plugin, bot, stop).await
}
