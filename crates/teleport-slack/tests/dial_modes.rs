//! The real `teleport-slack` binary reaching Teleport every way one `addr` allows: behind an
//! L7 load balancer (detected, and forced by `TELEPORT_TLS_ROUTING_CONN_UPGRADE`), through an
//! HTTP CONNECT proxy (`HTTPS_PROXY`) and through the proxy's SSH reverse tunnel, at its own
//! port or found from the proxy's web address by `/webapi/find` (with and without TLS
//! routing), also to a legacy-suite cluster (RSA host CA and host key). On each path a
//! request is posted, the identity is renewed on disk while the old
//! certificate lapses, and Teleport restarts.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use teleport_fakes::{FakeSlack, FakeSlackOptions};
use teleport_plugin_testsupport::{log_file, terminate, write_identity};
use teleport_testkit::{ConnectProxy, IdentityRequest, SshHostCa, Testkit};
use tokio::process::{Child, Command};

const BINARY: &str = env!("CARGO_BIN_EXE_teleport-slack");
const WAIT: Duration = Duration::from_secs(60);
const TOKEN: &str = "xoxb-0123456789-dial-modes";
const UPGRADE: &str = "TELEPORT_TLS_ROUTING_CONN_UPGRADE";
/// What the proxy alone can resolve: reaching it proves the tunnel was used.
const PROXIED_NAME: &str = "teleport.test:443";
/// Variables a developer's shell may carry that would change what these tests exercise.
const INHERITED: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    UPGRADE,
    "SSL_CERT_DIR",
];

struct Env {
    kit: Testkit,
    slack: FakeSlack,
    proxy: ConnectProxy,
    dir: tempfile::TempDir,
}

impl Env {
    async fn new() -> Self {
        Self::with_web_front(true).await
    }

    /// With a proxy web front whose `/webapi/find` says TLS routing is on or off.
    async fn with_web_front(tls_routing: bool) -> Self {
        Self::with_hosts(tls_routing, SshHostCa::Ecdsa).await
    }

