//! The lifetime of a plugin process: check the credentials, connect to Teleport, check the
//! plugin's service, serve the ops endpoint, watch and dispatch requests until stopped, and
//! shut down gracefully.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use teleport_client::{ClusterInfo, TeleportClient, WatchOptions};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigWarning, TeleportConfig};
use crate::dispatch::{DispatchOptions, Dispatcher, RequestHandler};
use crate::health::{HealthCheck, check_at_start};
use crate::metrics::Metrics;
use crate::ops::{OpsConfig, OpsServer, Readiness};
use crate::record::{LeasedRecords, RecordCodec};
use crate::reminders;
use crate::routing::RuleCache;
use crate::teleport::{check_credentials, connect, ping_until_ready, web_base};
use crate::watcher::{FAIL_FAST_ENV, Watcher};

/// How long a graceful shutdown may take before in-flight work is dropped.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a replica may work on a request without saving progress before another replica
/// takes it over.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// What every plugin's validated config holds for the runtime.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// The plugin's name: its plugin-data namespace and the notification name access
    /// monitoring rules address it by.
    pub plugin: String,
    /// `[teleport]`.
    pub teleport: TeleportConfig,
    /// `[ops]`.
    pub ops: OpsConfig,
    /// `User-Agent` of outbound HTTP calls: `teleport-<name>/<version>`.
    pub user_agent: String,
    /// Warnings found while validating the plugin's own sections (the loader's own are
    /// logged by the CLI); logged at start.
    pub warnings: Vec<ConfigWarning>,
    /// Timings that are not in the TOML.
    pub tuning: Tuning,
    /// Follow the access monitoring rules that route this plugin's notifications (messaging
    /// plugins): the watch carries rule events and [`PluginContext::rules`] is set.
    pub access_monitoring_rules: bool,
}

impl RuntimeConfig {
    /// The runtime part of plugin `name`'s config, with production timings.
    pub fn new(name: &str, teleport: TeleportConfig, ops: OpsConfig) -> Self {
        Self {
            plugin: name.to_owned(),
            teleport,
            ops,
            user_agent: format!("teleport-{name}/{}", env!("CARGO_PKG_VERSION")),
            warnings: Vec::new(),
            tuning: Tuning::default(),
            access_monitoring_rules: false,
        }
    }
}

/// Timings that are not in the TOML: production defaults; tests shorten them.
#[derive(Clone, Debug)]
pub struct Tuning {
    /// Dispatcher limits and retry backoff.
    pub dispatch: DispatchOptions,
    /// Watch settings.
    pub watch: WatchOptions,
    /// How long a lease on a request lasts without progress.
    pub lease: Duration,
    /// The first look for access-list review reminders after start, and the interval after
    /// it (Go's 30 s and 3 h, each with a seventh of jitter).
    pub reminders: (Duration, Duration),
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            dispatch: DispatchOptions::default(),
            watch: WatchOptions::default(),
            lease: DEFAULT_LEASE,
            reminders: (reminders::FIRST_RUN, reminders::INTERVAL),
        }
    }
}

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
    /// How long a lease lasts without progress.
    pub lease: Duration,
    /// When to look for access-list review reminders (see [`Tuning::reminders`]).
    pub reminders: (Duration, Duration),
    /// The access monitoring rules for this plugin, kept current from the watch, when
    /// [`RuntimeConfig::access_monitoring_rules`] is set.
    pub rules: Option<Arc<RuleCache>>,
    /// Cancelled when the process shuts down.
    pub stop: CancellationToken,
}

impl PluginContext {
    /// `https://<proxy>` for links to requests, when the cluster supports them.
    pub fn web_base(&self) -> Option<String> {
        web_base(&self.cluster)
    }

    /// The request records in the `plugin` namespace of plugin data, through this process's
    /// client, under its replica's leases.
    pub fn leased_records<C: RecordCodec>(&self, plugin: &str) -> LeasedRecords<C> {
        LeasedRecords::new(
            self.client.clone(),
            plugin,
            self.replica_id.clone(),
            self.lease,
        )
    }
}

/// Runs a plugin until `stop` is cancelled (Ok, after a graceful shutdown) or a fatal error:
/// checks the Teleport credentials, connects and pings, builds the handler with
/// `make_handler`, runs its health check, serves the ops endpoint, and watches requests.
pub async fn run<H, F>(
    config: RuntimeConfig,
    make_handler: F,
    stop: CancellationToken,
) -> anyhow::Result<()>
where
    H: RequestHandler + HealthCheck,
    F: FnOnce(&PluginContext) -> anyhow::Result<H>,
{
    run_with_companions(config, make_handler, no_companions, stop).await
}

/// Tasks a plugin runs beside the watch (a webhook listener, a poller, a Socket Mode
/// client), started once its health check passed; each ends when the context's stop token
/// is cancelled.
pub type Companions = Vec<JoinHandle<()>>;

