//! Teleport access-request plugin for ServiceNow, built on the shared plugin runtime: an
//! incident per request, a work note per review, the incident resolved (or closed, when
//! denied) with the request, and approval of requesters who are on call in the rotas their
//! roles name.

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

use crate::client::ServiceNowApi;
use crate::config::{Config, ServiceNowFile};
use crate::handler::ServiceNow;

/// The plugin-data namespace, shared with the Go plugin.
pub const PLUGIN_NAME: &str = "servicenow";

/// The ServiceNow plugin, for the runtime's CLI.
pub struct ServiceNowPlugin;

impl Plugin for ServiceNowPlugin {
    const NAME: &'static str = PLUGIN_NAME;
    const SAMPLE_CONFIG: &'static str = include_str!("sample.toml");
    type File = ServiceNowFile;
    type Args = NoExtraArgs;
    type Config = Config;

    fn config(loaded: Loaded<ServiceNowFile>, _args: NoExtraArgs) -> anyhow::Result<Config> {
        Ok(Config::from_loaded(loaded)?)
    }

    async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
        run(config, stop).await
    }
}

/// Connects to Teleport and ServiceNow, checks the credentials, and handles access requests
/// until `stop` is cancelled or a fatal error.
pub async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
    let settings = config.servicenow;
    let http = user_agent_client(&config.runtime.user_agent)?;
    let api = ServiceNowApi::new(
        http,
        &settings.api_endpoint,
        &settings.username,
        settings.api_token.clone(),
    )
    .context("[servicenow] api_endpoint")?;
    tracing::info!(instance = %settings.api_endpoint, "using the ServiceNow instance");
    let mut runtime = config.runtime;
    // Access monitoring rules name who an incident is assigned to, as in Go.
    runtime.access_monitoring_rules = true;
    let service = |ctx: &PluginContext| {
        let context = handler::Context {
            web_base: ctx.web_base(),
            cluster_name: ctx.cluster.cluster_name.clone(),
            rules: ctx.rules.clone(),
        };
        ServiceNow::new(api, settings, context)
    };
    run_incident(PLUGIN_NAME, runtime, service, stop).await
}
