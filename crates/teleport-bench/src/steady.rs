//! Steady load: requests created at a fixed rate; for each, the time from the testkit
//! handing the PUT event to the watch stream to the fake Slack receiving the post, i.e.
//! what the plugin adds on top of the network.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use tokio::time::MissedTickBehavior;

use crate::burst::{Driver, spawn};
use crate::process::Memory;
use crate::stats::Summary;
use crate::suite::Settings;
use crate::world::{Delivered, World};

/// The steady scenario's outcome.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct SteadyResult {
    /// Target creation rate, requests per second.
    pub rate: u32,
    /// Requests created.
    pub requests: usize,
    /// How long creating them took (≈ requests / rate when the driver kept up).
    pub create_seconds: f64,
    /// Delivery of the PUT to the post's arrival in Slack.
    pub overhead: Summary,
    /// Requests without both a delivery and a post time (0 when all went well).
    pub unmatched: usize,
    /// Messages against requests.
    pub delivered: Delivered,
    /// Exactly one message per request.
    pub exactly_once: bool,
    /// Plugin CPU time while under load, in seconds.
    pub cpu_seconds: f64,
    /// That as a share of one core over the creation period.
    pub cpu_share_of_core: f64,
    /// Plugin memory after the run.
    pub memory: Memory,
}

/// Runs the steady scenario (fake Slack latency 0).
pub(crate) async fn run(settings: &Settings) -> anyhow::Result<SteadyResult> {
    let sizes = &settings.sizes;
    let mut world = World::start(
        &settings.work.join("steady"),
        crate::destination::DestinationKind::Slack,
        Duration::ZERO,
        sizes.watch_buffer,
    )
    .await?;
    let target = spawn(settings, Driver::Plugin, &world)?;
    world
        .kit
        .wait_for_watchers(1, settings.timeout)
        .await
        .context("the plugin did not start watching")?;
    target.wait_ready(settings.timeout).await?;

    let delivered_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let hook = delivered_at.clone();
    world.kit.on_put_delivered(move |delivery| {
        hook.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(delivery.request_id.clone())
            .or_insert(delivery.at);
    });

    let count = (u64::from(sizes.steady_rate) * sizes.steady_secs) as usize;
    eprintln!("bench: steady: {count} requests at {}/s", sizes.steady_rate);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(
        1.0 / f64::from(sizes.steady_rate.max(1)),
    ));
    // Catch up after a late tick so the average rate holds.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let cpu_before = target.cpu_seconds()?;
    let started = Instant::now();
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        ticker.tick().await;
        ids.push(world.create_one()?);
    }
    let create_seconds = started.elapsed().as_secs_f64();
    world.wait_for_posts(count, settings.timeout).await?;
    let in_flight = target.wait_idle(settings.timeout).await?;
    ensure!(
        in_flight == 0.0,
        "requests still in flight after the steady run"
    );
    let cpu_seconds = target.cpu_seconds()? - cpu_before;
    let memory = target.memory()?;
    world.kit.clear_put_hook();

    let posted_at = world.post_times().await;
    let delivered_at =
        std::mem::take(&mut *delivered_at.lock().unwrap_or_else(PoisonError::into_inner));
    let mut overheads = Vec::with_capacity(count);
    for id in &ids {
        if let (Some(delivered), Some(posted)) = (delivered_at.get(id), posted_at.get(id)) {
            overheads.push(posted.saturating_duration_since(*delivered));
        }
    }
    let delivered = world.delivered(&ids).await;
    let status = target.stop().await?;
    ensure!(status.success(), "the plugin exited with {status}");
    Ok(SteadyResult {
        rate: sizes.steady_rate,
        requests: count,
        create_seconds,
        overhead: Summary::of(&overheads),
        unmatched: count - overheads.len(),
        exactly_once: delivered.exactly_once(count),
        delivered,
        cpu_seconds,
        cpu_share_of_core: cpu_seconds / create_seconds.max(1e-9),
        memory,
    })
}
