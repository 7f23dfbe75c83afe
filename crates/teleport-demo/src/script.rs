//! The demo's steps.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use teleport_fakes::slack::SlackEvent;
use teleport_fakes::{FakeSlack, FakeSlackOptions};
use teleport_testkit::{IdentityRequest, Testkit, Verdict};
use tokio::process::Command;
use tokio::sync::broadcast;

use crate::Args;

const WAIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "xoxb-demo-token";

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    if !args.plugin_bin.exists() {
        bail!(
            "{} not found; build it first (cargo build -p teleport-slack)",
            args.plugin_bin.display()
        );
    }
    std::fs::create_dir_all(&args.work_dir)
        .with_context(|| format!("cannot create {}", args.work_dir.display()))?;

    let kit = Testkit::builder()
        .cluster_name("demo.teleport.example")
        .start()
        .await?;
    let slack = FakeSlack::start(
        FakeSlackOptions::default()
            .token(TOKEN)
            .channel("C0ACCESS", "access-requests")
            .channel("C0DBA", "dba-oncall")
            .user("alice@example.com", "U0ALICE")
            .user("lead@example.com", "U0LEAD"),
    )
    .await;
    step(&format!(
        "Teleport (in-process testkit, mTLS) on {}; fake Slack on {}",
        kit.auth_addr(),
        slack.base_url()
    ));

    let identity = args.work_dir.join("auth_id");
    kit.issue_identity(&IdentityRequest::new("access-plugin-slack"))?
        .write_identity_file(&identity)?;
    let config = args.work_dir.join("teleport-slack.toml");
    std::fs::write(
        &config,
        format!(
            r#"[teleport]
addr = "{addr}"
identity = "{identity}"

[slack]
token = "{TOKEN}"
apiurl = "{url}"

[role_to_recipients]
"*" = "access-requests"
"dba" = ["dba-oncall", "lead@example.com"]

[log]
output = "{log}"
severity = "INFO"
"#,
            addr = kit.auth_addr(),
            identity = identity.display(),
            url = slack.base_url(),
            log = args.work_dir.join("teleport-slack.log").display(),
        ),
    )?;
    step(&format!("wrote an identity file and {}", config.display()));

    let mut events = slack.subscribe();
    let mut plugin = Command::new(&args.plugin_bin)
        .args(["start", "-c"])
        .arg(&config)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", args.plugin_bin.display()))?;
    kit.wait_for_watchers(1, WAIT)
        .await
        .context("teleport-slack did not start watching")?;
    step("teleport-slack is running and watching access requests");

    step("1. alice@example.com asks for the `dba` role");
    let approved = kit
        .new_request("alice@example.com", &["dba"])
        .reason("rotate the production database keys")
        .create()?
        .metadata
        .unwrap_or_default()
        .name;
    // The DBA channel, the lead's DM, and alice herself (Go sends the requester the request too).
    show(&mut events, 3).await?;

    step("2. bob asks for `editor`; carol asks for `auditor`");
    let denied = kit
        .create_request("bob", &["editor"], "fix the docs")?
        .metadata
        .unwrap_or_default()
        .name;
    let expiring = kit
        .create_request("carol", &["auditor"], "quarterly audit")?
        .metadata
        .unwrap_or_default()
        .name;
    show(&mut events, 2).await?;

    step(
        "3. lead@example.com approves alice's request: a thread reply on each message, the messages updated, alice told",
    );
    kit.review(
        &approved,
        "lead@example.com",
        Verdict::Approve,
        "go ahead, one hour",
    )?;
    // A thread reply and an update for each of the three messages, and alice's DM.
    show(&mut events, 7).await?;

    step("4. bob's request is denied");
    kit.review(
        &denied,
        "lead@example.com",
        Verdict::Deny,
        "docs freeze this week",
    )?;
    show(&mut events, 2).await?;

    step("5. carol's request expires before anyone reviews it");
    kit.expire(&expiring)?;
    show(&mut events, 1).await?;

    step("stopping teleport-slack (SIGTERM)");
    if let Some(pid) = plugin.id() {
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
    }
    let status = tokio::time::timeout(WAIT, plugin.wait())
        .await
        .context("teleport-slack did not stop")??;
    step(&format!(
        "teleport-slack exited with {status}; its log is in {}",
        args.work_dir.join("teleport-slack.log").display()
    ));
    if !status.success() {
        bail!("teleport-slack failed");
    }
    Ok(())
}

fn step(text: &str) {
    println!("\n▶ {text}");
}

/// Prints the next `count` Slack events as they arrive.
async fn show(events: &mut broadcast::Receiver<SlackEvent>, count: usize) -> anyhow::Result<()> {
    for _ in 0..count {
        let event = tokio::time::timeout(WAIT, events.recv())
            .await
            .context("teleport-slack did not post in time")??;
        println!("{}", describe(&event));
    }
    Ok(())
}

fn describe(event: &SlackEvent) -> String {
    let (what, channel, text) = match event {
        SlackEvent::Posted(message) if message.thread_ts.is_some() => (
            "thread reply",
            &message.channel,
            message.current().visible_text(),
        ),
        SlackEvent::Posted(message) => (
            "new message",
            &message.channel,
            message.current().visible_text(),
        ),
        SlackEvent::Updated {
            channel, content, ..
        } => ("message updated", channel, content.visible_text()),
    };
    let mut out = format!("  Slack {what} in {channel}:");
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        out.push_str("\n    │ ");
        out.push_str(line);
    }
    out
}
