//! The real `teleport-opsgenie` binary: `configure`, `version`, `start` with a config file
//! (a key file, the alert, SIGTERM → exit 0), and start-up refusing a bad key.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::{API_KEY, Env, NOTIFY};
use teleport_opsgenie::OpsgeniePlugin;
use teleport_plugin_runtime::plugin::Plugin;
use teleport_plugin_testsupport::{cli_stdout, run_to_exit, start_plugin, terminate};

const BINARY: &str = env!("CARGO_BIN_EXE_teleport-opsgenie");

fn write_config(env: &Env, key: &str) -> std::path::PathBuf {
    let dir = env.dir.path();
    let key_file = dir.join("opsgenie_api_key");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let text = format!(
        "[teleport]\naddr = \"{addr}\"\nidentity = \"{identity}\"\n\n\
         [opsgenie]\napi_key = \"{key_file}\"\napi_endpoint = \"{endpoint}\"\n",
        addr = env.kit.auth_addr(),
        identity = env.identity.display(),
        key_file = key_file.display(),
        endpoint = env.og.base_url(),
    );
    let path = dir.join("teleport-opsgenie.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn configure_prints_the_sample_and_version_names_the_binary() {
    assert_eq!(
        cli_stdout(BINARY, &["configure"]),
        OpsgeniePlugin::SAMPLE_CONFIG
    );
    let line = cli_stdout(BINARY, &["version"]);
    assert!(line.starts_with("teleport-opsgenie v"), "{line}");
}

#[tokio::test]
async fn start_opens_an_alert_then_stops_cleanly_on_sigterm() {
    let env = Env::new().await;
    let path = write_config(&env, API_KEY);
    let mut child = start_plugin(BINARY, &path, Stdio::null(), Stdio::piped());
    env.kit
        .wait_for_watchers(1, common::WAIT)
        .await
        .expect("watching");
    let id = env.request("bob@example.com", &["dev"], &[(NOTIFY, &["Primary"])]);
    env.wait_alert(&id, "the alert", |_| true).await;
    let status = terminate(&mut child, Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn start_with_a_bad_key_exits_with_one_error_line() {
    let env = Env::new().await;
    let path = write_config(&env, "bad-key");
    let out = run_to_exit(BINARY, &path, Duration::from_secs(60)).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(last.contains("api_key"), "{stderr}");
    assert!(!stderr.contains("bad-key"), "{stderr}");
}
