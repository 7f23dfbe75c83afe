//! The real `teleport-pagerduty` binary as a subprocess: `configure` and `version`, a Go
//! style config (file secret, `RequestAnnotations` spelling), the dry-run decision in the
//! log, SIGKILL mid-life and a restart without a second incident, SIGTERM → exit 0, and
//! start-up refusing a bad API key or an unknown `From` user.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{API_KEY, BOT_EMAIL, Env, NOTIFY, NOTIFY_SERVICE, SERVICES, WAIT};
use teleport_plugin_testsupport::{
    cli_stdout, free_port, http_get, run_to_exit, start_plugin, terminate,
};
use tokio::process::Child;

const BINARY: &str = env!("CARGO_BIN_EXE_teleport-pagerduty");

struct Files {
    config: PathBuf,
    log: PathBuf,
}

fn write_config(
    env: &Env,
    name: &str,
    api_key: &str,
    user_email: &str,
    ops_port: Option<u16>,
) -> Files {
    let dir = env.dir.path();
    let key_file = dir.join(format!("{name}.key"));
    std::fs::write(&key_file, format!("{api_key}\n")).unwrap();
    let log = dir.join(format!("{name}.log"));
    let ops = ops_port
        .map(|port| format!("[ops]\nlisten_addr = \"127.0.0.1:{port}\"\n"))
        .unwrap_or_default();
    let text = format!(
        r#"[teleport]
addr = "{addr}"
identity = "{identity}"

[pagerduty]
api_key = "{key}"
user_email = "{user_email}"
api_endpoint = "{endpoint}"

[pagerduty.RequestAnnotations]
notify_service = "{NOTIFY}"
services = "{SERVICES}"

[pagerduty.auto_approval]
dry_run = true

[log]
output = "{log}"
severity = "debug"

{ops}"#,
        addr = env.kit.auth_addr(),
        identity = env.identity.display(),
        key = key_file.display(),
        endpoint = env.pd.base_url(),
        log = log.display(),
    );
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(&config, text).unwrap();
    Files { config, log }
}

fn start(config: &Path) -> Child {
    start_plugin(BINARY, config, Stdio::null(), Stdio::piped())
}

fn log_text(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

async fn ready(port: u16) -> bool {
    http_get(([127, 0, 0, 1], port).into(), "/readyz")
        .await
        .is_some_and(|(status, _)| status.starts_with("HTTP/1.1 200"))
}

#[tokio::test]
async fn configure_and_version() {
    let sample = cli_stdout(BINARY, &["configure"]);
    assert!(
        sample.contains("[pagerduty]") && sample.contains("user_email"),
        "{sample}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.toml");
    std::fs::write(&path, &sample).unwrap();
    teleport_pagerduty::config::load(&path).expect("the printed sample is a valid config");

    let version = cli_stdout(BINARY, &["version"]);
    assert!(
        version.starts_with(&format!(
            "teleport-pagerduty v{}",
            env!("CARGO_PKG_VERSION")
        )),
        "{version}"
    );
}

#[tokio::test]
async fn dry_run_is_logged_and_a_killed_process_is_replaced_without_a_second_incident() {
    let env = Env::new().await;
    env.on_call("alice@example.com", "ep1", 1, Some("Primary"));
    let port = free_port();
    let first = write_config(&env, "first", API_KEY, BOT_EMAIL, Some(port));
    let mut process = start(&first.config);
    env.kit
        .wait_for_watchers(1, WAIT)
        .await
        .expect("the plugin watches requests");
    common::eventually("/readyz answers 200", || ready(port)).await;

    let id = env.request(
        "alice@example.com",
        &["dev"],
        &[(NOTIFY, &[NOTIFY_SERVICE]), (SERVICES, &["service 1"])],
    );
    let data = env
        .wait_data(&id, "incident and decision", |d| {
            d.contains_key("incident_id")
                && d.get("auto_approval").map(String::as_str) == Some("dry_run")
                && d.get("claim").is_none_or(String::is_empty)
        })
        .await;
    assert_eq!(
        env.request_state(&id),
        (
            teleport_testkit::wire::types::RequestState::Pending as i32,
            0
        )
    );
    common::eventually("the dry-run line in the log", || {
        let log = log_text(&first.log);
        async move { log.contains("dry run: would auto-approve the request") }
    })
    .await;
    let log = log_text(&first.log);
    let line = log
        .lines()
        .find(|l| l.contains("dry run: would auto-approve"))
        .unwrap();
    assert!(
        line.contains("service 1 (escalation level 1, schedule Primary)"),
        "{line}"
    );
    assert!(line.contains(&id), "the line names the request: {line}");
    assert!(!log.contains(API_KEY), "the API key is never logged");

    // SIGKILL: no clean shutdown, no chance to release anything.
    process.kill().await.unwrap();
    env.kit.wait_for_watchers(0, WAIT).await.unwrap();
    env.kit
        .approve(&id, "approved while the plugin was down")
        .unwrap();

    let second = write_config(&env, "second", API_KEY, BOT_EMAIL, None);
    let mut process = start(&second.config);
    let incident = env
        .wait_incident(&id, "resolved by the new process", |i| {
            i.status == "resolved"
        })
        .await;
    assert_eq!(incident.id, data["incident_id"]);
    assert_eq!(
        incident.notes.last().unwrap().content,
        "Access request has been approved\nReason: approved while the plugin was down"
    );
    assert_eq!(env.incidents_for(&id).len(), 1);
    assert_eq!(env.pd.call_count("POST /incidents"), 1);

    // SIGTERM: a graceful stop with exit code 0.
    env.wait_data(&id, "closed", |d| {
        d.get("close_progress").map(String::as_str) == Some("done")
    })
    .await;
    let status = terminate(&mut process, WAIT).await;
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        log_text(&second.log)
    );
    assert!(log_text(&second.log).contains("Successfully shut down"));
}

async fn failed_start(config: &Path) -> String {
    let out = run_to_exit(BINARY, config, Duration::from_secs(60)).await;
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8(out.stderr).unwrap()
}

#[tokio::test]
async fn start_up_refuses_a_bad_key_and_warns_of_an_unknown_from_user() {
    let env = Env::new().await;
    let wrong_key = write_config(&env, "wrong-key", "not-the-key", BOT_EMAIL, None);
    let stderr = failed_start(&wrong_key.config).await;
    assert!(
        stderr.contains("PagerDuty API health check failed"),
        "{stderr}"
    );
    assert!(stderr.contains("refused the API key"), "{stderr}");
    assert!(!stderr.contains("not-the-key"), "{stderr}");

    // The Go plugin never checked user_email: the plugin starts, warns and serves.
    let unknown_user = write_config(&env, "unknown-user", API_KEY, "ghost@example.com", None);
    let mut process = start(&unknown_user.config);
    env.kit.wait_for_watchers(1, WAIT).await.unwrap();
    let status = terminate(&mut process, WAIT).await;
    let log = log_text(&unknown_user.log);
    assert!(status.success(), "{log}");
    assert!(
        log.contains("no user with the e-mail ghost@example.com"),
        "{log}"
    );
    assert!(env.pd.incidents().is_empty());
}
