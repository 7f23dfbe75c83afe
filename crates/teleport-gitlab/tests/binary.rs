//! The real `teleport-gitlab` binary as a subprocess: `configure` and `version`; a config
//! with the token in a file, an issue opened, the debug log free of the token and the
//! webhook secret, SIGTERM → exit 0; `start --insecure-no-tls` registering a plain-HTTP
//! hook and serving it (a wrong token 401, a maintainer's label approving); start-up
//! refusing a wrong token with exit 1 and one clear line.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{Env, HOOK_SECRET, MARIA, PROJECT_PATH, TOKEN, WAIT, web_client};
use teleport_fakes::gitlab::send_issue_hook;
use teleport_plugin_testsupport::{
    cli_stdout, free_port, log_file, run_to_exit, start_plugin, terminate,
};
use teleport_testkit::wire::types::RequestState;

const BINARY: &str = env!("CARGO_BIN_EXE_teleport-gitlab");

struct Files {
    config: PathBuf,
    log: PathBuf,
}

/// A config in the Go layout with the token and the webhook secret in files; `webhook`
/// adds `[http]` and the secret, otherwise the plugin polls.
fn write_config(env: &Env, name: &str, token: &str, webhook: Option<u16>) -> Files {
    let dir = env.dir.path();
    let token_file = dir.join(format!("{name}.token"));
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let secret_file = dir.join(format!("{name}.secret"));
    std::fs::write(&secret_file, HOOK_SECRET).unwrap();
    let log = dir.join(format!("{name}.log"));
    let mode = if let Some(port) = webhook {
        format!(
            "webhook_secret = \"file:{}\"\n\n[http]\npublic_addr = \"127.0.0.1:{port}\"\nlisten_addr = \"127.0.0.1:{port}\"\n",
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
    let files = write_config(&env, "polling", TOKEN, None);
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
async fn insecure_no_tls_serves_the_plain_http_hook_it_registers() {
    let env = Env::new().await;
    let port = free_port();
    let files = write_config(&env, "webhook", TOKEN, Some(port));
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
    let url = format!("http://127.0.0.1:{port}/webhook");
    assert_eq!(hook.url, url);
    assert_eq!(hook.token, HOOK_SECRET);
    env.kit.wait_for_watchers(1, WAIT).await.unwrap();

    let (id, iid) = env.request_with_issue("alice").await;
    env.gitlab
        .add_note_as(iid, MARIA, "approved for the incident");
    let change = env.gitlab.add_label_as(iid, MARIA, "Teleport: Approved");
    let body = env
        .gitlab
        .issue_hook_body(iid, MARIA, "update", Some(&change))
        .unwrap();
    let client = web_client();
    let base = env.gitlab.base_url();
    let forged = send_issue_hook(&client, &base, &url, Some("not-the-secret"), &body)
        .await
        .unwrap();
    assert_eq!(forged.as_u16(), 401);
    assert_eq!(env.state(&id), RequestState::Pending);
    assert_eq!(env.deliver(iid, MARIA, &change).await, [200]);
    let resolutions = env.resolutions_of(&id);
    assert_eq!(resolutions.len(), 1);
    assert_eq!(resolutions[0].delegator, "gitlab:maria");
    assert_eq!(resolutions[0].reason, "approved for the incident");
    env.wait_data(&id, "closed", common::closed).await;

    let status = terminate(&mut process, WAIT).await;
    let log = log_text(&files.log);
    assert!(status.success(), "{log}");
    assert!(log.contains("missing or wrong X-Gitlab-Token"), "{log}");
    assert!(!log.contains(HOOK_SECRET), "{log}");
    assert!(!log.contains(TOKEN), "{log}");
}

#[tokio::test]
async fn a_wrong_token_stops_start_up_with_one_clear_line() {
    let env = Env::new().await;
    let files = write_config(&env, "wrong", "glpat-not-the-token", None);
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
