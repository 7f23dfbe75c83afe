//! The real `teleport-datadog` binary: `configure`, `version`, `start` with a config file
//! (key files, the incident, SIGTERM → exit 0), and start-up refusing a bad key.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::{API_KEY, APP_KEY, Env};
use teleport_datadog::DatadogPlugin;
use teleport_plugin_runtime::plugin::Plugin;
use teleport_plugin_testsupport::{cli_stdout, run_to_exit, start_plugin, terminate};

const BINARY: &str = env!("CARGO_BIN_EXE_teleport-datadog");

fn write_config(env: &Env, app_key: &str) -> std::path::PathBuf {
    let dir = env.dir.path();
    let api_key_file = dir.join("datadog_api_key");
    let app_key_file = dir.join("datadog_application_key");
    std::fs::write(&api_key_file, format!("{API_KEY}\n")).unwrap();
    std::fs::write(&app_key_file, format!("{app_key}\n")).unwrap();
    let text = format!(
        "[teleport]\naddr = \"{addr}\"\nidentity = \"{identity}\"\n\n\
         [datadog]\napi_endpoint = \"{endpoint}\"\napi_key = \"{api}\"\napplication_key = \"{app}\"\n\n\
         [role_to_recipients]\n\"*\" = [\"platform\"]\n",
        addr = env.kit.auth_addr(),
        identity = env.identity.display(),
        endpoint = env.dd.base_url(),
        api = api_key_file.display(),
        app = app_key_file.display(),
    );
    let path = dir.join("teleport-datadog.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn configure_prints_the_sample_and_version_names_the_binary() {
    assert_eq!(
        cli_stdout(BINARY, &["configure"]),
        DatadogPlugin::SAMPLE_CONFIG
    );
    let line = cli_stdout(BINARY, &["version"]);
    assert!(line.starts_with("teleport-datadog v"), "{line}");
}

#[tokio::test]
async fn start_creates_an_incident_then_stops_cleanly_on_sigterm() {
    let env = Env::new().await;
    let path = write_config(&env, APP_KEY);
    let mut child = start_plugin(BINARY, &path, Stdio::null(), Stdio::piped());
    env.kit
        .wait_for_watchers(1, common::WAIT)
        .await
        .expect("watching");
    let id = env.request("bob@example.com", &["dev"], &[]);
    let incident = env.wait_incident(&id, "the incident", |_| true).await;
    assert_eq!(incident.field_values("teams"), ["platform"]);
    assert_eq!(incident.field("severity"), "SEV-3", "Go's default");
    let status = terminate(&mut child, Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn start_with_a_bad_key_exits_with_one_error_line() {
    let env = Env::new().await;
    let path = write_config(&env, "bad-app-key");
    let out = run_to_exit(BINARY, &path, Duration::from_secs(60)).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(last.contains("application_key"), "{stderr}");
    assert!(!stderr.contains("bad-app-key"), "{stderr}");
    assert!(!stderr.contains(API_KEY), "{stderr}");
}
