//! The command line: which binary to measure, how big each scenario is, where the report goes.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Command line of `teleport-bench`.
#[derive(Debug, Parser)]
#[command(
    name = "teleport-bench",
    about = "Measure teleport-slack against an in-process Teleport and a fake Slack",
    args_conflicts_with_subcommands = true
)]
pub(crate) struct Cli {
    /// The benchmark-internal minimal client (the floor); the suite starts it itself.
    #[command(subcommand)]
    pub command: Option<Internal>,
    /// Suite settings.
    #[command(flatten)]
    pub suite: SuiteArgs,
}

/// Subcommands the suite runs as child processes.
#[derive(Debug, Subcommand)]
pub(crate) enum Internal {
    /// Watch requests and post one bare message per pending request (no plugin data).
    #[command(hide = true)]
    FloorClient(FloorArgs),
    /// Replicas under injected faults: nothing lost, nothing twice, every message final.
    Chaos(ChaosArgs),
}

/// Settings of `teleport-bench chaos`.
#[derive(Debug, Args)]
pub(crate) struct ChaosArgs {
    /// The plugin under test (named after its binary without `teleport-`), against its
    /// fake service.
    #[arg(long, value_enum, default_value = "slack")]
    pub destination: crate::destination::DestinationKind,
    /// The plugin's binary (teleport-slack, teleport-pagerduty, ..., as `--destination`
    /// says).
    #[arg(long, default_value = "target/release/teleport-slack")]
    pub plugin_bin: PathBuf,
    /// Where `chaos-report.json` and the work files go.
    #[arg(long, default_value = "target/bench")]
    pub out_dir: PathBuf,
    /// Replicas of the plugin.
    #[arg(long, default_value_t = 3)]
    pub replicas: usize,
    /// Requests to create.
    #[arg(long, default_value_t = 10_000)]
    pub requests: usize,
    /// Requests per burst.
    #[arg(long, default_value_t = 250)]
    pub burst: usize,
    /// How long the requests take to arrive (the bursts are spread over it), and again how
    /// long resolving them takes; faults land throughout, in seconds.
    #[arg(long, default_value_t = 300)]
    pub duration_secs: u64,
    /// Mean gap between two faults, in milliseconds (each gap is drawn in [x/2, x]).
    #[arg(long, default_value_t = 1_500)]
    pub fault_every_ms: u64,
    /// Longest window in which the destination answers 429 or 503 to everything, in
    /// milliseconds.
    #[arg(long, alias = "slack-fault-max-ms", default_value_t = 5_000)]
    pub destination_fault_max_ms: u64,
    /// Identity rotation period, in seconds.
    #[arg(long, default_value_t = 60)]
    pub rotate_secs: u64,
    /// How long the plugin gets to converge once faults stop, in seconds.
    #[arg(long, default_value_t = 300)]
    pub converge_secs: u64,
    /// Second messages tolerated before the run fails. 0 by default: the known crash window
    /// (a SIGKILL between a post and its record) is a miss to report, not to hide; see
    /// docs/performance.md.
    #[arg(long, default_value_t = 0)]
    pub max_twice: usize,
    /// Seed of the fault schedule (replay a run with the same seed).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Settings of the whole suite. Sizes left unset take the full or `--quick` default.
#[derive(Debug, Args)]
pub(crate) struct SuiteArgs {
    /// The teleport-slack binary to measure.
    #[arg(long, default_value = "target/release/teleport-slack")]
    pub plugin_bin: PathBuf,
    /// Where `report.json` and the work files (configs, identities, logs) go.
    #[arg(long, default_value = "target/bench")]
    pub out_dir: PathBuf,
    /// Small sizes for a smoke test (1 000 requests, 5 s steady, 2 start-ups).
    #[arg(long)]
    pub quick: bool,
    /// Requests per burst [default: 10000, quick 1000].
    #[arg(long)]
    pub requests: Option<usize>,
    /// Fake Slack latencies to run the bursts at, in milliseconds.
    #[arg(long, value_delimiter = ',', default_value = "0,50")]
    pub latencies_ms: Vec<u64>,
    /// Steady scenario: requests created per second.
    #[arg(long, default_value_t = 500)]
    pub steady_rate: u32,
    /// Steady scenario: how long requests are created [default: 20, quick 5].
    #[arg(long)]
    pub steady_secs: Option<u64>,
    /// How many times start-up is measured [default: 5, quick 2].
    #[arg(long)]
    pub ready_runs: Option<usize>,
    /// chat.postMessage calls per second the fake Slack allows in the rate-limited burst
    /// (429 with Retry-After beyond that); 0 skips that burst [default: 1000, quick 500].
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Events the testkit buffers per watch stream before it closes a stream that fell
    /// behind (as Teleport does).
    #[arg(long, default_value_t = teleport_testkit::DEFAULT_WATCH_BUFFER)]
    pub watch_buffer: usize,
    /// The plugin's `[log] severity`.
    #[arg(long, default_value = "INFO")]
    pub plugin_log_severity: String,
    /// Longest wait for any one scenario step, in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
    /// Exit non-zero when a target is missed (correctness failures always do).
    #[arg(long)]
    pub strict: bool,
}

/// The resolved sizes of one suite run.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Sizes {
    /// Requests per burst.
    pub requests: usize,
    /// Fake Slack latencies for the bursts, in milliseconds.
    pub latencies_ms: Vec<u64>,
    /// Steady rate, requests per second.
    pub steady_rate: u32,
    /// Steady duration in seconds.
    pub steady_secs: u64,
    /// Start-up measurements.
    pub ready_runs: usize,
    /// Rate limit of the rate-limited burst (calls per second), if run.
    pub rate_limit: Option<u32>,
    /// Testkit watch buffer.
    pub watch_buffer: usize,
}

impl SuiteArgs {
    /// The sizes to run, with the full or quick defaults filled in.
    pub(crate) fn sizes(&self) -> Sizes {
        let pick = |set: Option<u64>, full: u64, quick: u64| {
            set.unwrap_or(if self.quick { quick } else { full })
        };
        Sizes {
            requests: pick(self.requests.map(|n| n as u64), 10_000, 1_000) as usize,
            latencies_ms: self.latencies_ms.clone(),
            steady_rate: self.steady_rate,
            steady_secs: pick(self.steady_secs, 20, 5),
            ready_runs: pick(self.ready_runs.map(|n| n as u64), 5, 2).max(1) as usize,
            rate_limit: Some(pick(self.rate_limit.map(u64::from), 1_000, 500) as u32)
                .filter(|&r| r > 0),
            watch_buffer: self.watch_buffer,
        }
    }
}

/// Arguments of the floor client.
#[derive(Debug, Args)]
pub(crate) struct FloorArgs {
    /// Teleport auth address.
    #[arg(long)]
    pub addr: SocketAddr,
    /// Identity file.
    #[arg(long)]
    pub identity: PathBuf,
    /// Slack Web API base URL, with a trailing slash.
    #[arg(long)]
    pub slack_url: String,
    /// File holding the bot token (kept off the command line).
    #[arg(long)]
    pub token_file: PathBuf,
    /// Channel to post to.
    #[arg(long)]
    pub channel: String,
    /// Posts in flight at once (the plugin's dispatcher default).
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
}
