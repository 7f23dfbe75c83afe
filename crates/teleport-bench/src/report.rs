//! The report: every measurement, the ratios to the floor, the targets met or missed;
//! printed as tables and written as JSON.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::burst::{BurstResult, Driver, Variant};
use crate::cli::Sizes;
use crate::ready::ReadyResult;
use crate::steady::SteadyResult;

const MIB: f64 = 1024.0;

/// The machine the numbers were taken on.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Machine {
    /// Logical CPUs.
    pub cores: usize,
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: String,
    /// `uname -r`.
    pub kernel: String,
    /// 1-minute load average when the suite started: other work on the machine competes
    /// for the same cores and shows up in every number.
    pub load_at_start: f64,
}

impl Machine {
    /// Reads /proc.
    pub(crate) fn detect(load_at_start: f64) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default();
        Self {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|k| k.trim().to_owned())
                .unwrap_or_default(),
            load_at_start,
        }
    }
}

/// The 1-minute load average now.
pub(crate) fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// The plugin's throughput against the floor's for the same burst.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Ratio {
    /// Fake Slack latency.
    pub latency_ms: u64,
    /// Which burst.
    pub variant: Variant,
    /// Plugin requests per second.
    pub plugin_per_sec: f64,
    /// Floor requests per second.
    pub floor_per_sec: f64,
    /// plugin / floor.
    pub ratio: f64,
}

/// One target from the issue, and whether it was met.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Check {
    /// What is measured.
    pub name: String,
    /// The target, in words.
    pub wanted: String,
    /// The measurement, in words.
    pub measured: String,
    /// Met or not.
    pub met: bool,
}

/// Everything one suite run measured.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Report {
    /// Unix time the suite started.
    pub started_unix: u64,
    /// Where it ran.
    pub machine: Machine,
    /// The measured binary.
    pub plugin_bin: String,
    /// Its size on disk.
    pub plugin_bytes: u64,
    /// Sizes used.
    pub sizes: Sizes,
    /// Start-up and idle memory.
    pub ready: ReadyResult,
    /// Every burst, plugin and floor.
    pub bursts: Vec<BurstResult>,
    /// Steady load.
    pub steady: SteadyResult,
    /// Plugin / floor throughput per burst.
    pub ratios: Vec<Ratio>,
    /// The targets.
    pub targets: Vec<Check>,
    /// Correctness failures (exactly-once, work left in flight); empty when all is well.
    pub failures: Vec<String>,
}

impl Report {
    /// Fills in ratios, targets and failures from the measurements.
    pub(crate) fn new(
        started_unix: u64,
        load_at_start: f64,
        plugin_bin: &Path,
        sizes: Sizes,
        ready: ReadyResult,
        bursts: Vec<BurstResult>,
        steady: SteadyResult,
    ) -> Self {
        let mut report = Self {
            started_unix,
            machine: Machine::detect(load_at_start),
            plugin_bin: plugin_bin.display().to_string(),
            plugin_bytes: std::fs::metadata(plugin_bin).map_or(0, |m| m.len()),
            sizes,
            ready,
            bursts,
            steady,
            ratios: Vec::new(),
            targets: Vec::new(),
            failures: Vec::new(),
        };
        report.ratios = report.compute_ratios();
        report.targets = report.compute_targets();
        report.failures = report.compute_failures();
        report
    }

    fn plugin_bursts(&self) -> impl Iterator<Item = &BurstResult> {
        self.bursts
            .iter()
            .filter(|b| b.driver == Driver::Plugin && b.rate_limit.is_none())
    }

    fn compute_ratios(&self) -> Vec<Ratio> {
        self.plugin_bursts()
            .filter_map(|p| {
                let floor = self.bursts.iter().find(|f| {
                    f.driver == Driver::Floor
                        && f.latency_ms == p.latency_ms
                        && f.variant == p.variant
                })?;
                Some(Ratio {
                    latency_ms: p.latency_ms,
                    variant: p.variant,
                    plugin_per_sec: p.per_sec,
                    floor_per_sec: floor.per_sec,
                    ratio: p.per_sec / floor.per_sec.max(1e-9),
                })
            })
            .collect()
    }

