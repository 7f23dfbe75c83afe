//! Start-up and lifetime of a plugin process: connect, check, watch, serve
//! the ops endpoint, and shut down gracefully on SIGTERM / SIGINT.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use teleport_client::{ClientConfig, ClusterInfo, TeleportClient, WatchOptions};
use tokio_util::sync::CancellationToken;

use crate::config::{CredentialsSource, RoleToRecipients, TeleportConfig};
use crate::dispatch::{DispatchOptions, Dispatcher, RequestHandler};
use crate::messaging::{MessagingApp, MessagingBot, MessagingOptions};
use crate::metrics::Metrics;
use crate::ops::{OpsServer, Readiness};
use crate::watcher::{FAIL_FAST_ENV, Watcher};

/// The oldest Teleport the plugins work with (as in Go).
pub const MIN_SERVER_VERSION: (u64, u64, u64) = (6, 1, 0);
/// How long start-up may wait for Teleport to answer.
const INIT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a graceful shutdown may take before in-flight work is dropped.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(15);

/// What a plugin's handler factory gets.
pub struct PluginContext {
    /// The connected Teleport client.
    pub client: TeleportClient,
    /// What the cluster said on Ping.
    pub cluster: ClusterInfo,
    /// The process's metrics.
    pub metrics: Metrics,
    /// This process's identity in leases (unique per process).
    pub replica_id: String,
    /// Cancelled when the process shuts down.
    pub stop: CancellationToken,
}

impl PluginContext {
    /// `https://<proxy>` for links to requests, when the cluster supports them.
    pub fn web_base(&self) -> Option<String> {
        web_base(&self.cluster)
    }
}

/// `[ops]`: where to serve health and metrics (ours; the Go plugins have none).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsConfig {
    /// `listen_addr = "0.0.0.0:8080"`; unset = not served.
    #[serde(default)]
    pub listen_addr: Option<SocketAddr>,
}

/// Process-level settings.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Where to serve `/healthz`, `/readyz`, `/metrics` (none = not served).
    pub ops_listen: Option<SocketAddr>,
    /// Dispatcher limits.
    pub dispatch: DispatchOptions,
    /// Watch settings.
    pub watch: WatchOptions,
}

/// Connects to Teleport, builds the handler, and runs until a signal or a
/// fatal error. Returns Ok after a graceful shutdown.
pub async fn run<H, F, Fut>(
    teleport: &TeleportConfig,
    options: RunOptions,
    make_handler: F,
) -> anyhow::Result<()>
where
    H: RequestHandler,
    F: FnOnce(PluginContext) -> Fut,
    Fut: Future<Output = anyhow::Result<H>>,
{
    run_until(teleport, options, make_handler, stop_on_signals()).await
}

