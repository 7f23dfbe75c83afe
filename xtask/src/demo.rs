//! `cargo xtask demo`: builds teleport-slack and the demo driver, then runs the
//! demo (an in-process Teleport, a local fake Slack, the real plugin binary).

use std::process::Command;

use anyhow::{Context, bail};

/// Arguments of `cargo xtask demo` (none yet).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Builds and runs the demo.
pub fn run(_args: Args) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = crate::source::workspace_root();
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "-p",
            "teleport-slack",
            "-p",
            "teleport-demo",
        ])
        .status()
        .context("cannot run cargo build")?;
    if !status.success() {
        bail!("building the demo failed");
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let status = Command::new(target.join("debug/teleport-demo"))
        .current_dir(&root)
        .arg("--plugin-bin")
        .arg(target.join("debug/teleport-slack"))
        .arg("--work-dir")
        .arg(target.join("demo"))
        .status()
        .context("cannot run the demo")?;
    if !status.success() {
        bail!("the demo failed");
    }
    Ok(())
}