    /// With the web front as above and the tunnel's host CA `ssh`.
    async fn with_hosts(tls_routing: bool, ssh: SshHostCa) -> Self {
        let kit = Testkit::builder()
            .ssh_host_ca(ssh)
            .with_proxy(true)
            .with_l7_front(true)
            .with_tunnel(true)
            .with_web_front(tls_routing)
            .l7_ping_interval(Duration::from_millis(300))
            .start()
            .await
            .unwrap();
        let slack = FakeSlack::start(
            FakeSlackOptions::default()
                .token(TOKEN)
                .channel("C0REQ", "access-requests"),
        )
        .await;
        let proxy = ConnectProxy::start().await.unwrap();
        proxy.route(PROXIED_NAME, kit.proxy_addr().unwrap());
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("web-ca.pem"), kit.web_ca_pem().unwrap()).unwrap();
        Self {
            kit,
            slack,
            proxy,
            dir,
        }
    }

    fn identity(&self) -> PathBuf {
        self.dir.path().join("auth_id")
    }

    /// The first identity: it lapses 3 s after being written, so any connection made after
    /// that needs the renewed one.
    fn first_identity(&self) {
        let request = IdentityRequest::new("access-plugin").ttl(Duration::from_secs(3));
        write_identity(&self.kit, &request, &self.identity());
    }

    /// What tbot writes on renewal.
    fn renew_identity(&self) {
        let request = IdentityRequest::new("access-plugin").ttl(Duration::from_secs(120));
        write_identity(&self.kit, &request, &self.identity());
    }

    fn config(&self, addr: &str) -> PathBuf {
        let path = self.dir.path().join("plugin.toml");
        let toml = format!(
            r#"[teleport]
addr = "{addr}"
identity = "{identity}"
refresh_identity = true
refresh_identity_interval = "1s"

[slack]
token = "{TOKEN}"
apiurl = "{url}"

[role_to_recipients]
"*" = "access-requests"

[log]
severity = "DEBUG"
"#,
            identity = self.identity().display(),
            url = self.slack.base_url(),
        );
        std::fs::write(&path, toml).unwrap();
        path
    }

    /// Starts the plugin with exactly these dial-related variables; the web CA stands in for
    /// the system store, as it would hold a public balancer's CA.
    fn spawn(&self, addr: &str, vars: &[(&str, String)]) -> Plugin {
        let log = self.dir.path().join("plugin.log");
        let (stdout, stderr) = log_file(&log);
        let mut command = Command::new(BINARY);
        command
            .args(["start", "-c"])
            .arg(self.config(addr))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .env_remove("RUST_LOG")
            .env("SSL_CERT_FILE", self.dir.path().join("web-ca.pem"));
        for name in INHERITED {
            command.env_remove(name);
        }
        command.envs(vars.iter().map(|(k, v)| (*k, v.as_str())));
        Plugin {
            child: command.spawn().expect("the plugin binary starts"),
            log,
        }
    }

    async fn wait_roots(&self, count: usize) {
        self.slack
            .wait_for(WAIT, |state| {
                (state.root_messages().count() >= count).then_some(())
            })
            .await
            .unwrap_or_else(|_| {
                let log = read(&self.dir.path().join("plugin.log"));
                panic!("fewer than {count} root messages; the plugin's log:\n{log}")
            });
    }

    /// A request posted; an identity renewed past the old one's expiry and every watch cut;
    /// Teleport restarted: each time the next request is still posted.
    async fn post_through_renewals_and_restarts(&self) {
        self.kit.wait_for_watchers(1, WAIT).await.unwrap();
        self.kit
            .create_request("alice", &["editor"], "first")
            .unwrap();
        self.wait_roots(1).await;

        self.renew_identity();
        tokio::time::sleep(Duration::from_millis(3200)).await;
        self.kit.drop_watchers();
        self.kit
            .create_request("bob", &["editor"], "renewed")
            .unwrap();
        self.wait_roots(2).await;

        self.renew_identity();
        self.kit.stop().await;
        self.kit.restart().await.unwrap();
        self.kit.wait_for_watchers(1, WAIT).await.unwrap();
        self.kit
            .create_request("carol", &["editor"], "restarted")
            .unwrap();
        self.wait_roots(3).await;
    }
}

struct Plugin {
    child: Child,
    log: PathBuf,
}