/// [`run`] with an external stop token instead of signals (tests, embedding).
pub async fn run_until<H, F, Fut>(
    teleport: &TeleportConfig,
    options: RunOptions,
    make_handler: F,
    stop: CancellationToken,
) -> anyhow::Result<()>
where
    H: RequestHandler,
    F: FnOnce(PluginContext) -> Fut,
    Fut: Future<Output = anyhow::Result<H>>,
{
    let client = connect(teleport)?;
    let identity = client.identity();
    tracing::info!(user = identity.username(), not_after = %identity.not_after(), addr = teleport.addr(), "loaded Teleport credentials");
    let cluster = tokio::select! {
        cluster = ping_until_ready(&client) => cluster?,
        () = stop.cancelled() => return Ok(()),
    };
    check_version(&cluster.server_version)?;
    tracing::info!(cluster = %cluster.cluster_name, version = %cluster.server_version, "connected to Teleport");

    let metrics = Metrics::new();
    let readiness = Readiness::default();
    let ops_task = match options.ops_listen {
        Some(addr) => {
            let server = OpsServer::bind(addr, readiness.clone(), metrics.clone())
                .await
                .with_context(|| format!("cannot listen on {addr} for health and metrics"))?;
            tracing::info!(addr = %server.local_addr()?, "serving /healthz, /readyz and /metrics");
            Some(tokio::spawn(server.serve(stop.clone())))
        }
        None => None,
    };
    spawn_identity_gauge(client.clone(), metrics.clone(), stop.clone());

    let context = PluginContext {
        client: client.clone(),
        cluster,
        metrics: metrics.clone(),
        replica_id: replica_id(),
        stop: stop.clone(),
    };
    let handler = match make_handler(context).await {
        Ok(handler) => handler,
        Err(error) => {
            // Stops the ops server and the background tasks started above.
            stop.cancel();
            return Err(error);
        }
    };
    let dispatcher = Dispatcher::new(Arc::new(handler), options.dispatch, metrics.clone());
    let watcher = Watcher {
        client,
        dispatcher: dispatcher.clone(),
        readiness,
        metrics,
        options: options.watch,
        fail_fast: std::env::var(FAIL_FAST_ENV).is_ok_and(|v| v == "true" || v == "1"),
    };
    let result = watcher.run(stop.clone()).await;
    stop.cancel();
    if tokio::time::timeout(SHUTDOWN_TIMEOUT, dispatcher.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "in-flight work did not finish within {SHUTDOWN_TIMEOUT:?}; stopping anyway"
        );
    }
    if let Some(task) = ops_task {
        let _ = task.await;
    }
    result.context("watching Teleport access requests failed")?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Reads and validates the configured credentials (files present, PEM blocks
/// right, key matching, not expired) without any network call, so that a
/// plugin can report them before checking its own service.
pub fn check_credentials(teleport: &TeleportConfig) -> anyhow::Result<()> {
    let (credentials, _) = client_credentials(teleport)?;
    let identity = credentials.load()?;
    tracing::debug!(user = identity.username(), not_after = %identity.not_after(), "Teleport credentials are valid");
    Ok(())
}

fn client_credentials(
    teleport: &TeleportConfig,
) -> anyhow::Result<(teleport_client::CredentialsSource, Option<Duration>)> {
    Ok(match teleport.credentials()? {
        CredentialsSource::IdentityFile { path, refresh } => (
            teleport_client::CredentialsSource::IdentityFile(path),
            refresh,
        ),
        CredentialsSource::TlsFiles { cert, key, cas } => (
            teleport_client::CredentialsSource::TlsFiles { cert, key, cas },
            None,
        ),
    })
}

/// What a messaging plugin tells [`run_messaging`] about itself.
#[derive(Clone, Debug)]
pub struct MessagingPlugin {
    /// The plugin-data namespace (`slack`, `mattermost`, `email`).
    pub name: &'static str,
    /// Who gets which requests.
    pub role_to_recipients: RoleToRecipients,
    /// DM / mail the requester the decision.
    pub notify_requester: bool,
    /// `[ops]`.
    pub ops: OpsConfig,
}

/// How long a replica may work on a request without saving progress before
/// another replica takes it over.
pub const MESSAGING_LEASE: Duration = Duration::from_secs(30);

/// Runs a messaging plugin: connects to Teleport, builds the bot with
/// `make_bot` (after Teleport answered, so a bot may check things against the
/// cluster), and relays requests through the shared [`MessagingApp`] until
/// `stop` is cancelled.
pub async fn run_messaging<B, F, Fut>(
    teleport: &TeleportConfig,
    plugin: MessagingPlugin,
    make_bot: F,
    stop: CancellationToken,
) -> anyhow::Result<()>
where
    B: MessagingBot,
    F: FnOnce(&PluginContext) -> Fut,
    Fut: Future<Output = anyhow::Result<B>>,
{
    let options = RunOptions {
        ops_listen: plugin.ops.listen_addr,
        ..RunOptions::default()
    };
    let make_handler = move |ctx: PluginContext| async move {
        let bot = make_bot(&ctx).await?;
        let options = MessagingOptions {
            plugin_name: plugin.name.to_owned(),
            cluster: ctx.cluster.cluster_name.clone(),
            web_base: ctx.web_base(),
            role_to_recipients: plugin.role_to_recipients,
            notify_requester: plugin.notify_requester,
            replica_id: ctx.replica_id.clone(),
            lease: MESSAGING_LEASE,
        };
        Ok(MessagingApp::new(
            Arc::new(bot),
            ctx.client,
            options,
            ctx.metrics,
        ))
    };
    run_until(teleport, options, make_handler, stop).await
}

/// Builds the Teleport client from `[teleport]`.
pub fn connect(teleport: &TeleportConfig) -> anyhow::Result<TeleportClient> {
    let (credentials, refresh) = client_credentials(teleport)?;
    let mut config = ClientConfig::new(teleport.addr(), credentials);
    // Even without refresh_identity, re-reading now and then costs nothing and
    // lets a renewed identity take effect.
    config.refresh_interval = Some(refresh.unwrap_or(Duration::from_secs(60)));
    Ok(TeleportClient::new(config)?)
}

async fn ping_until_ready(client: &TeleportClient) -> anyhow::Result<ClusterInfo> {
    let deadline = tokio::time::Instant::now() + INIT_TIMEOUT;
    let mut backoff = teleport_client::backoff::DecorrelatedJitter::new(
        Duration::from_millis(100),
        Duration::from_secs(3),
    );
    loop {
        match client.ping().await {
            Ok(info) => return Ok(info),
            Err(error)
                if error.is_connection_problem() && tokio::time::Instant::now() < deadline =>
            {
                tracing::warn!(%error, "Teleport is not reachable yet; retrying");
                tokio::time::sleep(backoff.next_delay()).await;
            }
            Err(error) => return Err(error).context("cannot reach Teleport"),
        }
    }
}

fn check_version(version: &str) -> anyhow::Result<()> {
    let core = version
        .trim_start_matches('v')
        .split(['-', '+'])
        .next()
        .unwrap_or_default();
    let mut parts = core.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let found = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    if found < MIN_SERVER_VERSION {
        let (a, b, c) = MIN_SERVER_VERSION;
        anyhow::bail!(
            "Teleport server version {version} is too old: at least {a}.{b}.{c} is required"
        );
    }
    Ok(())
}

/// `https://<proxy public addr>` (":443" dropped) when the cluster has advanced workflows.
pub fn web_base(cluster: &ClusterInfo) -> Option<String> {
    if !cluster.advanced_access_workflows || cluster.proxy_public_addr.is_empty() {
        return None;
    }
    let addr = cluster.proxy_public_addr.trim_end_matches('/');
    let addr = addr.strip_suffix(":443").unwrap_or(addr);
    Some(
        if addr.starts_with("https://") || addr.starts_with("http://") {
            addr.to_owned()
        } else {
            format!("https://{addr}")
        },
    )
}

fn replica_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "plugin".into());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

