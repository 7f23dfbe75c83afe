//! [`run_incident`]: the one entry point of the incident plugins, so that each plugin's
//! `run` only builds its API client and says how its service is made from the context.

use tokio_util::sync::CancellationToken;

use super::{IncidentHandler, IncidentService};
use crate::app::{self, PluginContext, RuntimeConfig};

/// Runs an incident plugin until `stop` is cancelled or a fatal error: `make_service` gets
/// the connected context (web links, cluster name, rules) and returns the plugin's service,
/// whose records are kept in the `plugin` namespace of plugin data.
pub async fn run_incident<S, F>(
    plugin: &'static str,
    runtime: RuntimeConfig,
    make_service: F,
    stop: CancellationToken,
) -> anyhow::Result<()>
where
    S: IncidentService,
    F: FnOnce(&PluginContext) -> S,
{
    app::run(
        runtime,
        move |ctx| Ok(IncidentHandler::in_context(make_service(ctx), ctx, plugin)),
        stop,
    )
    .await
}
