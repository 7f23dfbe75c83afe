//! The real `teleport-servicenow` binary: `configure`, `version`, `start` with a config
//! file (a token file, the incident, SIGTERM → exit 0), and start-up refusing a bad token.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::{API_TOKEN, CLOSE_CODE, Env, USERNAME};
use teleport_plugin_runtime::plugin::Plugin;
use teleport_plugin_testsupport::{cli_stdout, run_to_exit, start_plugin, terminate};
use teleport_servicenow::ServiceNowPlugin;

const BINARY: &str = env!("CARGO_BIN_EXE_teleport-servicenow");

fn write_config(env: &Env, token: &str) -> std::path::PathBuf {
    let dir = env.dir.path();
    let token_file = dir.join("servicenow_api_token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let text = format!(
        "[teleport]\naddr = \"{addr}\"\nidentity = \"{identity}\"\n\n\
         [servicenow]\napi_endpoint = \"{endpoint}\"\nusername = \"{USERNAME}\"\n\
         api_token = \"{token_file}\"\nclose_code = \"{CLOSE_CODE}\"\n",
        addr = env.kit.auth_addr(),
        identity = env.identity.display(),
        token_file = token_file.display(),
        endpoint = env.sn.base_url(),
    );
    let path = dir.join("teleport-servicenow.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn configure_prints_the_sample_and_version_names_the_binary() {
    assert_eq!(
        cli_stdout(BINARY, &["configure"]),
        ServiceNowPlugin::SAMPLE_CONFIG
    );
    let line = cli_stdout(BINARY, &["version"]);
    assert!(line.starts_with("teleport-servicenow v"), "{line}");
}

#[tokio::test]
async fn start_opens_an_incident_then_stops_cleanly_on_sigterm() {
    let env = Env::new().await;
    let path = write_config(&env, API_TOKEN);
    let mut child = start_plugin(BINARY, &path, Stdio::null(), Stdio::piped());
    env.kit
        .wait_for_watchers(1, common::WAIT)
        .await
        .expect("watching");
    let id = env.request("bob", &["dev"], &[]);
    let incident = env.wait_incident(&id, "the incident", |_| true).await;
    assert_eq!(incident.caller_id, "bob");
    let status = terminate(&mut child, Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn start_with_a_bad_token_exits_with_one_error_line() {
    let env = Env::new().await;
    let path = write_config(&env, "bad-token");
    let out = run_to_exit(BINARY, &path, Duration::from_secs(60)).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(last.contains("api_token"), "{stderr}");
    assert!(!stderr.contains("bad-token"), "{stderr}");
}
