//! Teleport access-request plugin for Datadog Incident Management, built on the shared plugin
//! runtime: an incident per request for the teams and people `role_to_recipients` names, a
//! timeline cell per review, the incident resolved with the request, and approval of
//! requesters who are on call in the Datadog On-Call teams the request names. A drop-in for
//! Go's `teleport-datadog`: its config file and its plugin data are read unchanged.

pub mod approval;
pub mod client;
pub mod config;
pub mod handler;
pub mod record;
pub mod render;

use anyhow::Context;
use teleport_plugin_runtime::app::PluginContext;
use teleport_plugin_runtime::cli::NoExtraArgs;
use teleport_plugin_runtime::config::Loaded;
use teleport_plugin_runtime::http::user_agent_client;
use teleport_plugin_runtime::incident::run_incident;
use teleport_plugin_runtime::plugin::Plugin;
use tokio_util::sync::CancellationToken;

use crate::client::DatadogApi;
use crate::config::{Config, DatadogFile};
use crate::handler::{Datadog, HandlerSettings};

/// The plugin-data namespace, shared with the Go plugin.
pub const PLUGIN_NAME: &str = "datadog";

/// The Datadog plugin, for the runtime's CLI.
pub struct DatadogPlugin;

impl Plugin for DatadogPlugin {
    const NAME: &'static str = PLUGIN_NAME;
    const SAMPLE_CONFIG: &'static str = include_str!("sample.toml");
    type File = DatadogFile;
    type Args = NoExtraArgs;
    type Config = Config;

    fn config(loaded: Loaded<DatadogFile>, _args: NoExtraArgs) -> anyhow::Result<Config> {
        Ok(Config::from_loaded(loaded)?)
    }

    async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
        run(config, stop).await
    }
}

/// Connects to Teleport and Datadog, checks the keys and the `incident_write` permission, and
/// handles access requests until `stop` is cancelled or a fatal error.
pub async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
    let datadog = config.datadog;
    let role_to_recipients = config.role_to_recipients;
    let http = user_agent_client(&config.runtime.user_agent)?;
    let api = DatadogApi::new(
        http,
        &datadog.api_endpoint,
        datadog.api_key.clone(),
        datadog.application_key.clone(),
    )
    .context("[datadog] api_endpoint, api_key and application_key")?;
    tracing::info!(endpoint = %datadog.api_endpoint, "using the Datadog API");
    let service = |ctx: &PluginContext| {
        let settings = HandlerSettings {
            datadog,
            role_to_recipients,
            rules: ctx.rules.clone(),
            cluster: ctx.cluster.cluster_name.clone(),
            web_base: ctx.web_base(),
        };
        Datadog::new(api, settings)
    };
    run_incident(PLUGIN_NAME, config.runtime, service, stop).await
}
