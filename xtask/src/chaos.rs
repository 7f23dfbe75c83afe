//! `cargo xtask chaos [--plugin slack|mattermost|discord|msteams|email|pagerduty|opsgenie|
//! servicenow|datadog|jira|gitlab]`: builds that plugin (Slack by default) and the benchmark driver and runs
//! `teleport-bench chaos` (replicas under injected faults; see crates/teleport-bench/src/chaos.rs),
//! which prints the report table and writes `<target>/bench/chaos-report.json`.
//!
//! The full run (release build, 3 replicas, 10 000 requests over 5 minutes) is the figure
//! for docs/performance.md; `--quick` (debug build, 3 replicas, 1 000 requests over 40 s) is
//! the variant `cargo xtask test` runs for the chat plugins; the other plugins' quick
//! variant is shorter still (300 requests over 20 s), so that eight more runs cost CI
//! minutes, not a quarter hour.

use std::process::Command;

use anyhow::{Context, bail};

/// The chat plugins the chaos harness drives with the longer quick schedule.
pub(crate) const CHAT_PLUGINS: [&str; 3] =
    ["teleport-slack", "teleport-mattermost", "teleport-discord"];

/// The other plugins it drives (Teams, e-mail through Mailgun, the incident services, the
/// trackers), with the shorter quick schedule.
pub(crate) const OTHER_PLUGINS: [&str; 8] = [
    "teleport-msteams",
    "teleport-email",
    "teleport-pagerduty",
    "teleport-opsgenie",
    "teleport-servicenow",
    "teleport-datadog",
    "teleport-jira",
    "teleport-gitlab",
];

/// Arguments of `cargo xtask chaos`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Debug build, 1 000 requests over 40 s: the CI variant.
    #[arg(long)]
    pub quick: bool,
    /// The plugin under test, its binary's name without `teleport-`.
    #[arg(long, default_value = "slack", value_parser = [
        "slack", "mattermost", "discord", "msteams", "email", "pagerduty", "opsgenie",
        "servicenow", "datadog", "jira", "gitlab",
    ])]
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
    // The quick runs (one per plugin in `cargo xtask test`) build the same package set
    // each time, so the driver is compiled once and not again per plugin.
    let packages: Vec<&str> = if args.quick {
        CHAT_PLUGINS
            .iter()
            .chain(OTHER_PLUGINS.iter())
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
    let chat = CHAT_PLUGINS.contains(&binary.as_str());
    if args.quick {
        let (requests, burst, duration, rotate) = if chat {
            ("1000", "50", "40", "15")
        } else {
            ("300", "30", "20", "10")
        };
        command.args([
            "--requests",
            requests,
            "--burst",
            burst,
            "--duration-secs",
            duration,
            "--rotate-secs",
            rotate,
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
