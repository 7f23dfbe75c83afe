//! A plugin binary run as a subprocess: `<binary> start -c <config>`.

use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};

/// Runs `<binary> <args>` (`configure`, `version`), asserts it succeeds, and returns what
/// it printed.
pub fn cli_stdout(binary: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(binary)
        .args(args)
        .output()
        .expect("the plugin binary runs");
    assert!(out.status.success(), "{binary} {args:?}: {}", out.status);
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Starts `<binary> start -c <config>` with these stdout and stderr; the process is
/// killed if the test drops it.
pub fn start_plugin(binary: &str, config: &Path, stdout: Stdio, stderr: Stdio) -> Child {
    Command::new(binary)
        .args(["start", "-c"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("the plugin binary starts")
}

/// stdout and stderr both written to `path` (created or emptied), for reading the
/// plugin's whole log afterwards.
pub fn log_file(path: &Path) -> (Stdio, Stdio) {
    let file = std::fs::File::create(path).expect("log file");
    let copy = file.try_clone().expect("log file handle");
    (copy.into(), file.into())
}

/// Sends SIGTERM (what Kubernetes and systemd send) and returns the exit status, which
/// must come within `within`.
pub async fn terminate(child: &mut Child, within: Duration) -> ExitStatus {
    let pid = child.id().expect("the plugin is running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "SIGTERM to {pid} not delivered");
    tokio::time::timeout(within, child.wait())
        .await
        .expect("the plugin exits after SIGTERM in time")
        .expect("the exit status")
}

/// Runs `<binary> start -c <config>` to its exit, which must come within `within`
/// (for start-ups that fail), with stdout and stderr captured.
pub async fn run_to_exit(binary: &str, config: &Path, within: Duration) -> Output {
    let run = Command::new(binary)
        .args(["start", "-c"])
        .arg(config)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(within, run)
        .await
        .expect("the plugin exits in time")
        .expect("the plugin binary runs")
}
