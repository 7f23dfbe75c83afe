//! The real `teleport-mattermost` binary: `configure`, `version`, and `start` with a config file.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use teleport_mattermost::SAMPLE_CONFIG;

const BINARY: &str = env!("CARGO_BIN_EXE_teleport-mattermost");

#[test]
fn configure_prints_the_sample_and_version_names_the_binary() {
    let out = Command::new(BINARY).arg("configure").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), SAMPLE_CONFIG);

    let out = Command::new(BINARY).arg("version").output().unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.starts_with("teleport-mattermost v"), "{line}");
}

#[tokio::test]
async fn start_posts_then_stops_cleanly_on_sigterm() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(TOKEN, "\"*\" = \"eng/access-requests\"");
    let mut child = tokio::process::Command::new(BINARY)
        .args(["start", "-c"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    env.wait_for_watcher().await;
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .unwrap();
    let id = request_id(&request);
    let post = env
        .fake
        .wait_for(WAIT, |s| s.roots().next().cloned())
        .await
        .expect("post");
    assert!(post.message.contains(&id));

    let pid = child.id().expect("running").to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits in time")
        .unwrap();
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn start_with_a_bad_token_exits_with_one_error_line() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config("bad-token", "\"*\" = \"eng/access-requests\"");
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(BINARY)
            .args(["start", "-c"])
            .arg(&path)
            .output(),
    )
    .await
    .expect("exits in time")
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(last.contains("token"), "{stderr}");
    assert!(!stderr.contains("bad-token"), "{stderr}");
}
