//! The real `teleport-slack` binary as a subprocess, against the testkit and
//! the fake Slack: replicas, restarts, identity rotation, bad configs, secrets.

use std::path::{Path, PathBuf};
use std::time::Duration;

use teleport_fakes::{FakeSlack, FakeSlackOptions};
use teleport_plugin_testsupport::{
    free_port, http_get, identity_dir, log_file, run_to_exit, start_plugin, terminate,
    write_identity,
};
use teleport_testkit::{IdentityRequest, Testkit};
use tokio::process::Child;

const BINARY: &str = env!("CARGO_BIN_EXE_teleport-slack");

const WAIT: Duration = Duration::from_secs(60);
const TOKEN: &str = "xoxb-0123456789-SECRET-should-never-be-logged";

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

#[tokio::test]
async fn two_processes_post_each_of_200_requests_exactly_once() {
    let env = Env::new().await;
    let a = spawn(&env.config("a.toml", ""), env.dir.path().join("a.log"));
    let b = spawn(&env.config("b.toml", ""), env.dir.path().join("b.log"));
    env.kit.wait_for_watchers(2, WAIT).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..200 {
        ids.push(
            env.kit
                .create_request(&format!("user{n}"), &["editor"], "burst")
                .unwrap()
                .metadata
                .unwrap()
                .name,
        );
    }
    env.wait_roots(200).await;
    for id in &ids {
        let data = env
            .kit
            .wait_for_plugin_data(id, "slack", "messages", WAIT)
            .await
            .unwrap();
        assert_eq!(data["messages"].split(',').count(), 1);
    }
    // Let any replica still holding a request finish, then count.
    for id in &ids {
        env.kit
            .wait_for(&format!("lease on {id} released"), WAIT, |s| {
                s.plugin_data(id, "slack")
                    .is_some_and(|d| d.get("claim").is_none_or(String::is_empty))
            })
            .await
            .unwrap();
    }
    assert_eq!(env.roots(), 200, "some request was posted twice");
    let (status_a, log_a) = a.stop().await;
    let (status_b, log_b) = b.stop().await;
    assert!(status_a.success() && status_b.success(), "{log_a}\n{log_b}");
    let posted_by = |log: &str| log.matches("posted the request").count();
    assert_eq!(posted_by(&log_a) + posted_by(&log_b), 200);
}

