//! Start-up: from spawning the plugin to `/readyz` answering 200 (its first INIT), and
//! to the testkit seeing its watch stream; then its memory while idle.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

use crate::burst::{Driver, spawn};
use crate::process::Memory;
use crate::stats::median;
use crate::suite::Settings;
use crate::world::World;

/// How long the plugin idles before its idle memory is read.
const IDLE: Duration = Duration::from_secs(1);

/// One start.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct ReadyRun {
    /// Spawn to `/readyz` 200, in milliseconds.
    pub readyz_ms: f64,
    /// Spawn to the testkit registering the watch stream, in milliseconds.
    pub watch_ms: f64,
    /// Memory after idling for a second.
    pub idle: Memory,
}

/// All starts.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct ReadyResult {
    /// Each start.
    pub runs: Vec<ReadyRun>,
    /// Median spawn → `/readyz`.
    pub readyz_ms_median: f64,
    /// Slowest spawn → `/readyz`.
    pub readyz_ms_max: f64,
    /// Median spawn → watch registered.
    pub watch_ms_median: f64,
    /// Largest idle RSS over the runs, KiB.
    pub idle_rss_kib: u64,
    /// Largest idle peak RSS (VmHWM, start-up included) over the runs, KiB.
    pub idle_hwm_kib: u64,
}

/// Starts the plugin `ready_runs` times against one idle world.
pub(crate) async fn run(settings: &Settings) -> anyhow::Result<ReadyResult> {
    let world = World::start(
        &settings.work.join("ready"),
        crate::destination::DestinationKind::Slack,
        Duration::ZERO,
        settings.sizes.watch_buffer,
    )
    .await?;
    let mut runs = Vec::new();
    for run in 0..settings.sizes.ready_runs {
        eprintln!("bench: start-up {}/{}", run + 1, settings.sizes.ready_runs);
        let target = spawn(settings, Driver::Plugin, &world)?;
        let watching = async {
            world
                .kit
                .wait_for_watchers(1, settings.timeout)
                .await
                .map(|()| Instant::now())
        };
        let (watching, ready) = tokio::join!(watching, target.wait_ready(settings.timeout));
        let watching = watching.context("the plugin did not start watching")?;
        let ready = ready?;
        tokio::time::sleep(IDLE).await;
        let idle = target.memory()?;
        let ms = |at: Instant| at.duration_since(target.spawned).as_secs_f64() * 1e3;
        runs.push(ReadyRun {
            readyz_ms: ms(ready),
            watch_ms: ms(watching),
            idle,
        });
        let status = target.stop().await?;
        ensure!(status.success(), "the plugin exited with {status}");
        world.kit.wait_for_watchers(0, settings.timeout).await?;
    }
    let readyz: Vec<f64> = runs.iter().map(|r| r.readyz_ms).collect();
    let watch: Vec<f64> = runs.iter().map(|r| r.watch_ms).collect();
    Ok(ReadyResult {
        readyz_ms_median: median(&readyz),
        readyz_ms_max: readyz.iter().copied().fold(0.0, f64::max),
        watch_ms_median: median(&watch),
        idle_rss_kib: runs.iter().map(|r| r.idle.rss_kib).max().unwrap_or(0),
        idle_hwm_kib: runs.iter().map(|r| r.idle.hwm_kib).max().unwrap_or(0),
        runs,
    })
}