    fn compute_targets(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        for (latency, wanted) in [(0, 2000.0), (50, 1000.0)] {
            let slowest = self
                .plugin_bursts()
                .filter(|b| b.latency_ms == latency)
                .map(|b| b.per_sec)
                .reduce(f64::min);
            if let Some(rate) = slowest {
                checks.push(Check {
                    name: format!("burst throughput, Slack latency {latency} ms (slower variant)"),
                    wanted: format!(">= {wanted:.0} req/s"),
                    measured: format!("{rate:.0} req/s"),
                    met: rate >= wanted,
                });
            }
        }
        let p99 = self.steady.overhead.p99_us as f64 / 1e3;
        checks.push(Check {
            name: format!("per-event overhead p99 at {}/s", self.steady.rate),
            wanted: "<= 1 ms".into(),
            measured: format!("{p99:.2} ms"),
            met: p99 <= 1.0,
        });
        let idle = self.ready.idle_rss_kib as f64 / MIB;
        checks.push(Check {
            name: "RSS idle".into(),
            wanted: "<= 10 MiB".into(),
            measured: format!("{idle:.1} MiB"),
            met: idle <= 10.0,
        });
        if let Some(peak) = self.plugin_bursts().map(|b| b.peak_rss_kib).max() {
            let peak = peak as f64 / MIB;
            checks.push(Check {
                name: "peak RSS during the bursts".into(),
                wanted: "<= 40 MiB".into(),
                measured: format!("{peak:.1} MiB"),
                met: peak <= 40.0,
            });
        }
        // A second burst of the same size on the same process must not leave more behind
        // than the first: allocator slack is allowed, per-request state is not.
        for latency in &self.sizes.latencies_ms {
            let settled = |variant| {
                self.plugin_bursts()
                    .find(|b| b.latency_ms == *latency && b.variant == variant)
                    .map(|b| b.settled_rss_kib as f64 / MIB)
            };
            if let (Some(first), Some(second)) = (settled(Variant::Backlog), settled(Variant::Live))
            {
                let allowed = (first * 0.1).max(2.0);
                checks.push(Check {
                    name: format!("settled RSS, 2nd burst vs 1st ({latency} ms)"),
                    wanted: format!("growth <= {allowed:.1} MiB"),
                    measured: format!("{first:.1} -> {second:.1} MiB"),
                    met: second - first <= allowed,
                });
            }
        }
        let ready = self.ready.readyz_ms_median;
        checks.push(Check {
            name: "start -> ready (/readyz, median)".into(),
            wanted: "<= 100 ms".into(),
            measured: format!("{ready:.1} ms"),
            met: ready <= 100.0,
        });
        if let Some(worst) = self.ratios.iter().map(|r| r.ratio).reduce(f64::min) {
            checks.push(Check {
                name: "throughput vs the floor (worst burst)".into(),
                wanted: ">= 0.50 x".into(),
                measured: format!("{worst:.2} x"),
                met: worst >= 0.5,
            });
        }
        checks
    }

