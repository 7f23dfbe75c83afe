//! The real `teleport-slack` binary as a subprocess, against the testkit and the fake Slack:
//! `configure` and `version`, and what only Slack checks (identity rotation). Replicas, restarts, bad configs, secrets and
//! the ops endpoint are the shared compliance suite's (`tests/compliance.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use teleport_fakes::{FakeSlack, FakeSlackOptions};
use teleport_plugin_runtime::plugin::Plugin as _;
use teleport_plugin_testsupport::{
    cli_stdout, identity_dir, log_file, start_plugin, terminate, write_identity,
};
use teleport_slack::SlackPlugin;
use teleport_testkit::{IdentityRequest, Testkit};
use tokio::process::Child;

const BINARY: &str = env!("CARGO_BIN_EXE_teleport-slack");

const WAIT: Duration = Duration::from_secs(60);
const TOKEN: &str = "xoxb-0123456789-slack-binary-test";

struct Env {
    kit: Testkit,
    slack: FakeSlack,
    dir: tempfile::TempDir,
}

impl Env {
    async fn new() -> Self {
        let kit = Testkit::start().await.unwrap();
        let slack = FakeSlack::start(
            FakeSlackOptions::default()
                .token(TOKEN)
                .channel("C0REQ", "access-requests"),
        )
        .await;
        let (dir, _) = identity_dir(&kit, &IdentityRequest::new("access-plugin"), "auth_id");
        Self { kit, slack, dir }
    }

    fn config(&self, name: &str, teleport_extra: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        let toml = format!(
            r#"[teleport]
addr = "{addr}"
identity = "{identity}"
{teleport_extra}

[slack]
token = "{TOKEN}"
apiurl = "{url}"

[role_to_recipients]
"*" = "access-requests"

[log]
severity = "DEBUG"
"#,
            addr = self.kit.auth_addr(),
            identity = self.dir.path().join("auth_id").display(),
            url = self.slack.base_url(),
        );
        std::fs::write(&path, toml).unwrap();
        path
    }

    fn roots(&self) -> usize {
        self.slack.root_messages().len()
    }

    async fn wait_roots(&self, count: usize) {
        self.slack
            .wait_for(WAIT, |state| {
                (state.root_messages().count() >= count).then_some(())
            })
            .await
            .unwrap_or_else(|_| panic!("fewer than {count} root messages: {}", self.roots()));
    }
}

struct Plugin {
    child: Child,
    log: PathBuf,
}

fn spawn(config: &Path, log: PathBuf) -> Plugin {
    let (stdout, stderr) = log_file(&log);
    let child = start_plugin(BINARY, config, stdout, stderr);
    Plugin { child, log }
}

impl Plugin {
    /// SIGTERM, then the exit status and the whole log.
    async fn stop(mut self) -> (std::process::ExitStatus, String) {
        let status = terminate(&mut self.child, Duration::from_secs(30)).await;
        (status, std::fs::read_to_string(&self.log).unwrap())
    }
}

#[test]
fn configure_prints_the_sample_and_version_names_the_binary() {
    assert_eq!(
        cli_stdout(BINARY, &["configure"]),
        SlackPlugin::SAMPLE_CONFIG
    );
    let line = cli_stdout(BINARY, &["version"]);
    assert!(line.starts_with("teleport-slack v"), "{line}");
}

#[tokio::test]
async fn short_lived_identities_rotated_on_disk_keep_working() {
    let env = Env::new().await;
    let identity_path = env.dir.path().join("auth_id");
    let issue = |kit: &Testkit| {
        write_identity(
            kit,
            &IdentityRequest::new("access-plugin").ttl(Duration::from_secs(3)),
            &identity_path,
        );
    };
    issue(&env.kit);
    let config = env.config(
        "p.toml",
        "refresh_identity = true\nrefresh_identity_interval = \"1s\"",
    );
    let plugin = spawn(&config, env.dir.path().join("p.log"));
    env.kit.wait_for_watchers(1, WAIT).await.unwrap();
    for round in 1..=4 {
        // Renew (as tbot does), let the first certificate lapse, then break every
        // connection so the plugin must dial again with what is on disk now.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        issue(&env.kit);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        env.kit.drop_watchers();
        env.kit
            .create_request("alice", &["editor"], &format!("round {round}"))
            .unwrap();
        env.wait_roots(round).await;
    }
    let (status, log) = plugin.stop().await;
    assert!(status.success(), "{log}");
    assert!(log.contains("loaded renewed Teleport credentials"), "{log}");
}