fn spawn_identity_gauge(client: TeleportClient, metrics: Metrics, stop: CancellationToken) {
    tokio::spawn(async move {
        loop {
            let expiry = client.identity().not_after().unix_timestamp() as f64;
            metrics.identity_expiry.set(expiry);
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(30)) => {}
                () = stop.cancelled() => return,
            }
        }
    });
}

/// A token cancelled by SIGTERM or SIGINT (graceful stop); a second SIGINT
/// exits at once. Call from within the Tokio runtime.
pub fn stop_on_signals() -> CancellationToken {
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received; shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received; shutting down (interrupt again to force)"),
        }
        stop.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("second interrupt; exiting now");
            std::process::exit(130);
        }
    });
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_check_accepts_new_and_rejects_old() {
        assert!(check_version("18.0.0").is_ok());
        assert!(check_version("v6.1.0-beta.1").is_ok());
        assert!(check_version("6.0.9").is_err());
    }

    #[test]
    fn web_base_needs_advanced_workflows() {
        let mut cluster = ClusterInfo {
            cluster_name: "c".into(),
            server_version: "18.0.0".into(),
            advanced_access_workflows: false,
            proxy_public_addr: "teleport.example.com:443".into(),
        };
        assert_eq!(web_base(&cluster), None);
        cluster.advanced_access_workflows = true;
        assert_eq!(
            web_base(&cluster).as_deref(),
            Some("https://teleport.example.com")
        );
        cluster.proxy_public_addr = "proxy.example.com:3080".into();
        assert_eq!(
            web_base(&cluster).as_deref(),
            Some("https://proxy.example.com:3080")
        );
    }
}
