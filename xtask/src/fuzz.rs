//! `cargo xtask fuzz`: runs every fuzz target in `fuzz/` for a while and prints a table of
//! executions and findings.
//!
//! The targets are libFuzzer binaries built by cargo-fuzz (installed when missing). This
//! machine has only the stable toolchain, so the build runs with `RUSTC_BOOTSTRAP=1` and no
//! sanitizer (`-s none`): coverage instrumentation is plain `-C` flags, and Rust's own checks
//! (bounds, overflow with debug assertions, `assert!`) turn bugs into panics, which libFuzzer
//! reports as crashes. Each run starts from the checked-in seeds (`fuzz/seeds/<target>`) and
//! the local corpus (`fuzz/corpus/<target>`, not committed); a crash leaves its input in
//! `fuzz/artifacts/<target>` and fails the command.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// The targets in `fuzz/Cargo.toml`, in the order they run.
pub(crate) const TARGETS: &[&str] = &[
    "config_toml",
    "identity_file",
    "plugin_data",
    "watch_event",
    "condition",
    "jira_webhook",
    "gitlab_webhook",
];

/// The cargo-fuzz release known to build these targets on the stable toolchain.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Arguments of `cargo xtask fuzz`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Seconds per target.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Only these targets (default: all).
    #[arg(long = "target", value_name = "TARGET")]
    pub targets: Vec<String>,
}

/// One target's run.
struct Outcome {
    target: String,
    executions: u64,
    seconds: u64,
    crashed: bool,
}

/// Builds the targets, runs each, prints the table; fails when any target crashed.
pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let root = crate::source::workspace_root();
    ensure_cargo_fuzz(&root)?;
    let targets: Vec<String> = if args.targets.is_empty() {
        TARGETS.iter().map(|t| (*t).to_owned()).collect()
    } else {
        args.targets.clone()
    };
    for target in &targets {
        if !TARGETS.contains(&target.as_str()) {
            bail!(
                "no fuzz target {target:?}; the targets are {}",
                TARGETS.join(", ")
            );
        }
    }
    let status = fuzz_command(&root)
        .args(["build", "-s", "none"])
        .status()
        .context("cannot run cargo fuzz build")?;
    if !status.success() {
        bail!("building the fuzz targets failed");
    }
    let mut outcomes = Vec::new();
    for target in &targets {
        outcomes.push(run_target(&root, target, args.seconds)?);
    }
    println!("\n| target | seconds | executions | result |\n|---|---:|---:|---|");
    for o in &outcomes {
        let result = if o.crashed {
            "CRASH (see fuzz/artifacts)"
        } else {
            "no crash"
        };
        println!(
            "| {} | {} | {} | {} |",
            o.target, o.seconds, o.executions, result
        );
    }
    let crashed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.crashed)
        .map(|o| o.target.as_str())
        .collect();
    if !crashed.is_empty() {
        bail!("fuzz targets crashed: {}", crashed.join(", "));
    }
    Ok(())
}

fn run_target(root: &Path, target: &str, seconds: u64) -> anyhow::Result<Outcome> {
    let corpus = root.join("fuzz/corpus").join(target);
    let seeds = root.join("fuzz/seeds").join(target);
    std::fs::create_dir_all(&corpus)
        .with_context(|| format!("cannot create {}", corpus.display()))?;
    let mut command = fuzz_command(root);
    command
        .args(["run", "-s", "none", target])
        .arg(&corpus)
        .args(seeds.is_dir().then_some(&seeds))
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        // A parser that allocates without bound shows as an out-of-memory crash.
        .arg("-rss_limit_mb=1024")
        .arg("-max_len=65536")
        .arg("-print_final_stats=1")
        .stderr(Stdio::piped());
    println!("== fuzz {target} ({seconds} s)");
    let output = command
        .output()
        .with_context(|| format!("cannot run cargo fuzz run {target}"))?;
    let log = String::from_utf8_lossy(&output.stderr);
    let executions = final_stat(&log, "stat::number_of_executed_units:").unwrap_or(0);
    let crashed = !output.status.success();
    if crashed {
        // The whole report: the panic message and where the input was saved.
        eprintln!("{log}");
    } else {
        println!("   {executions} executions, no crash");
    }
    Ok(Outcome {
        target: target.to_owned(),
        executions,
        seconds,
        crashed,
    })
}

/// The value of a `-print_final_stats` line such as `stat::number_of_executed_units: 1234`.
fn final_stat(log: &str, name: &str) -> Option<u64> {
    log.lines()
        .find_map(|line| line.trim().strip_prefix(name))
        .and_then(|value| value.trim().parse().ok())
}

/// `cargo fuzz` in `fuzz/`'s parent with the stable-toolchain setting (see the module docs)
/// and its own target directory, so that instrumented builds never mix with the workspace's.
fn fuzz_command(root: &Path) -> Command {
    let mut command = crate::cargo::command(root);
    command.arg("fuzz").env("RUSTC_BOOTSTRAP", "1").env(
        "CARGO_TARGET_DIR",
        crate::cargo::target_dir(root).join("fuzz"),
    );
    command
}

fn ensure_cargo_fuzz(root: &Path) -> anyhow::Result<()> {
    let present = crate::cargo::command(root)
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    println!("== cargo install cargo-fuzz {CARGO_FUZZ_VERSION}");
    let status = crate::cargo::command(root)
        .args([
            "install",
            "--locked",
            "cargo-fuzz",
            "--version",
            CARGO_FUZZ_VERSION,
        ])
        .status()
        .context("cannot run cargo install")?;
    if !status.success() {
        bail!("installing cargo-fuzz failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzers_final_stats() {
        let log =
            "#1000\tDONE cov: 6\nstat::number_of_executed_units: 52311\nstat::peak_rss_mb: 40\n";
        assert_eq!(
            final_stat(log, "stat::number_of_executed_units:"),
            Some(52311)
        );
        assert_eq!(
            final_stat("no stats", "stat::number_of_executed_units:"),
            None
        );
    }

    #[test]
    fn every_target_is_declared_in_the_fuzz_manifest() {
        let manifest =
            std::fs::read_to_string(crate::source::workspace_root().join("fuzz/Cargo.toml"))
                .expect("fuzz/Cargo.toml");
        for target in TARGETS {
            assert!(
                manifest.contains(&format!("name = \"{target}\"")),
                "{target} is not a [[bin]] of fuzz/Cargo.toml"
            );
        }
    }
}
