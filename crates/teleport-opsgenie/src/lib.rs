//! Teleport access-request plugin for Opsgenie, built on the shared plugin runtime: an alert
//! per request for the schedules and teams its roles name, a note per review, the alert
//! closed with the request, and approval of requesters who are on call.

pub mod approval;
pub mod client;
pub mod config;
pub mod handler;
pub mod record;
pub mod render;

use anyhow::Context;
use teleport_plugin_runtime::cli::NoExtraArgs;
use teleport_plugin_runtime::config::Loaded;
use teleport_plugin_runtime::http::user_agent_client;
use teleport_plugin_runtime::incident::run_incident;
use teleport_plugin_runtime::plugin::Plugin;
use tokio_util::sync::CancellationToken;

use crate::client::OpsgenieApi;
use crate::config::{Config, OpsgenieFile};
use crate::handler::Opsgenie;

/// The plugin-data namespace, shared with the Go plugin.
pub const PLUGIN_NAME: &str = "opsgenie";

/// The Opsgenie plugin, for the runtime's CLI.
pub struct OpsgeniePlugin;

impl Plugin for OpsgeniePlugin {
    const NAME: &'static str = PLUGIN_NAME;
    const SAMPLE_CONFIG: &'static str = include_str!("sample.toml");
    type File = OpsgenieFile;
    type Args = NoExtraArgs;
    type Config = Config;

    fn config(loaded: Loaded<OpsgenieFile>, _args: NoExtraArgs) -> anyhow::Result<Config> {
        Ok(Config::from_loaded(loaded)?)
    }

    async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
        run(config, stop).await
    }
}

/// Connects to Teleport and Opsgenie, checks the API key, and handles access requests until
/// `stop` is cancelled or a fatal error.
pub async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
    let settings = config.opsgenie;
    let http = user_agent_client(&config.runtime.user_agent)?;
    let api = OpsgenieApi::new(http, &settings.api_endpoint, settings.api_key.clone())
        .context("[opsgenie] api_endpoint")?;
    tracing::info!(endpoint = %settings.api_endpoint, "using the Opsgenie API");
    run_incident(
        PLUGIN_NAME,
        config.runtime,
        |ctx| Opsgenie::new(api, settings, ctx.web_base()),
        stop,
    )
    .await
}