fn no_companions<H>(
    _: &PluginContext,
    _: Arc<H>,
) -> std::future::Ready<anyhow::Result<Companions>> {
    std::future::ready(Ok(Vec::new()))
}

/// How long companion tasks may take to stop after the watch ended.
const COMPANION_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// [`run`] with companion tasks: `start_companions` gets the context and the handler once
/// the health check passed, before the watch starts, and returns the tasks it spawned; they
/// are awaited (for at most 10 s) at shutdown. A failure to start them is fatal.
pub async fn run_with_companions<H, F, C, Fut>(
    config: RuntimeConfig,
    make_handler: F,
    start_companions: C,
    stop: CancellationToken,
) -> anyhow::Result<()>
where
    H: RequestHandler + HealthCheck,
    F: FnOnce(&PluginContext) -> anyhow::Result<H>,
    C: FnOnce(&PluginContext, Arc<H>) -> Fut,
    Fut: Future<Output = anyhow::Result<Companions>>,
{
    let mut companions = Vec::new();
    let result = run_until_stopped(
        config,
        make_handler,
        start_companions,
        &mut companions,
        stop.clone(),
    )
    .await;
    // A failed start-up returns early: stop what was already started (ops server, tasks).
    stop.cancel();
    for task in companions {
        if tokio::time::timeout(COMPANION_STOP_TIMEOUT, task)
            .await
            .is_err()
        {
            tracing::warn!("a companion task (webhook listener, poller) did not stop in time");
        }
    }
    result
}

async fn run_until_stopped<H, F, C, Fut>(
    config: RuntimeConfig,
    make_handler: F,
    start_companions: C,
    companions: &mut Companions,
    stop: CancellationToken,
) -> anyhow::Result<()>
where
    H: RequestHandler + HealthCheck,
    F: FnOnce(&PluginContext) -> anyhow::Result<H>,
    C: FnOnce(&PluginContext, Arc<H>) -> Fut,
    Fut: Future<Output = anyhow::Result<Companions>>,
{
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    check_credentials(&config.teleport)?;
    let client = connect(&config.teleport)?;
    let identity = client.identity();
    tracing::info!(user = identity.username(), not_after = %identity.not_after(), addr = config.teleport.addr(), "loaded Teleport credentials");
    let metrics = Metrics::new();
    // Served before Teleport answers: a liveness probe sees a live process (`/healthz`) and
    // a readiness probe a plugin that is not ready yet (`/readyz` 503) while start-up waits.
    let readiness = Readiness::default();
    let ops_task = match config.ops.listen_addr {
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

    let cluster = tokio::select! {
        cluster = ping_until_ready(&client) => cluster?,
        () = stop.cancelled() => return Ok(()),
    };
    tracing::info!(cluster = %cluster.cluster_name, version = %cluster.server_version, "connected to Teleport");

    let rules = config
        .access_monitoring_rules
        .then(|| Arc::new(RuleCache::new(client.clone(), config.plugin.clone())));

    let context = PluginContext {
        client: client.clone(),
        cluster,
        metrics: metrics.clone(),
        replica_id: replica_id(),
        lease: config.tuning.lease,
        rules: rules.clone(),
        reminders: config.tuning.reminders,
        stop: stop.clone(),
    };
    let handler = Arc::new(make_handler(&context)?);
    if !check_at_start(handler.as_ref(), &stop).await? {
        return Ok(());
    }
    companions.extend(start_companions(&context, handler.clone()).await?);

    let dispatcher = Dispatcher::new(handler, config.tuning.dispatch, metrics.clone());
    tokio::spawn(release_memory_when_idle(dispatcher.clone(), stop.clone()));
    let mut watch = config.tuning.watch;
    watch.access_monitoring_rules = rules.is_some();
    let watcher = Watcher {
        client,
        plugin: config.plugin.clone(),
        dispatcher: dispatcher.clone(),
        readiness,
        metrics,
        rules,
        options: watch,
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

/// How long the dispatcher must stay idle before freed memory is handed back: long
/// enough that a steady trickle of requests does not trim after each one, short enough
/// that a burst's memory is back within a second.
const IDLE_BEFORE_TRIM: Duration = Duration::from_millis(250);

/// After each burst, once nothing is in flight for [`IDLE_BEFORE_TRIM`], returns the
/// allocator's free pages to the system: otherwise glibc keeps a burst's peak resident.
async fn release_memory_when_idle<H: RequestHandler>(
    dispatcher: Dispatcher<H>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = dispatcher.became_idle() => {}
            () = stop.cancelled() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(IDLE_BEFORE_TRIM) => {}
            () = stop.cancelled() => return,
        }
        if dispatcher.in_flight() == 0 {
            // A walk over the allocator's free lists: kept off the async workers.
            let _ = tokio::task::spawn_blocking(crate::allocator::release_free_memory).await;
        }
    }
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
