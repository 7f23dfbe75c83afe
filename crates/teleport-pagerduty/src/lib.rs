//! Teleport access-request plugin for PagerDuty, built on the shared plugin runtime: an
//! incident per request on the service its role names, a note per review, the incident
//! resolved with the request, and approval of requesters who are on call.

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

use crate::client::PagerDutyApi;
use crate::config::{Config, PagerDutyFile};
use crate::handler::{HandlerOptions, PagerDuty};

/// The plugin-data namespace, shared with the Go plugin.
pub const PLUGIN_NAME: &str = "pagerduty";

/// The PagerDuty plugin, for the runtime's CLI.
pub struct PagerDutyPlugin;

impl Plugin for PagerDutyPlugin {
    const NAME: &'static str = PLUGIN_NAME;
    const SAMPLE_CONFIG: &'static str = include_str!("sample.toml");
    type File = PagerDutyFile;
    type Args = NoExtraArgs;
    type Config = Config;

    fn config(loaded: Loaded<PagerDutyFile>, _args: NoExtraArgs) -> anyhow::Result<Config> {
        Ok(Config::from_loaded(loaded)?)
    }

    async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
        run(config, stop).await
    }
}

/// Connects to Teleport and PagerDuty, checks the API key and the `From` user, and handles
/// access requests until `stop` is cancelled or a fatal error.
pub async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
    let settings = config.pagerduty;
    let http = user_agent_client(&config.runtime.user_agent)?;
    let api = PagerDutyApi::new(
        http,
        &settings.api_endpoint,
        &settings.api_key,
        &settings.user_email,
    )
    .context("[pagerduty]")?;
    tracing::info!(endpoint = %settings.api_endpoint, "using the PagerDuty REST API");
    run_incident(
        PLUGIN_NAME,
        config.runtime,
        |ctx| PagerDuty::new(api, HandlerOptions::new(&settings, ctx.web_base())),
        stop,
    )
    .await
}
