//! Every way in from one `addr`: the L7 load-balancer front (detected, forced, legacy), an
//! HTTP CONNECT proxy, and the report when nothing works; identity reload and reconnects on
//! each path.

use crate::support;

use std::time::Duration;

use futures::StreamExt;
use support::{Env, WAIT};
use teleport_client::{
    ClientError, CredentialsSource, DialMode, RequestState, StateChange, TeleportClient,
    WatchEvent, WatchOptions, WatchStream,
};
use teleport_testkit::{ConnectProxy, IdentityRequest, Testkit};

const UPGRADE: &str = "TELEPORT_TLS_ROUTING_CONN_UPGRADE";

async fn next(stream: &mut WatchStream) -> WatchEvent {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("an event in time")
        .expect("the stream is open")
        .expect("no error")
}

fn new_id(kit: &Testkit) -> String {
    kit.create_request("alice", &["dev"], "")
        .unwrap()
        .metadata
        .unwrap()
        .name
}

fn state_change(id: &str) -> StateChange {
    StateChange {
        request_id: id.to_owned(),
        state: RequestState::Approved,
        delegator: "test".into(),
        reason: String::new(),
        annotations: Default::default(),
    }
}

/// Retries a state change across a restart until it goes through; returns who made it.
async fn resolve_eventually(env: &Env, client: &TeleportClient) -> Option<String> {
    let id = new_id(&env.kit);
    let mut attempt = 0;
    loop {
        match client.set_request_state(&state_change(&id)).await {
            Ok(()) => break,
            Err(e) if e.is_connection_problem() && attempt < 100 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    env.kit.resolutions().last().unwrap().caller.clone()
}

#[tokio::test]
async fn an_l7_load_balancer_is_detected_and_the_watch_runs_through_the_upgrade() {
    let env = Env::new().await;
    let addr = env.kit.l7_addr().unwrap().to_string();
    let client = TeleportClient::new(env.auto_config(&addr, &[])).unwrap();
    assert_eq!(client.dial_mode(), None);
    let info = client.ping().await.unwrap();
    assert_eq!(info.cluster_name, "teleport.example.com");
    assert_eq!(client.dial_mode(), Some(DialMode::ProxyConnUpgrade));
    let stats = env.kit.l7_stats();
    assert!(stats.websocket_upgrades >= 1, "{stats:?}");
    assert_eq!(stats.legacy_upgrades, 0, "{stats:?}");

    // A watch outlives several of the front's pings (every 200 ms), answers them, and
    // still delivers events.
    let mut stream = client.watch_access_requests(WatchOptions::default());
    assert_eq!(next(&mut stream).await, WatchEvent::Init);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let id = new_id(&env.kit);
    assert!(matches!(next(&mut stream).await, WatchEvent::Put(r) if r.id == id));
    let stats = env.kit.l7_stats();
    assert!(stats.pongs >= 2, "pings answered: {stats:?}");
}

#[tokio::test]
async fn the_environment_variable_forces_the_upgrade_decision() {
    let env = Env::new().await;
    let l7 = env.kit.l7_addr().unwrap().to_string();

    for value in ["true".to_owned(), format!("other:1=false;{l7}=true")] {
        let client = TeleportClient::new(env.auto_config(&l7, &[(UPGRADE, &value)])).unwrap();
        client
            .ping()
            .await
            .unwrap_or_else(|e| panic!("{UPGRADE}={value}: {e}"));
        assert_eq!(client.dial_mode(), Some(DialMode::ProxyConnUpgrade));
    }

    // Forced off, the front cannot be passed: the error says what was tried and why.
    let client = TeleportClient::new(env.auto_config(&l7, &[(UPGRADE, "false")])).unwrap();
    let error = client.ping().await.unwrap_err();
    assert!(matches!(error, ClientError::Connection { .. }), "{error:?}");
    let text = error.to_string();
    for part in [
        "every connection mode failed",
        "auth server directly:",
        "proxy TLS routing (TELEPORT_TLS_ROUTING_CONN_UPGRADE=false):",
    ] {
        assert!(text.contains(part), "{part:?} missing in {text}");
    }

    // Forced on for a proxy without a balancer, routing is not possible either, but auth
    // directly still wins on the auth port.
    let auth = env.kit.auth_addr().to_string();
    let client = TeleportClient::new(env.auto_config(&auth, &[(UPGRADE, "true")])).unwrap();
    client.ping().await.unwrap();
    assert_eq!(client.dial_mode(), Some(DialMode::AuthDirect));
}

#[tokio::test]
async fn a_proxy_without_the_websocket_upgrade_gets_the_legacy_one() {
    let kit = Testkit::builder()
        .cluster_name("teleport.example.com")
        .with_l7_front(true)
        .l7_legacy_only(true)
        .start()
        .await
        .unwrap();
    let env = Env::with_kit(kit);
    let addr = env.kit.l7_addr().unwrap().to_string();
    let client = TeleportClient::new(env.auto_config(&addr, &[])).unwrap();
    client.ping().await.unwrap();
    assert_eq!(client.dial_mode(), Some(DialMode::ProxyConnUpgrade));
    let stats = env.kit.l7_stats();
    assert_eq!(stats.websocket_upgrades, 0, "{stats:?}");
    assert!(stats.legacy_upgrades >= 1, "{stats:?}");
    assert!(
        stats.refused >= 1,
        "the WebSocket attempt came first: {stats:?}"
    );
}

#[tokio::test]
async fn the_load_balancer_certificate_is_verified_with_the_web_pki() {
    let env = Env::new().await;
    let addr = env.kit.l7_addr().unwrap().to_string();
    let mut config = env.auto_config(&addr, &[(UPGRADE, "true")]);
    // The cluster's host CA must not vouch for a public web certificate.
    let host_ca = env.dir.path().join("host-ca.pem");
    std::fs::write(&host_ca, env.kit.host_ca_pem()).unwrap();
    config.web_ca_file = Some(host_ca);
    let client = TeleportClient::new(config).unwrap();
    let text = client.ping().await.unwrap_err().to_string();
    assert!(
        text.contains("TLS handshake with the load balancer"),
        "{text}"
    );
    assert_eq!(env.kit.l7_stats().websocket_upgrades, 0);
}

#[tokio::test]
async fn https_proxy_carries_every_mode_and_no_proxy_exempts() {
    let env = Env::new().await;
    let proxy = ConnectProxy::start().await.unwrap();
    // Names only the proxy can resolve: reaching them proves the tunnel was used.
    proxy.route("teleport.test:443", env.kit.proxy_addr().unwrap());
    proxy.route("auth.test:3025", env.kit.auth_addr());
    let l7_port = env.kit.l7_addr().unwrap().port();
    let l7_name = format!("localhost:{l7_port}");
    proxy.route(&l7_name, env.kit.l7_addr().unwrap());

    let url = proxy.url();
    let cases = [
        ("teleport.test:443", DialMode::ProxyTlsRouting),
        ("auth.test:3025", DialMode::AuthDirect),
        (l7_name.as_str(), DialMode::ProxyConnUpgrade),
    ];
    for (addr, mode) in cases {
        let client = TeleportClient::new(env.auto_config(addr, &[("HTTPS_PROXY", &url)])).unwrap();
        client
            .ping()
            .await
            .unwrap_or_else(|e| panic!("{addr}: {e}"));
        assert_eq!(client.dial_mode(), Some(mode), "{addr}");
        assert!(proxy.tunnels().iter().any(|t| t == addr), "{addr}");
    }

    // NO_PROXY: straight there, the proxy sees nothing.
    let before = proxy.tunnels().len();
    let auth = env.kit.auth_addr().to_string();
    let env_vars = [
        ("https_proxy", url.as_str()),
        ("NO_PROXY", "example.org,127.0.0.1"),
    ];
    let client = TeleportClient::new(env.auto_config(&auth, &env_vars)).unwrap();
    client.ping().await.unwrap();
    assert_eq!(proxy.tunnels().len(), before);
}

#[tokio::test]
async fn proxy_credentials_are_sent_and_never_shown() {
    let env = Env::new().await;
    let proxy = ConnectProxy::start_with_auth("plugin", "pr0xy-s3cret")
        .await
        .unwrap();
    proxy.route("teleport.test:443", env.kit.proxy_addr().unwrap());
    let good = proxy.url();
    let client =
        TeleportClient::new(env.auto_config("teleport.test:443", &[("HTTPS_PROXY", &good)]))
            .unwrap();
    client.ping().await.unwrap();

    let bad = good.replace("pr0xy-s3cret", "wrong-s3cret");
    let client =
        TeleportClient::new(env.auto_config("teleport.test:443", &[("HTTPS_PROXY", &bad)]))
            .unwrap();
    let text = client.ping().await.unwrap_err().to_string();
    assert!(text.contains("requires authentication (407)"), "{text}");
    assert!(text.contains(&proxy.addr().to_string()), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

#[tokio::test]
async fn when_nothing_answers_every_mode_is_named_with_its_failure() {
    let env = Env::new().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let client = TeleportClient::new(env.auto_config(&addr, &[])).unwrap();
    let text = client.ping().await.unwrap_err().to_string();
    assert!(
        text.contains(&format!("cannot connect to Teleport at {addr}")),
        "{text}"
    );
    assert!(text.contains("auth server directly: "), "{text}");
    assert!(text.contains("proxy TLS routing ("), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
}

/// Identity reload and reconnects on the load-balancer path and through an HTTP proxy.
#[tokio::test]
async fn renewed_identities_and_restarts_work_on_every_path() {
    let env = Env::new().await;
    env.kit.add_user("plugin-a", &[]);
    env.kit.add_user("plugin-b", &[]);
    let proxy = ConnectProxy::start().await.unwrap();
    proxy.route("teleport.test:443", env.kit.proxy_addr().unwrap());
    let l7 = env.kit.l7_addr().unwrap().to_string();
    let url = proxy.url();
    let proxy_env = [("HTTPS_PROXY", url.as_str())];
    type Vars<'a> = &'a [(&'a str, &'a str)];
    let paths: [(&str, &str, Vars); 2] = [
        ("l7", l7.as_str(), &[]),
        ("connect", "teleport.test:443", &proxy_env),
    ];
    for (name, addr, vars) in paths {
        let path = env.identity_file(name, &IdentityRequest::new("plugin-a"));
        let mut config = env.auto_config(addr, vars);
        config.credentials = CredentialsSource::IdentityFile(path);
        let client = TeleportClient::new(config).unwrap();
        assert_eq!(
            resolve_eventually(&env, &client).await.as_deref(),
            Some("plugin-a")
        );
        let mode = client.dial_mode();

        // tbot renews the identity; the server restarts, so every connection is new.
        env.identity_file(name, &IdentityRequest::new("plugin-b"));
        env.kit.stop().await;
        env.kit.restart().await.unwrap();
        assert_eq!(
            resolve_eventually(&env, &client).await.as_deref(),
            Some("plugin-b"),
            "{name}"
        );
        assert_eq!(client.dial_mode(), mode, "{name}: the same way back in");
    }
}
