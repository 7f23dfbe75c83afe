//! The whole suite in order: start-up, bursts (plugin and floor at each latency, then
//! one under a Slack rate limit), steady load; then the report.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};

use crate::burst::{self, Driver, Variant};
use crate::cli::{Sizes, SuiteArgs};
use crate::report::{self, Report};
use crate::{ready, steady};

/// What every scenario needs.
pub(crate) struct Settings {
    /// The plugin binary.
    pub plugin_bin: PathBuf,
    /// Work files go here, one directory per scenario.
    pub work: PathBuf,
    /// Sizes.
    pub sizes: Sizes,
    /// Longest wait for one step.
    pub timeout: Duration,
    /// The plugin's log severity.
    pub plugin_log_severity: String,
}

/// Runs everything, prints the tables, writes `report.json`. Returns whether the run
/// passes: no correctness failure, and with `--strict` every target met.
pub(crate) async fn run(args: SuiteArgs) -> anyhow::Result<bool> {
    if !args.plugin_bin.is_file() {
        bail!(
            "{} not found; build it first (cargo build --release -p teleport-slack)",
            args.plugin_bin.display()
        );
    }
    let plugin_bin = std::fs::canonicalize(&args.plugin_bin)?;
    let work = args.out_dir.join("work");
    // Old work files would only confuse someone reading the logs.
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let settings = Settings {
        plugin_bin: plugin_bin.clone(),
        work: std::fs::canonicalize(&work)?,
        sizes: args.sizes(),
        timeout: Duration::from_secs(args.timeout_secs),
        plugin_log_severity: args.plugin_log_severity.clone(),
    };
    let load_at_start = report::load_average();
    let started_unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());

    let ready = ready::run(&settings).await?;
    let mut bursts = Vec::new();
    let both = [Variant::Backlog, Variant::Live];
    for &latency in &settings.sizes.latencies_ms {
        bursts.extend(burst::run(&settings, Driver::Plugin, latency, &both, None).await?);
        bursts.extend(burst::run(&settings, Driver::Floor, latency, &both, None).await?);
    }
    if let Some(limit) = settings.sizes.rate_limit {
        bursts.extend(
            burst::run(
                &settings,
                Driver::Plugin,
                0,
                &[Variant::Backlog],
                Some(limit),
            )
            .await?,
        );
    }
    let steady = steady::run(&settings).await?;

    let report = Report::new(
        started_unix,
        load_at_start,
        &plugin_bin,
        settings.sizes.clone(),
        ready,
        bursts,
        steady,
    );
    print!("{}", report.render());
    let json = args.out_dir.join("report.json");
    report.write_json(&json)?;
    println!("\nJSON report: {}", json.display());
    Ok(report.failures.is_empty() && (!args.strict || report.all_targets_met()))
}
