//! The real `teleport-gitlab` binary as a subprocess: `configure` and `version`; a config
//! with the token in a file, an issue opened, the debug log free of the token and the
//! webhook secret, SIGTERM → exit 0; `start --insecure-no-tls` registering a plain-HTTP
//! hook; start-up refusing a wrong token with exit 1 and one clear line.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{Env, HOOK_SECRET, PROJECT_PATH, TOKEN, WAIT};
use teleport_plugin_testsupport::{cli_stdout, log_file, run_to_exit, start_plugin, terminate};

const BINARY: &str = env!("CARGO_BIN_EXE_teleport-gitlab");

struct Files {
    config: PathBuf,
    log: PathBuf,
}

/// A config in the Go layout with the token and the webhook secret in files; `webhook`
/// adds `[http]` and the secret, otherwise the plugin polls.
fn write_config(env: &Env, name: &str, token: &str, webhook: bool) -> Files {
    let dir = env.dir.path();
    let token_file = dir.join(format!("{name}.token"));
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let secret_file = dir.join(format!("{name}.secret"));
    std::fs::write(&secret_file, HOOK_SECRET).unwrap();
    let log = dir.join(format!("{name}.log"));
    let mode = if webhook {
        format!(
            "webhook_secret = \"file:{}\"\n\n[http]\npublic_addr = \"127.0.0.1:8044\"\nlisten_addr = \":8044\"\n",
            secret_file.display()
        )
    } else {
        "poll_interval = \"5s\"\n".to_owned()
    };
    let text = format!(
        r#"[teleport]
addr = "{addr}"
identity = "{identity}"

[db]
path = "/var/lib/teleport/plugins/gitlab/database"

[log]
output = "{log}"
severity = "debug"

[gitlab]
url = "{url}"
token = "{token_file}"
project_id = "{PROJECT_PATH}"
{mode}"#,
        addr = env.kit.auth_addr(),
        identity = env.identity.display(),
        log = log.display(),
        url = env.gitlab.base_url(),
        token_file = token_file.display(),
    );
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(&config, text).unwrap();
    Files { config, log }
}

fn log_text(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

#[tokio::test]
async fn configure_and_version() {
    let sample = cli_stdout(BINARY, &["configure"]);
    assert!(
        sample.contains("[gitlab]") && sample.contains("project_id"),
        "{sample}"
    );
    let version = cli_stdout(BINARY, &["version"]);
    assert!(
        version.starts_with(&format!("teleport-gitlab v{}", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
}

#[tokio::test]
async fn opens_issues_keeps_secrets_out_of_the_log_and_stops_on_sigterm() {
    let env = Env::new().await;
    let files = write_config(&env, "polling", TOKEN, false);
    let (stdout, stderr) = log_file(&env.dir.path().join("polling.out"));
    let mut process = start_plugin(BINARY, &files.config, stdout, stderr);
    env.kit
        .wait_for_watchers(1, WAIT)
        .await
        .expect("the plugin watches requests");

    let id = env.request("alice", &["dev"]);
    let issue = env.wait_issue(&id, "the issue", |_| true).await;
    assert_eq!(issue.labels, ["Teleport: Pending"]);
    env.wait_data(&id, "recorded", |d| {
        d.contains_key("issue_iid") && common::released(d)
    })
    .await;

    let status = terminate(&mut process, WAIT).await;
    let log = log_text(&files.log);
    assert!(status.success(), "exit status {status:?}; log:\n{log}");
    assert!(log.contains("Successfully shut down"), "{log}");
    assert!(log.contains("\"db\" has no effect"), "{log}");
    assert!(log.contains("opened a GitLab issue"), "{log}");
    assert!(!log.contains(TOKEN), "the token is never logged");
    assert!(!log.contains(HOOK_SECRET));
}

#[tokio::test]
async fn insecure_no_tls_registers_a_plain_http_hook() {
    let env = Env::new().await;
    let files = write_config(&env, "webhook", TOKEN, true);
    let (stdout, stderr) = log_file(&env.dir.path().join("webhook.out"));
    let mut process = tokio::process::Command::new(BINARY)
        .args(["start", "--insecure-no-tls", "-c"])
        .arg(&files.config)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let hook = env
        .gitlab
        .wait_for(WAIT, |s| s.hooks.first().cloned())
        .await
        .expect("the hook is registered");
    assert_eq!(hook.url, "http://127.0.0.1:8044/webhook");
    assert_eq!(hook.token, HOOK_SECRET);
    env.kit.wait_for_watchers(1, WAIT).await.unwrap();
    let status = terminate(&mut process, WAIT).await;
    assert!(status.success(), "{}", log_text(&files.log));
    assert!(!log_text(&files.log).contains(HOOK_SECRET));
}

#[tokio::test]
async fn a_wrong_token_stops_start_up_with_one_clear_line() {
    let env = Env::new().await;
    let files = write_config(&env, "wrong", "glpat-not-the-token", false);
    let out = run_to_exit(BINARY, &files.config, Duration::from_secs(60)).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(line.contains("GitLab API health check failed"), "{line}");
    assert!(line.contains("check gitlab.token"), "{line}");
    assert!(!stderr.contains("glpat-not-the-token"), "{stderr}");
    assert!(!log_text(&files.log).contains("glpat-not-the-token"));
    assert!(env.gitlab.issues().is_empty());
}
