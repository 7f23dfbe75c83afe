//! Bursts: many pending requests at once, timed until each has its one Slack message.
//!
//! One process handles, in turn, a backlog (requests created before it starts, found by
//! its listing after INIT) and a live burst (created while it runs, seen on the watch).
//! Between and after them it must go idle and give memory back, and at the end every
//! request must have exactly one root message.

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use teleport_fakes::RateLimit;

use crate::process::{RECONNECTS, Target, free_port, own_cpu_seconds};
use crate::suite::Settings;
use crate::world::{Delivered, World};

/// How long a process gets after a burst before its settled memory is read.
const SETTLE: Duration = Duration::from_secs(1);

/// Who handles the burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Driver {
    /// The real plugin binary.
    Plugin,
    /// The minimal client: watch + one bare post per request.
    Floor,
}

/// When the requests are created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Variant {
    /// Before the process starts; timed from its spawn.
    Backlog,
    /// While it runs; timed from the first creation.
    Live,
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Plugin => "plugin",
            Self::Floor => "floor",
        })
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Backlog => "backlog",
            Self::Live => "live",
        })
    }
}

/// One timed burst.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct BurstResult {
    /// Who handled it.
    pub driver: Driver,
    /// Fake Slack latency.
    pub latency_ms: u64,
    /// When the requests were created.
    pub variant: Variant,
    /// The fake Slack's chat.postMessage limit per second, if any.
    pub rate_limit: Option<u32>,
    /// Requests in this burst.
    pub requests: usize,
    /// From spawn (backlog) or first creation (live) to the last message's arrival.
    pub seconds: f64,
    /// `requests / seconds`.
    pub per_sec: f64,
    /// How long creating the live burst's requests took in the testkit.
    pub create_seconds: f64,
    /// All root messages so far against all requests so far.
    pub delivered: Delivered,
    /// Exactly one message per request so far.
    pub exactly_once: bool,
    /// Peak RSS (VmHWM) after the burst.
    pub peak_rss_kib: u64,
    /// RSS a second after the process went idle.
    pub settled_rss_kib: u64,
    /// `requests_in_flight` once idle (plugin only).
    pub in_flight_after: Option<f64>,
    /// Watch reconnects so far (plugin only).
    pub reconnects: Option<f64>,
    /// CPU time the process used for this burst.
    pub cpu_seconds: f64,
    /// CPU time the benchmark itself (testkit, fake Slack, request creation) used meanwhile.
    pub driver_cpu_seconds: f64,
}

/// Runs `variants` (a backlog, if any, first) against one process of `driver`.
pub(crate) async fn run(
    settings: &Settings,
    driver: Driver,
    latency_ms: u64,
    variants: &[Variant],
    rate_limit: Option<u32>,
) -> anyhow::Result<Vec<BurstResult>> {
    ensure!(
        !variants[1..].contains(&Variant::Backlog),
        "a backlog burst must come first"
    );
    let name = match rate_limit {
        Some(limit) => format!("burst-{driver}-{latency_ms}ms-limit{limit}"),
        None => format!("burst-{driver}-{latency_ms}ms"),
    };
    let mut world = World::start(
        &settings.work.join(&name),
        crate::destination::DestinationKind::Slack,
        Duration::from_millis(latency_ms),
        settings.sizes.watch_buffer,
    )
    .await?;
    if let Some(calls) = rate_limit {
        world.dest.control().set_rate_limit(Some(RateLimit {
            calls,
            per: Duration::from_secs(1),
        }));
    }
    let n = settings.sizes.requests;
    let mut ids = Vec::new();
    let mut target: Option<Target> = None;
    let mut results = Vec::new();
    for &variant in variants {
        let driver_cpu_before = own_cpu_seconds()?;
        let (started, create_seconds) = match variant {
            Variant::Backlog => {
                ids.extend(tokio::task::block_in_place(|| world.create_requests(n))?);
                let spawned = spawn(settings, driver, &world)?;
                let started = spawned.spawned;
                target = Some(spawned);
                (started, 0.0)
            }
            Variant::Live => {
                if target.is_none() {
                    target = Some(spawn(settings, driver, &world)?);
                    world
                        .kit
                        .wait_for_watchers(1, settings.timeout)
                        .await
                        .with_context(|| format!("the {driver} did not start watching"))?;
                }
                let started = Instant::now();
                ids.extend(tokio::task::block_in_place(|| world.create_requests(n))?);
                (started, started.elapsed().as_secs_f64())
            }
        };
        let Some(target) = target.as_ref() else {
            unreachable!("a process was started above");
        };
        let cpu_before = if variant == Variant::Backlog {
            0.0
        } else {
            target.cpu_seconds()?
        };
        eprintln!("bench: {name}: {variant} burst of {n} requests");
        world
            .wait_for_posts(ids.len(), settings.timeout)
            .await
            .with_context(|| format!("{name}, {variant} burst"))?;
        let last = world.last_post().await.unwrap_or_else(Instant::now);
        let seconds = last.saturating_duration_since(started).as_secs_f64();
        let peak_rss_kib = target.memory()?.hwm_kib;
        let in_flight_after = match driver {
            Driver::Plugin => Some(target.wait_idle(settings.timeout).await?),
            Driver::Floor => None,
        };
        let cpu_seconds = target.cpu_seconds()? - cpu_before;
        let driver_cpu_seconds = own_cpu_seconds()? - driver_cpu_before;
        tokio::time::sleep(SETTLE).await;
        let settled_rss_kib = target.memory()?.rss_kib;
        let delivered = world.delivered(&ids).await;
        let reconnects = match driver {
            Driver::Plugin => target.metric(RECONNECTS).await?,
            Driver::Floor => None,
        };
        results.push(BurstResult {
            driver,
            latency_ms,
            variant,
            rate_limit,
            requests: n,
            seconds,
            per_sec: n as f64 / seconds.max(1e-9),
            create_seconds,
            exactly_once: delivered.exactly_once(ids.len()),
            delivered,
            peak_rss_kib,
            settled_rss_kib,
            in_flight_after,
            reconnects,
            cpu_seconds,
            driver_cpu_seconds,
        });
    }
    if let Some(target) = target {
        let status = target.stop().await?;
        if driver == Driver::Plugin {
            ensure!(status.success(), "the plugin exited with {status}");
        }
    }
    Ok(results)
}

/// Starts `driver` against `world`.
pub(crate) fn spawn(settings: &Settings, driver: Driver, world: &World) -> anyhow::Result<Target> {
    let stderr = world.dir().join(format!("{driver}.stderr"));
    match driver {
        Driver::Plugin => {
            let ops = free_port()?;
            let config = world.plugin_config(ops, &settings.plugin_log_severity)?;
            let flags = world.dest.start_flags();
            Target::plugin(&settings.plugin_bin, &config, flags, ops, &stderr)
        }
        Driver::Floor => Target::floor(&world.floor_args()?, &stderr),
    }
}