    fn compute_failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        for b in &self.bursts {
            if !b.exactly_once {
                failures.push(format!(
                    "{} {} ms {}: {} root messages, {} duplicates, {} missing",
                    b.driver,
                    b.latency_ms,
                    b.variant,
                    b.delivered.root_messages,
                    b.delivered.duplicates,
                    b.delivered.missing
                ));
            }
            if b.in_flight_after.is_some_and(|n| n != 0.0) {
                failures.push(format!(
                    "{} {} ms {}: requests_in_flight stayed at {:?}",
                    b.driver, b.latency_ms, b.variant, b.in_flight_after
                ));
            }
        }
        if !self.steady.exactly_once {
            failures.push(format!(
                "steady: {} root messages, {} duplicates, {} missing",
                self.steady.delivered.root_messages,
                self.steady.delivered.duplicates,
                self.steady.delivered.missing
            ));
        }
        failures
    }

    /// Every target met.
    pub(crate) fn all_targets_met(&self) -> bool {
        self.targets.iter().all(|c| c.met)
    }

    /// Writes the JSON report.
    pub(crate) fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// The tables for stdout.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "teleport-slack benchmark: {} cores ({}), kernel {}, load {:.1} at start; binary {:.2} MiB; {} requests per burst",
            m.cores,
            m.cpu_model,
            m.kernel,
            m.load_at_start,
            self.plugin_bytes as f64 / MIB / MIB,
            self.sizes.requests
        );
        let r = &self.ready;
        let _ = writeln!(
            out,
            "\nstart -> ready ({} runs): /readyz median {:.1} ms (max {:.1}), watch registered {:.1} ms; idle RSS {:.1} MiB (peak {:.1} MiB)",
            r.runs.len(),
            r.readyz_ms_median,
            r.readyz_ms_max,
            r.watch_ms_median,
            r.idle_rss_kib as f64 / MIB,
            r.idle_hwm_kib as f64 / MIB
        );
        let _ = writeln!(
            out,
            "\n{:<7} {:>7} {:<8} {:>6} {:>8} {:>8} {:>8} {:>6} {:>9} {:>9} {:>6} {:>6} {:>7} {:>7} {:>5}",
            "driver",
            "latency",
            "variant",
            "limit",
            "requests",
            "seconds",
            "req/s",
            "/floor",
            "peak RSS",
            "settled",
            "flight",
            "recon",
            "CPU s",
            "bench s",
            "once"
        );
        for b in &self.bursts {
            let ratio = self
                .ratios
                .iter()
                .find(|x| {
                    b.driver == Driver::Plugin
                        && b.rate_limit.is_none()
                        && x.latency_ms == b.latency_ms
                        && x.variant == b.variant
                })
                .map_or("-".to_owned(), |x| format!("{:.2}", x.ratio));
            let opt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0}"));
            let _ = writeln!(
                out,
                "{:<7} {:>4} ms {:<8} {:>6} {:>8} {:>8.2} {:>8.0} {:>6} {:>5.1} MiB {:>5.1} MiB {:>6} {:>6} {:>7.2} {:>7.2} {:>5}",
                b.driver.to_string(),
                b.latency_ms,
                b.variant.to_string(),
                b.rate_limit.map_or("-".to_owned(), |l| format!("{l}/s")),
                b.requests,
                b.seconds,
                b.per_sec,
                ratio,
                b.peak_rss_kib as f64 / MIB,
                b.settled_rss_kib as f64 / MIB,
                opt(b.in_flight_after),
                opt(b.reconnects),
                b.cpu_seconds,
                b.driver_cpu_seconds,
                if b.exactly_once { "yes" } else { "NO" }
            );
        }
        let s = &self.steady;
        let ms = |us: u64| us as f64 / 1e3;
        let _ = writeln!(
            out,
            "\nsteady {}/s for {:.1} s ({} requests): overhead p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; plugin CPU {:.0}% of a core; exactly once: {}",
            s.rate,
            s.create_seconds,
            s.requests,
            ms(s.overhead.p50_us),
            ms(s.overhead.p90_us),
            ms(s.overhead.p99_us),
            ms(s.overhead.max_us),
            s.cpu_share_of_core * 100.0,
            if s.exactly_once { "yes" } else { "NO" }
        );
        let _ = writeln!(
            out,
            "\n{:<52} {:>18} {:>20}  result",
            "target", "wanted", "measured"
        );
        for c in &self.targets {
            let _ = writeln!(
                out,
                "{:<52} {:>18} {:>20}  {}",
                c.name,
                c.wanted,
                c.measured,
                if c.met { "met" } else { "MISSED" }
            );
        }
        for f in &self.failures {
            let _ = writeln!(out, "FAILURE: {f}");
        }
        out
    }
}
