//! A process under test (the plugin or the floor client): start, stop, and what the
//! kernel and its `/metrics` say about it.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// How long a stopped process gets to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// Memory figures from `/proc/<pid>/status`, in KiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Memory {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size so far (`VmHWM`).
    pub hwm_kib: u64,
}

/// A running process under test.
pub(crate) struct Target {
    child: Child,
    pid: u32,
    /// When it was spawned.
    pub spawned: Instant,
    ops: Option<SocketAddr>,
    http: reqwest::Client,
}

impl Target {
    /// Starts `teleport-slack start -c config [flags]`; its stderr goes to `stderr_log`.
    /// `ops` is where its config says to serve `/readyz` and `/metrics`.
    pub(crate) fn plugin(
        bin: &Path,
        config: &Path,
        flags: &[&str],
        ops: SocketAddr,
        stderr_log: &Path,
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(bin);
        command.arg("start").arg("-c").arg(config).args(flags);
        Self::spawn(command, Some(ops), stderr_log)
            .with_context(|| format!("cannot start {}", bin.display()))
    }

    /// Starts this binary's floor client with `args`.
    pub(crate) fn floor(args: &[String], stderr_log: &Path) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the teleport-bench binary")?;
        let mut command = Command::new(exe);
        command.args(args);
        Self::spawn(command, None, stderr_log).context("cannot start the floor client")
    }

    fn spawn(
        mut command: Command,
        ops: Option<SocketAddr>,
        stderr_log: &Path,
    ) -> anyhow::Result<Self> {
        // Appended to, not truncated: a replica restarted after a kill keeps the log of its
        // earlier lives, which is where a second message's cause is.
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(stderr_log)
            .with_context(|| format!("cannot create {}", stderr_log.display()))?;
        let spawned = Instant::now();
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().context("the process exited at once")?;
        Ok(Self {
            child,
            pid,
            spawned,
            ops,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()?,
        })
    }

    /// Resident memory now and at its peak.
    pub(crate) fn memory(&self) -> anyhow::Result<Memory> {
        let path = format!("/proc/{}/status", self.pid);
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        parse_status(&text).with_context(|| format!("no VmRSS/VmHWM in {path}"))
    }

    /// CPU time used so far (user + system), in seconds.
    pub(crate) fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds_of(&self.pid.to_string())
    }

    /// Whether `/readyz` answers 200 (false while it is not listening yet).
    pub(crate) async fn is_ready(&self) -> bool {
        let Some(ops) = self.ops else { return false };
        matches!(
            self.http.get(format!("http://{ops}/readyz")).send().await,
            Ok(response) if response.status().is_success()
        )
    }

    /// Polls `/readyz` every millisecond until it answers 200; returns when it did.
    pub(crate) async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.is_ready().await {
                return Ok(Instant::now());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        bail!("/readyz did not answer 200 within {timeout:?}")
    }

    /// A metric's value from `/metrics` (summed over its label sets), if present.
    pub(crate) async fn metric(&self, name: &str) -> anyhow::Result<Option<f64>> {
        let ops = self.ops.context("this process serves no /metrics")?;
        let text = self
            .http
            .get(format!("http://{ops}/metrics"))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(metric_value(&text, name))
    }

    /// Polls `requests_in_flight` until it is 0; returns its last value.
    pub(crate) async fn wait_idle(&self, timeout: Duration) -> anyhow::Result<f64> {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self
                .metric(IN_FLIGHT)
                .await?
                .context("no requests_in_flight metric")?;
            if value == 0.0 || Instant::now() >= deadline {
                return Ok(value);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL (no chance to clean up, as a crash or an OOM kill), then reap it.
    pub(crate) async fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }

    /// SIGTERM, then wait for the exit (SIGKILL after a grace period).
    pub(crate) async fn stop(mut self) -> anyhow::Result<ExitStatus> {
        let pid = libc::pid_t::try_from(self.pid).context("pid out of range")?;
        // SAFETY: kill only sends a signal; `pid` is our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        match tokio::time::timeout(STOP_GRACE, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                self.child.kill().await?;
                bail!("the process did not stop within {STOP_GRACE:?} of SIGTERM")
            }
        }
    }
}

/// The plugin runtime's gauge of requests with work left.
pub(crate) const IN_FLIGHT: &str = "teleport_plugin_requests_in_flight";
/// The plugin runtime's counter of watch reconnects.
pub(crate) const RECONNECTS: &str = "teleport_plugin_watch_reconnects_total";

/// CPU time (user + system) this benchmark process used so far, in seconds: the
/// testkit and the fake Slack live here and share the machine's cores with the process
/// under test.
pub(crate) fn own_cpu_seconds() -> anyhow::Result<f64> {
    cpu_seconds_of("self")
}

fn cpu_seconds_of(pid: &str) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let ticks = parse_stat_ticks(&text).with_context(|| format!("cannot parse {path}"))?;
    // SAFETY: sysconf has no preconditions; it only reads a system constant.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Ok(ticks as f64 / per_sec.max(1) as f64)
}

/// A free loopback port (bound and released; good enough for a local benchmark).
pub(crate) fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?)
}

fn parse_status(text: &str) -> Option<Memory> {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// utime + stime (fields 14 and 15), counted after the `)` that ends the command name.
fn parse_stat_ticks(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so field N is at index N - 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Sums the samples of `name` in Prometheus text format.
fn metric_value(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with(' ') || rest.starts_with('{')) {
            continue;
        }
        let value: f64 = rest.rsplit(' ').next()?.parse().ok()?;
        *found.get_or_insert(0.0) += value;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_gives_rss_and_peak() {
        let text = "Name:\tteleport-slack\nVmPeak:\t  900000 kB\nVmHWM:\t    9120 kB\nVmRSS:\t    8004 kB\n";
        assert_eq!(
            parse_status(text),
            Some(Memory {
                rss_kib: 8004,
                hwm_kib: 9120
            })
        );
        assert_eq!(parse_status("Name:\tx\n"), None);
    }

    #[test]
    fn stat_ticks_survive_spaces_in_the_name() {
        let text =
            "4242 (tokio runtime) S 1 4242 4242 0 -1 4194304 100 0 0 0 37 5 0 0 20 0 3 0 1 2 3";
        assert_eq!(parse_stat_ticks(text), Some(42));
    }

    #[test]
    fn metric_values_are_summed_over_labels_and_prefixes_do_not_match() {
        let text = "# HELP x\nteleport_plugin_requests_in_flight 3\nteleport_plugin_requests_in_flight_other 7\nteleport_plugin_sends_total{kind=\"request\"} 5\nteleport_plugin_sends_total{kind=\"review\"} 2\n";
        assert_eq!(metric_value(text, IN_FLIGHT), Some(3.0));
        assert_eq!(metric_value(text, "teleport_plugin_sends_total"), Some(7.0));
        assert_eq!(metric_value(text, "absent"), None);
    }
}
