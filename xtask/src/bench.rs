//! `cargo xtask bench`: builds the release `teleport-slack` and the benchmark driver,
//! then runs the driver (crates/teleport-bench), which prints the tables and writes
//! `<target>/bench/report.json`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

/// Arguments of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Small sizes (1 000 requests, 5 s steady): a smoke run, not a measurement.
    #[arg(long)]
    pub quick: bool,
    /// Anything else goes to teleport-bench as is (see `teleport-bench --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// Builds and runs the benchmark.
pub fn run(args: Args) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = crate::source::workspace_root();
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "-p",
            "teleport-slack",
            "-p",
            "teleport-bench",
        ])
        .status()
        .context("cannot run cargo build")?;
    if !status.success() {
        bail!("building teleport-slack and teleport-bench failed");
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let mut command = Command::new(target.join("release/teleport-bench"));
    command
        .current_dir(&root)
        .arg("--plugin-bin")
        .arg(target.join("release/teleport-slack"))
        .arg("--out-dir")
        .arg(target.join("bench"));
    if args.quick {
        command.arg("--quick");
    }
    let status = command
        .args(&args.rest)
        .status()
        .context("cannot run teleport-bench")?;
    if !status.success() {
        bail!("the benchmark failed");
    }
    Ok(())
}
