//! `cargo xtask demo`: builds teleport-slack and the demo driver, then runs the
//! demo (an in-process Teleport, a local fake Slack, the real plugin binary).

use std::process::Command;

use anyhow::{Context, bail};

/// Arguments of `cargo xtask demo` (none yet).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// Builds and runs the demo.
pub(crate) fn run(_args: Args) -> anyhow::Result<()> {
    let root = crate::source::workspace_root();
    crate::cargo::build(&root, &["--quiet"], &["teleport-slack", "teleport-demo"])?;
    let target = crate::cargo::target_dir(&root);
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
