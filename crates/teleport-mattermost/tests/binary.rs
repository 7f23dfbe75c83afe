//! The real `teleport-mattermost` binary: `configure`, `version`, and `start` with a config file.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use teleport_mattermost::MattermostPlugin;
use teleport_plugin_runtime::plugin::Plugin;
use teleport_plugin_testsupport::{cli_stdout, run_to_exit, start_plugin, terminate};

const BINARY: &str = env!("CARGO_BIN_EXE_teleport-mattermost");

#[test]
fn configure_prints_the_sample_and_version_names_the_binary() {
    assert_eq!(
        cli_stdout(BINARY, &["configure"]),
        MattermostPlugin::SAMPLE_CONFIG
    );

    let line = cli_stdout(BINARY, &["version"]);
    assert!(line.starts_with("teleport-mattermost v"), "{line}");
}

#[tokio::test]
async fn start_posts_then_stops_cleanly_on_sigterm() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(TOKEN, "\"*\" = \"eng/access-requests\"");
    let mut child = start_plugin(BINARY, &path, Stdio::null(), Stdio::piped());
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

    let status = terminate(&mut child, Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn start_with_a_bad_token_exits_with_one_error_line() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config("bad-token", "\"*\" = \"eng/access-requests\"");
    let out = run_to_exit(BINARY, &path, Duration::from_secs(60)).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(last.contains("token"), "{stderr}");
    assert!(!stderr.contains("bad-token"), "{stderr}");
}
