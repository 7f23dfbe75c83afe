//! Running the workspace's own cargo from xtask: the build step and the target directory
//! that `demo`, `bench` and `test` share, and any command run as a named step.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The cargo that runs xtask (`CARGO`), in the workspace root.
pub(crate) fn command(root: &Path) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root);
    command
}

/// `cargo build <flags>` of `packages`.
pub(crate) fn build(root: &Path, flags: &[&str], packages: &[&str]) -> anyhow::Result<()> {
    let mut command = command(root);
    command.arg("build").args(flags);
    for package in packages {
        command.args(["-p", package]);
    }
    let status = command.status().context("cannot run cargo build")?;
    if !status.success() {
        bail!("building {} failed", packages.join(" and "));
    }
    Ok(())
}

/// Where cargo puts the builds: `CARGO_TARGET_DIR`, else `<root>/target`.
pub(crate) fn target_dir(root: &Path) -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"))
}

/// Runs `command` to its end as the step `what`: an error names the step, and a failed exit
/// its status.
pub(crate) fn run_step(what: &str, command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}