impl Plugin {
    async fn stop(mut self) -> String {
        let status = terminate(&mut self.child, Duration::from_secs(30)).await;
        let log = read(&self.log);
        assert!(status.success(), "{log}");
        log
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The mode the log says won, as the client's `DialMode` displays it.
fn assert_connected_via(log: &str, mode: &str) {
    let line = log
        .lines()
        .find(|l| l.contains("connected to Teleport"))
        .unwrap_or_else(|| panic!("no 'connected to Teleport' line in {log}"));
    assert!(line.contains(mode), "{mode:?} not in {line}");
}

#[tokio::test]
async fn behind_an_l7_load_balancer_detected_automatically() {
    let env = Env::new().await;
    env.first_identity();
    let addr = env.kit.l7_addr().unwrap().to_string();
    let plugin = env.spawn(&addr, &[]);
    env.post_through_renewals_and_restarts().await;
    let log = plugin.stop().await;
    assert_connected_via(&log, "proxy TLS routing behind an L7 load balancer");
    assert!(log.contains("a load balancer terminates TLS"), "{log}");
    let stats = env.kit.l7_stats();
    assert!(stats.websocket_upgrades >= 3, "{stats:?}");
    assert!(log.contains("loaded renewed Teleport credentials"), "{log}");
}

#[tokio::test]
async fn behind_an_l7_load_balancer_forced_by_the_environment() {
    let env = Env::new().await;
    env.first_identity();
    let addr = env.kit.l7_addr().unwrap().to_string();
    let plugin = env.spawn(&addr, &[(UPGRADE, format!("{addr}=true"))]);
    env.post_through_renewals_and_restarts().await;
    let log = plugin.stop().await;
    assert_connected_via(&log, "proxy TLS routing behind an L7 load balancer");
    assert!(log.contains(&format!("{UPGRADE}={addr}=true")), "{log}");
    assert!(
        !log.contains("a load balancer terminates TLS"),
        "no probe when forced: {log}"
    );
}

#[tokio::test]
async fn through_an_http_connect_proxy() {
    let env = Env::new().await;
    env.first_identity();
    let plugin = env.spawn(PROXIED_NAME, &[("HTTPS_PROXY", env.proxy.url())]);
    env.post_through_renewals_and_restarts().await;
    let log = plugin.stop().await;
    assert_connected_via(&log, "proxy TLS routing");
    assert!(log.contains("go through an HTTP proxy"), "{log}");
    let tunnels = env.proxy.tunnels();
    assert!(
        tunnels.iter().filter(|t| *t == PROXIED_NAME).count() >= 3,
        "{tunnels:?}"
    );
}

#[tokio::test]
async fn through_the_reverse_tunnel() {
    let env = Env::new().await;
    env.first_identity();
    let addr = env.kit.tunnel_addr().unwrap().to_string();
    let plugin = env.spawn(&addr, &[]);
    env.post_through_renewals_and_restarts().await;
    let log = plugin.stop().await;
    assert_connected_via(&log, "proxy reverse tunnel (SSH)");
    assert!(log.contains("loaded renewed Teleport credentials"), "{log}");
}

#[tokio::test]
async fn through_the_reverse_tunnel_of_a_cluster_with_an_rsa_host_ca() {
    let env = Env::with_hosts(true, SshHostCa::Rsa).await;
    env.first_identity();
    let addr = env.kit.tunnel_addr().unwrap().to_string();
    let plugin = env.spawn(&addr, &[]);
    env.post_through_renewals_and_restarts().await;
    let log = plugin.stop().await;
    assert_connected_via(&log, "proxy reverse tunnel (SSH)");
}

#[tokio::test]
async fn through_the_tunnel_found_by_webapi_find_without_tls_routing() {
    let env = Env::with_web_front(false).await;
    env.first_identity();
    let addr = env.kit.web_addr().unwrap().to_string();
    let plugin = env.spawn(&addr, &[]);
    env.post_through_renewals_and_restarts().await;
    let log = plugin.stop().await;
    assert_connected_via(&log, "proxy reverse tunnel found by /webapi/find (SSH)");
    assert!(log.contains("loaded renewed Teleport credentials"), "{log}");
}

#[tokio::test]
async fn through_the_tunnel_inside_tls_routing_found_by_webapi_find() {
    let env = Env::with_web_front(true).await;
    env.first_identity();
    let addr = env.kit.web_addr().unwrap().to_string();
    let plugin = env.spawn(&addr, &[]);
    env.post_through_renewals_and_restarts().await;
    let log = plugin.stop().await;
    assert_connected_via(&log, "proxy reverse tunnel through TLS routing");
    assert!(log.contains("loaded renewed Teleport credentials"), "{log}");
}

#[tokio::test]
async fn an_unreachable_teleport_is_reported_mode_by_mode() {
    let env = Env::new().await;
    env.first_identity();
    let addr = env.kit.l7_addr().unwrap().to_string();
    // Forced off, the balancer cannot be passed: the plugin keeps retrying and says why.
    let mut plugin = env.spawn(&addr, &[(UPGRADE, "false".into())]);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !read(&plugin.log).contains("Teleport is not reachable yet") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}",
            read(&plugin.log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    terminate(&mut plugin.child, Duration::from_secs(30)).await;
    let log = read(&plugin.log);
    let line = log
        .lines()
        .find(|l| l.contains("Teleport is not reachable yet"))
        .unwrap_or_default();
    for part in [
        "every connection mode failed",
        "auth server directly:",
        "proxy TLS routing (TELEPORT_TLS_ROUTING_CONN_UPGRADE=false):",
    ] {
        assert!(line.contains(part), "{part:?} missing in {line}");
    }
}