#[tokio::test]
async fn downtime_is_caught_up_and_a_restart_does_not_repost() {
    let env = Env::new().await;
    for n in 0..3 {
        env.kit
            .create_request("alice", &["editor"], &format!("before start {n}"))
            .unwrap();
    }
    let config = env.config("p.toml", "");
    let plugin = spawn(&config, env.dir.path().join("1.log"));
    env.wait_roots(3).await;
    let (status, log) = plugin.stop().await;
    assert!(status.success(), "{log}");
    assert!(log.contains("shut down cleanly"), "{log}");

    env.kit
        .create_request("bob", &["editor"], "while the plugin was down")
        .unwrap();
    let plugin = spawn(&config, env.dir.path().join("2.log"));
    env.wait_roots(4).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(env.roots(), 4, "a restart re-posted old requests");
    let (status, log) = plugin.stop().await;
    assert!(status.success(), "{log}");
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

#[tokio::test]
async fn no_secret_reaches_the_log() {
    let env = Env::new().await;
    let plugin = spawn(&env.config("p.toml", ""), env.dir.path().join("p.log"));
    let id = env
        .kit
        .create_request("alice", &["editor"], "look at the log")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    env.wait_roots(1).await;
    env.kit.approve(&id, "fine").unwrap();
    env.kit
        .wait_for_plugin_data(&id, "slack", "synced", WAIT)
        .await
        .unwrap();
    let (status, log) = plugin.stop().await;
    assert!(status.success(), "{log}");
    assert!(log.contains("DEBUG"), "debug logging was on: {log}");
    assert!(!log.contains(TOKEN), "the Slack token was logged");
    assert!(
        !log.contains("SECRET"),
        "part of the Slack token was logged"
    );
    assert!(!log.contains("PRIVATE KEY"), "key material was logged");
}

/// Each malformed config: the binary exits 1 with one clear `error:` line naming the
/// file and the problem, and never panics.
#[tokio::test]
async fn malformed_configs_fail_clearly_without_panicking() {
    let env = Env::new().await;
    let identity = env.dir.path().join("auth_id").display().to_string();
    let base = |slack: &str, rest: &str| {
        format!(
            "[teleport]\naddr = \"127.0.0.1:1\"\nidentity = \"{identity}\"\n[slack]\n{slack}\n[role_to_recipients]\n\"*\" = \"c\"\n{rest}"
        )
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("syntax error", "[teleport\naddr = 1".into(), "line"),
        ("token missing", base("", ""), "slack.token"),
        ("token wrong type", base("token = 42", ""), "slack.token"),
        ("token file missing", base("token = \"/nonexistent/token\"", ""), "/nonexistent/token"),
        ("token env missing", base("token = \"env:NO_SUCH_VARIABLE_X\"", ""), "NO_SUCH_VARIABLE_X"),
        ("no wildcard", format!("[teleport]\nidentity = \"{identity}\"\n[slack]\ntoken = \"t\"\n[role_to_recipients]\n\"dev\" = \"c\"\n"), "\"*\""),
        ("recipients wrong type", base("token = \"t\"", "\"dev\" = 5\n"), "role_to_recipients.dev"),
        ("bad severity", base("token = \"t\"", "[log]\nseverity = \"LOUD\"\n"), "log.severity"),
        ("identity and trio", format!("[teleport]\nidentity = \"{identity}\"\nclient_crt = \"a\"\nclient_key = \"b\"\nroot_cas = \"c\"\n[slack]\ntoken = \"t\"\n[role_to_recipients]\n\"*\" = \"c\"\n"), "identity"),
        ("partial trio", "[teleport]\nclient_crt = \"a\"\n[slack]\ntoken = \"t\"\n[role_to_recipients]\n\"*\" = \"c\"\n".into(), "client_key"),
        ("bad refresh interval", format!("[teleport]\nidentity = \"{identity}\"\nrefresh_identity = true\nrefresh_identity_interval = \"soon\"\n[slack]\ntoken = \"t\"\n[role_to_recipients]\n\"*\" = \"c\"\n"), "refresh_identity_interval"),
        ("identity file missing", base("token = \"t\"", "").replace(&identity, "/nonexistent/auth_id"), "/nonexistent/auth_id"),
        ("identity file garbage", base("token = \"t\"", "").replace(&identity, &env.dir.path().join("garbage").display().to_string()), "garbage"),
        ("bad ops address", base("token = \"t\"", "[ops]\nlisten_addr = \"not an address\"\n"), "ops.listen_addr"),
    ];
    std::fs::write(
        env.dir.path().join("garbage"),
        "this is not an identity file\n",
    )
    .unwrap();
    for (name, toml, expected) in cases {
        let path = env.dir.path().join("bad.toml");
        std::fs::write(&path, &toml).unwrap();
        let output = run_to_exit(BINARY, &path, WAIT).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{name}: exit code; stderr: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: panicked: {stderr}");
        let error_line = stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("{name}: no error line: {stderr}"));
        assert!(
            error_line.contains(expected),
            "{name}: expected {expected:?} in {error_line:?}"
        );
    }
}

#[tokio::test]
async fn health_readiness_and_metrics_are_served() {
    let env = Env::new().await;
    let port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = env.config("p.toml", "");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("\n[ops]\nlisten_addr = \"{addr}\"\n"));
    std::fs::write(&config, text).unwrap();
    let plugin = spawn(&config, env.dir.path().join("p.log"));

    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some((status, _)) = http_get(addr, "/readyz").await
            && status.contains("200")
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = http_get(addr, "/healthz").await.unwrap();
    assert!(status.contains("200"), "{status} {body}");

    env.kit
        .create_request("alice", &["editor"], "metrics")
        .unwrap();
    env.wait_roots(1).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, metrics) = http_get(addr, "/metrics").await.unwrap();
        if metrics.contains("teleport_plugin_sends_total{kind=\"request\"} 1") {
            assert!(metrics.contains("teleport_plugin_ready 1"), "{metrics}");
            assert!(
                metrics.contains("teleport_plugin_identity_expiry_timestamp_seconds"),
                "{metrics}"
            );
            assert!(
                metrics.contains("teleport_plugin_events_total{op=\"put\"}"),
                "{metrics}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no send counted: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Teleport goes away: not ready any more, still healthy.
    env.kit.stop().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, _) = http_get(addr, "/readyz").await.unwrap();
        if status.contains("503") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still ready without Teleport"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(http_get(addr, "/healthz").await.unwrap().0.contains("200"));
    let (status, log) = plugin.stop().await;
    assert!(status.success(), "{log}");
}
