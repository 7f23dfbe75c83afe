//! Taking over from the Go plugin, through the real `teleport-slack` binary against the
//! testkit and the fake Slack: state the Go plugin finished is left alone, requests deleted
//! while no plugin ran are shown expired, the requester is kept in the loop as Go does, and
//! Slack is reached through the environment's HTTP proxy as Go's client reaches it.

use std::path::PathBuf;
use std::time::Duration;

use teleport_fakes::{FakeSlack, FakeSlackOptions};
use teleport_plugin_testsupport::{identity_dir, log_file, start_plugin, terminate};
use teleport_testkit::{ConnectProxy, IdentityRequest, Testkit};
use tokio::process::{Child, Command};

const BINARY: &str = env!("CARGO_BIN_EXE_teleport-slack");
const WAIT: Duration = Duration::from_secs(60);
const TOKEN: &str = "xoxb-0123456789-slack-drop-in-test";
const CHANNEL: &str = "C0REQ";

struct Env {
    kit: Testkit,
    slack: FakeSlack,
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Env {
    async fn new() -> Self {
        let kit = Testkit::start().await.unwrap();
        let slack = FakeSlack::start(
            FakeSlackOptions::default()
                .token(TOKEN)
                .channel(CHANNEL, "access-requests")
                .user("alice@example.com", "U0ALICE"),
        )
        .await;
        let (dir, _) = identity_dir(&kit, &IdentityRequest::new("access-plugin"), "auth_id");
        let config = dir.path().join("slack.toml");
        let toml = format!(
            r#"[teleport]
addr = "{addr}"
identity = "{identity}"

[slack]
token = "{TOKEN}"
apiurl = "{url}"

[role_to_recipients]
"*" = "access-requests"

[log]
severity = "DEBUG"
"#,
            addr = kit.auth_addr(),
            identity = dir.path().join("auth_id").display(),
            url = slack.base_url(),
        );
        std::fs::write(&config, toml).unwrap();
        Self {
            kit,
            slack,
            dir,
            config,
        }
    }

    fn spawn(&self, name: &str) -> Plugin {
        let log = self.dir.path().join(format!("{name}.log"));
        let (stdout, stderr) = log_file(&log);
        let child = start_plugin(BINARY, &self.config, stdout, stderr);
        Plugin { child, log }
    }

    /// Calls that did something in Slack (`auth.test` is the start-up check).
    fn calls_after_start(&self) -> u64 {
        let control = self.slack.control();
        control.total_calls() - control.call_count("auth.test")
    }

    async fn wait_root_for(&self, id: &str) -> (String, String) {
        self.slack
            .wait_for(WAIT, |state| {
                state
                    .root_messages()
                    .find(|m| m.posted.visible_text().contains(id))
                    .map(|m| (m.channel.clone(), m.ts.clone()))
            })
            .await
            .unwrap_or_else(|_| panic!("no message for {id}"))
    }
}

struct Plugin {
    child: Child,
    log: PathBuf,
}

impl Plugin {
    async fn stop(mut self) -> String {
        let status = terminate(&mut self.child, Duration::from_secs(30)).await;
        let log = std::fs::read_to_string(&self.log).unwrap();
        assert!(status.success(), "{log}");
        log
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A record as the Go plugin writes it once it has updated its messages.
fn go_record<'a>(user: &'a str, resolution: &'a str, message: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("user", user),
        ("roles", "editor"),
        ("resources", r#"["/cluster/node/web-1"]"#),
        ("request_reason", "from the Go days"),
        ("reviews_count", "1"),
        ("resolution", resolution),
        ("resolve_reason", "fine"),
        ("messages", message),
    ]
}

async fn eventually_logged(plugin: &Plugin, what: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !plugin.log().contains(what) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never logged {what:?}:\n{}",
            plugin.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn records_the_go_plugin_finished_cost_no_slack_call_after_start() {
    let env = Env::new().await;
    // One approved request still in Teleport, one deleted after Go showed it expired.
    let approved = env.kit.create_request("carol", &["editor"], "old").unwrap();
    env.kit
        .approve(&approved.metadata.as_ref().unwrap().name, "fine")
        .unwrap();
    let approved = approved.metadata.unwrap().name;
    env.kit
        .put_plugin_data(
            "access_request",
            &approved,
            "slack",
            &go_record("carol", "APPROVED", "C0REQ/1700000000.000100"),
        )
        .unwrap();
    let expired = env
        .kit
        .create_request("dave", &["editor"], "older")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    env.kit
        .put_plugin_data(
            "access_request",
            &expired,
            "slack",
            &go_record("dave", "EXPIRED", "C0REQ/1700000000.000200"),
        )
        .unwrap();
    env.kit.expire(&expired).unwrap();

    let plugin = env.spawn("go-finished");
    eventually_logged(&plugin, "reconciling access requests with plugin data").await;
    // A request made now is posted: the plugin is at work, past both old records.
    let fresh = env
        .kit
        .create_request("bob", &["editor"], "new")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    env.wait_root_for(&fresh).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = plugin.stop().await;

    assert_eq!(
        env.calls_after_start(),
        1,
        "one chat.postMessage for the new request and nothing for Go's finished work:\n{log}"
    );
    assert_eq!(env.slack.call_count("chat.update"), 0);
    let data = env.kit.plugin_data(&approved, "slack").unwrap();
    assert_eq!(data.get("resolution").map(String::as_str), Some("APPROVED"));
    assert!(!data.contains_key("claim"), "never claimed: {data:?}");
}

#[tokio::test]
async fn a_request_deleted_while_the_plugin_was_stopped_is_shown_expired_after_start() {
    let env = Env::new().await;
    env.kit.add_role("editor", &["ubuntu", "root"]);
    let plugin = env.spawn("first");
    env.kit.wait_for_watchers(1, WAIT).await.unwrap();
    let id = env
        .kit
        .new_request("bob", &["editor"])
        .reason("needed for a while")
        .resource("node", "web-1")
        .create()
        .unwrap()
        .metadata
        .unwrap()
        .name;
    let (channel, ts) = env.wait_root_for(&id).await;
    plugin.stop().await;
    // Recorded in Go's encoding, so that a Go plugin (or our EXPIRED edit) can name it.
    let data = env.kit.plugin_data(&id, "slack").unwrap();
    let resources = data.get("resources").cloned().unwrap_or_default();
    assert!(
        resources.starts_with("[\"/") && resources.ends_with("/node/web-1\"]"),
        "{data:?}"
    );
    env.kit.wait_for_watchers(0, WAIT).await.unwrap();

    // Deleted while nothing watched: no DELETE event will ever reach the plugin.
    env.kit.expire(&id).unwrap();
    let plugin = env.spawn("second");
    let shown = env
        .slack
        .wait_for(WAIT, |state| {
            state
                .message(&channel, &ts)
                .filter(|m| m.current().visible_text().contains("EXPIRED"))
                .map(|m| m.current().visible_text())
        })
        .await;
    let log = plugin.stop().await;
    let text = shown.unwrap_or_else(|_| panic!("the message never showed EXPIRED:\n{log}"));
    assert!(text.contains(&id), "{text}");
    assert!(
        text.contains("/node/web-1"),
        "the EXPIRED edit keeps the Resource(s) line: {text}"
    );
    assert!(
        text.contains("*Role*: `editor` *Login(s)*: `root, ubuntu`"),
        "the role's logins, read once and kept in Go's logins_by_role: {text}"
    );
    let data = env.kit.plugin_data(&id, "slack").unwrap();
    assert_eq!(data.get("resolution").map(String::as_str), Some("EXPIRED"));
}

#[tokio::test]
async fn the_requester_sees_the_request_and_hears_of_its_expiry_as_with_go() {
    let env = Env::new().await;
    let plugin = env.spawn("requester");
    env.kit.wait_for_watchers(1, WAIT).await.unwrap();
    let id = env
        .kit
        .create_request("alice@example.com", &["editor"], "on call tonight")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    let roots = env
        .slack
        .wait_for(WAIT, |state| {
            let roots: Vec<_> = state
                .root_messages()
                .filter(|m| m.posted.visible_text().contains(&id))
                .map(|m| m.channel.clone())
                .collect();
            (roots.len() >= 2).then_some(roots)
        })
        .await
        .unwrap();
    assert!(roots.contains(&CHANNEL.to_owned()), "{roots:?}");
    assert!(
        roots.contains(&"U0ALICE".to_owned()),
        "the requester gets the request too: {roots:?}"
    );

    env.kit.expire(&id).unwrap();
    let notice = env
        .slack
        .wait_for(WAIT, |state| {
            state
                .root_messages()
                .find(|m| {
                    m.channel == "U0ALICE" && m.posted.visible_text().contains("has been updated")
                })
                .map(|m| m.posted.visible_text())
        })
        .await;
    let log = plugin.stop().await;
    let notice = notice.unwrap_or_else(|_| panic!("no notice to the requester:\n{log}"));
    assert!(notice.contains("*EXPIRED*"), "{notice}");
    assert!(notice.contains(&id), "{notice}");
}

#[tokio::test]
async fn slack_is_reached_through_the_environment_s_http_proxy() {
    let env = Env::new().await;
    let proxy = ConnectProxy::start().await.unwrap();
    // A name only the proxy resolves: a posted message proves the tunnel was used.
    proxy.route("slack.test:80", env.slack.local_addr());
    let config = std::fs::read_to_string(&env.config)
        .unwrap()
        .replace(&env.slack.base_url(), "http://slack.test/api/");
    let path = env.dir.path().join("proxied.toml");
    std::fs::write(&path, config).unwrap();
    let log = env.dir.path().join("proxied.log");
    let (stdout, stderr) = log_file(&log);
    let mut command = Command::new(BINARY);
    command
        .args(["start", "-c"])
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true);
    for name in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        command.env_remove(name);
    }
    // The fake speaks plain HTTP, so HTTP_PROXY is the variable that applies.
    command.env("HTTP_PROXY", proxy.url());
    let plugin = Plugin {
        child: command.spawn().expect("the plugin binary starts"),
        log,
    };
    if env.kit.wait_for_watchers(1, WAIT).await.is_err() {
        panic!("the plugin never watched:\n{}", plugin.log());
    }
    let id = env
        .kit
        .create_request("bob", &["editor"], "through the proxy")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    env.wait_root_for(&id).await;
    let log = plugin.stop().await;
    assert!(
        proxy.tunnels().iter().any(|t| t == "slack.test:80"),
        "{:?}\n{log}",
        proxy.tunnels()
    );
}
