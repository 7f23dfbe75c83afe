//! `cargo xtask chaos [--plugin slack|mattermost|discord]`: builds that chat plugin
//! (Slack by default) and the benchmark driver and runs
//! `teleport-bench chaos` (replicas under injected faults; see crates/teleport-bench/src/chaos.rs),
//! which prints the report table and writes `<target>/bench/chaos-report.json`.
//!
//! The full run (release build, 3 replicas, 10 000 requests over 5 minutes) is the figure
//! for docs/performance.md; `--quick` (debug build, 3 replicas, 1 000 requests over 40 s) is
//! the variant `cargo xtask test` runs.

use std::process::Command;

use anyhow::{Context, bail};

/// The chat plugins the chaos harness drives.
pub(crate) const CHAT_PLUGINS: [&str; 3] =
    ["teleport-slack", "teleport-mattermost", "teleport-discord"];

/// Arguments of `cargo xtask chaos`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Debug build, 1 000 requests over 40 s: the CI variant.
    #[arg(long)]
    pub quick: bool,
    /// The chat plugin under test: slack, mattermost or discord.
    #[arg(long, default_value = "slack", value_parser = ["slack", "mattermost", "discord"])]
    pub plugin: String,
    /// Anything else goes to `teleport-bench chaos` as is (`--seed`, `--requests`, ...).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// Builds and runs the chaos scenario; fails when anything was lost, doubled or left.
pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let root = crate::source::workspace_root();
    let (flags, profile): (&[&str], &str) = if args.quick {
        (&[], "debug")
    } else {
        (&["--release"], "release")
    };
    let binary = format!("teleport-{}", args.plugin);
    // The quick runs (one per chat plugin in `cargo xtask test`) build the same package set
    // each time, so the driver is compiled once and not again per plugin.
    let packages: Vec<&str> = if args.quick {
        CHAT_PLUGINS
            .iter()
            .copied()
            .chain(["teleport-bench"])
            .collect()
    } else {
        vec![binary.as_str(), "teleport-bench"]
    };
    crate::cargo::build(&root, flags, &packages)?;
    let target = crate::cargo::target_dir(&root);
    let mut command = Command::new(target.join(profile).join("teleport-bench"));
    command
        .current_dir(&root)
        .arg("chaos")
        .arg("--destination")
        .arg(&args.plugin)
        .arg("--plugin-bin")
        .arg(target.join(profile).join(&binary))
        .arg("--out-dir")
        .arg(target.join("bench"));
    if args.quick {
        command.args([
            "--requests",
            "1000",
            "--burst",
            "50",
            "--duration-secs",
            "40",
            "--rotate-secs",
            "15",
            // The known crash window (docs/performance.md, issue 16): a SIGKILL while sends are
            // in flight can leave a few posted-but-unrecorded messages that the next replica
            // sends again. CI tolerates a handful so it does not flake on timing; the full run
            // tolerates none, and every report prints the count. Lost, un-final and leaked
            // always fail.
            "--max-twice",
            "5",
        ]);
    }
    let status = command
        .args(&args.rest)
        .status()
        .context("cannot run teleport-bench chaos")?;
    if !status.success() {
        bail!("the chaos run failed: see the report above");
    }
    Ok(())
}
