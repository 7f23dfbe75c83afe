//! `cargo xtask bench`: builds the release `teleport-slack` and the benchmark driver,
//! then runs the driver (crates/teleport-bench), which prints the tables and writes
//! `<target>/bench/report.json`.

use std::process::Command;

use anyhow::{Context, bail};

/// Arguments of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Small sizes (1 000 requests, 5 s steady): a smoke run, not a measurement.
    #[arg(long)]
    pub quick: bool,
    /// Anything else goes to teleport-bench as is (see `teleport-bench --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// Builds and runs the benchmark.
pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let root = crate::source::workspace_root();
    crate::cargo::build(&root, &["--release"], &["teleport-slack", "teleport-bench"])?;
    let target = crate::cargo::target_dir(&root);
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
