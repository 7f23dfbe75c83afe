//! The reverse tunnel found through the proxy's web address with `/webapi/find`, against the
//! testkit's web front: without TLS routing (SSH to the separate tunnel port), with TLS routing
//! where only the `teleport-reversetunnel` ALPN route is open (the auth route refused), the
//! answer kept across connections, identity renewal and restarts, an RSA host CA and host
//! key (Teleport's legacy suite) on both ways, and a tunnel host certificate from another
//! cluster refused with a clear error.

use crate::support;

use std::time::{Duration, Instant};

use support::{Env, USER, WAIT};
use teleport_client::{
    ClientConfig, CredentialsSource, DialEnv, DialMode, DialPolicy, RequestState, StateChange,
    TeleportClient, WatchEvent, WatchOptions,
};
use teleport_testkit::{IdentityRequest, SshHostCa, Testkit};

async fn env_with_web_front(tls_routing: bool) -> Env {
    let kit = Testkit::builder()
        .cluster_name("teleport.example.com")
        .with_web_front(tls_routing)
        .start()
        .await
        .unwrap();
    Env::with_kit(kit)
}

/// Creates a request and approves it as the plugin, retrying while the client reconnects.
async fn approve_one(env: &Env, client: &TeleportClient) -> Option<String> {
    let id = env
        .kit
        .create_request("alice", &["dev"], "")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    let change = StateChange {
        request_id: id,
        state: RequestState::Approved,
        delegator: "test".into(),
        reason: String::new(),
        annotations: Default::default(),
    };
    let deadline = Instant::now() + WAIT;
    loop {
        match client.set_request_state(&change).await {
            Ok(()) => break,
            Err(e) if e.is_connection_problem() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    env.kit.resolutions().last().unwrap().caller.clone()
}

/// Watch, approve, renew the identity, restart the cluster, approve again: all by `mode`.
async fn runs_requests_through(env: &Env, mode: DialMode) {
    env.kit.add_user("plugin-b", &[]);
    let web = env.kit.web_addr().unwrap().to_string();
    let mut config = env.auto_config(&web, &[]);
    let path = env.identity_file("found_id", &IdentityRequest::new(USER));
    config.credentials = CredentialsSource::IdentityFile(path);
    let client = TeleportClient::new(config).unwrap();

    let mut stream = client.watch_access_requests(WatchOptions::default());
    assert_eq!(support::next_event(&mut stream).await, WatchEvent::Init);
    assert_eq!(client.dial_mode(), Some(mode));
    assert_eq!(approve_one(env, &client).await.as_deref(), Some(USER));
    assert!(matches!(
        support::next_event(&mut stream).await,
        WatchEvent::Put(_)
    ));
    // The watch and the calls share what one find said.
    assert_eq!(env.kit.find_requests(), 1);

    env.identity_file("found_id", &IdentityRequest::new("plugin-b"));
    env.kit.restart().await.unwrap();
    assert_eq!(approve_one(env, &client).await.as_deref(), Some("plugin-b"));
    assert_eq!(client.dial_mode(), Some(mode));
}

#[tokio::test]
async fn without_tls_routing_find_names_the_tunnel_port_and_requests_run_through_it() {
    let env = env_with_web_front(false).await;
    runs_requests_through(&env, DialMode::ProxyTunnel).await;
}

#[tokio::test]
async fn with_tls_routing_the_tunnel_runs_inside_tls_to_the_web_port() {
    let env = env_with_web_front(true).await;
    runs_requests_through(&env, DialMode::ProxyTunnelTlsRouting).await;
}

/// A legacy-suite cluster: RSA host CA, RSA host key certificate signed with rsa-sha2-512.
#[tokio::test]
async fn an_rsa_host_ca_is_trusted_on_both_tunnel_ways_found_by_find() {
    for (tls_routing, mode) in [
        (false, DialMode::ProxyTunnel),
        (true, DialMode::ProxyTunnelTlsRouting),
    ] {
        let kit = Testkit::builder()
            .cluster_name("teleport.example.com")
            .with_web_front(tls_routing)
            .ssh_host_ca(SshHostCa::Rsa)
            .start()
            .await
            .unwrap();
        runs_requests_through(&Env::with_kit(kit), mode).await;
    }
}

#[tokio::test]
async fn the_web_front_refuses_the_auth_route_so_only_the_tunnel_gets_in() {
    let env = env_with_web_front(true).await;
    let web = env.kit.web_addr().unwrap().to_string();
    let mut config = env.auto_config(&web, &[]);
    config.dial_policy = DialPolicy::Only(DialMode::ProxyTlsRouting);
    let client = TeleportClient::new(config).unwrap();
    let text = client.ping().await.unwrap_err().to_string();
    assert!(text.contains("proxy TLS routing"), "{text}");

    // An `Only` policy naming the other discovered mode says what find answered.
    let mut config = env.auto_config(&web, &[]);
    config.dial_policy = DialPolicy::Only(DialMode::ProxyTunnel);
    let client = TeleportClient::new(config).unwrap();
    let text = client.ping().await.unwrap_err().to_string();
    assert!(text.contains("says TLS routing is on"), "{text}");
}

#[tokio::test]
async fn a_tunnel_host_certificate_from_another_cluster_is_refused_after_find() {
    let env = env_with_web_front(false).await;
    let other = env_with_web_front(false).await;
    // The identity trusts env.kit's host CA; the other cluster's tunnel has its own.
    let path = env.identity_file("id", &IdentityRequest::new(USER));
    let web = other.kit.web_addr().unwrap().to_string();
    let mut config = ClientConfig::new(web, CredentialsSource::IdentityFile(path));
    config.web_ca_file = Some(other.web_ca_file());
    config.dial_env = DialEnv::fixed::<&str, &str>([]);
    config.dial_policy = DialPolicy::Only(DialMode::ProxyTunnel);
    let client = TeleportClient::new(config).unwrap();
    let text = client.ping().await.unwrap_err().to_string();
    assert!(
        text.contains("proxy reverse tunnel found by /webapi/find (SSH): tunnel at"),
        "{text}"
    );
    assert!(text.contains("SSH host key is not trusted"), "{text}");
}

#[tokio::test]
async fn find_and_the_tunnel_it_names_both_go_through_https_proxy() {
    let env = env_with_web_front(false).await;
    let proxy = teleport_testkit::ConnectProxy::start().await.unwrap();
    let web = env.kit.web_addr().unwrap();
    // A name only the proxy resolves: reaching it proves find went through the proxy.
    let web_name = format!("localhost:{}", web.port());
    proxy.route(&web_name, web);
    let url = proxy.url();
    let mut config = env.auto_config(&web_name, &[("HTTPS_PROXY", url.as_str())]);
    config.dial_policy = DialPolicy::Only(DialMode::ProxyTunnel);
    let client = TeleportClient::new(config).unwrap();
    client.ping().await.unwrap();
    let tunnels = proxy.tunnels();
    assert!(tunnels.contains(&web_name), "{tunnels:?}");
    let tunnel = env.kit.tunnel_addr().unwrap().to_string();
    assert!(tunnels.contains(&tunnel), "{tunnels:?}");
}

/// The kept answer is dropped when its tunnel fails: after an outage the proxy is asked
/// again (it may have moved its tunnel), and the new answer is kept in turn.
#[tokio::test]
async fn a_failed_tunnel_sends_the_client_back_to_find() {
    let env = env_with_web_front(false).await;
    let web = env.kit.web_addr().unwrap().to_string();
    let client = TeleportClient::new(env.auto_config(&web, &[])).unwrap();
    assert_eq!(approve_one(&env, &client).await.as_deref(), Some(USER));
    assert_eq!(env.kit.find_requests(), 1);

    env.kit.stop().await;
    // The first call may fail on the cut connection; a new dial then fails by every mode.
    let deadline = Instant::now() + WAIT;
    loop {
        let text = client.ping().await.unwrap_err().to_string();
        if text.contains("/webapi/find") {
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    env.kit.restart().await.unwrap();
    assert_eq!(approve_one(&env, &client).await.as_deref(), Some(USER));
    assert_eq!(client.dial_mode(), Some(DialMode::ProxyTunnel));
    assert_eq!(env.kit.find_requests(), 2);
    client.ping().await.unwrap();
    assert_eq!(env.kit.find_requests(), 2);
}
