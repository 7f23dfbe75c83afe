//! The reverse tunnel against the testkit's SSH listener: found by the automatic dial,
//! carrying the API and the watch; a host certificate from another cluster refused with a
//! clear error; a user certificate from another CA refused; credentials without SSH named;
//! identity reload and reconnects; RSA identities; RSA host CAs and host keys (Teleport's
//! legacy suite), mismatched or SHA-1-signed ones refused, mixed with ECDSA ones. The tunnel
//! found through a proxy's web address (`/webapi/find`) is in `tunnel_find.rs`.

use crate::support;

use std::time::{Duration, Instant};

use support::{Env, USER, WAIT};
use teleport_client::{
    CredentialsSource, DialMode, DialPolicy, RequestState, StateChange, TeleportClient, WatchEvent,
    WatchOptions,
};
use teleport_testkit::{IdentityRequest, KeyKind, SshHostCa, Testkit};

fn approve(id: &str) -> StateChange {
    StateChange {
        request_id: id.to_owned(),
        state: RequestState::Approved,
        delegator: "test".into(),
        reason: String::new(),
        annotations: Default::default(),
    }
}

fn new_id(kit: &Testkit) -> String {
    kit.create_request("alice", &["dev"], "")
        .unwrap()
        .metadata
        .unwrap()
        .name
}

#[tokio::test]
async fn the_tunnel_port_is_found_by_the_automatic_dial_and_carries_api_and_watch() {
    let env = Env::new().await;
    let addr = env.kit.tunnel_addr().unwrap().to_string();
    let client = TeleportClient::new(env.auto_config(&addr, &[])).unwrap();
    let info = client.ping().await.unwrap();
    assert_eq!(info.cluster_name, "teleport.example.com");
    assert_eq!(client.dial_mode(), Some(DialMode::ReverseTunnel));

    let mut stream = client.watch_access_requests(WatchOptions::default());
    assert_eq!(support::next_event(&mut stream).await, WatchEvent::Init);
    let id = new_id(&env.kit);
    assert!(matches!(support::next_event(&mut stream).await, WatchEvent::Put(r) if r.id == id));
    client.set_request_state(&approve(&id)).await.unwrap();
    assert_eq!(
        env.kit.resolutions().last().unwrap().caller.as_deref(),
        Some(USER)
    );
}

#[tokio::test]
async fn a_host_certificate_from_another_cluster_is_refused_with_a_clear_error() {
    let env = Env::new().await;
    let other = Testkit::builder()
        .cluster_name("teleport.example.com")
        .with_tunnel(true)
        .start()
        .await
        .unwrap();
    // The identity trusts env.kit's host CA; the other cluster's tunnel has its own.
    let path = env.identity_file("id", &IdentityRequest::new(USER));
    let mut config = env.auto_config(&other.tunnel_addr().unwrap().to_string(), &[]);
    config.credentials = CredentialsSource::IdentityFile(path);
    config.dial_policy = DialPolicy::Only(DialMode::ReverseTunnel);
    let client = TeleportClient::new(config).unwrap();
    let text = client.ping().await.unwrap_err().to_string();
    assert!(text.contains("proxy reverse tunnel (SSH)"), "{text}");
    assert!(text.contains("SSH host key is not trusted"), "{text}");
    assert!(text.contains("not signed by a host CA"), "{text}");
}

#[tokio::test]
async fn the_tls_trio_has_no_ssh_certificate_and_says_so() {
    let env = Env::new().await;
    let files = env
        .kit
        .issue_identity(&IdentityRequest::new(USER))
        .unwrap()
        .write_tls_trio(env.dir.path())
        .unwrap();
    let credentials = CredentialsSource::TlsFiles {
        cert: files.crt,
        key: files.key,
        cas: files.cas,
    };
    let client = env.client_with(credentials, DialMode::ReverseTunnel);
    let text = client.ping().await.unwrap_err().to_string();
    assert!(text.contains("no SSH certificate"), "{text}");
}

/// tbot renews the identity and the cluster restarts: the next connection through the
/// tunnel uses the new certificates, by the same way in.
#[tokio::test]
async fn renewed_identities_and_restarts_work_through_the_tunnel() {
    let env = Env::new().await;
    env.kit.add_user("plugin-a", &[]);
    env.kit.add_user("plugin-b", &[]);
    let path = env.identity_file("tunnel", &IdentityRequest::new("plugin-a"));
    let mut config = env.auto_config(&env.kit.tunnel_addr().unwrap().to_string(), &[]);
    config.credentials = CredentialsSource::IdentityFile(path);
    let client = TeleportClient::new(config).unwrap();

    let resolve = async |client: &TeleportClient| {
        let id = new_id(&env.kit);
        let deadline = Instant::now() + WAIT;
        loop {
            match client.set_request_state(&approve(&id)).await {
                Ok(()) => break,
                Err(e) if e.is_connection_problem() && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{e}"),
            }
        }
        env.kit.resolutions().last().unwrap().caller.clone()
    };
    assert_eq!(resolve(&client).await.as_deref(), Some("plugin-a"));
    assert_eq!(client.dial_mode(), Some(DialMode::ReverseTunnel));

    env.identity_file("tunnel", &IdentityRequest::new("plugin-b"));
    env.kit.stop().await;
    env.kit.restart().await.unwrap();
    assert_eq!(resolve(&client).await.as_deref(), Some("plugin-b"));
    assert_eq!(client.dial_mode(), Some(DialMode::ReverseTunnel));
}

#[tokio::test]
async fn when_nothing_answers_the_tunnel_is_named_among_the_modes_tried() {
    let env = Env::new().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let client = TeleportClient::new(env.auto_config(&addr, &[])).unwrap();
    let text = client.ping().await.unwrap_err().to_string();
    assert!(text.contains("proxy reverse tunnel (SSH): "), "{text}");
    assert!(text.contains("auth server directly: "), "{text}");
    assert!(
        text.contains("proxy reverse tunnel found by /webapi/find (SSH): /webapi/find on"),
        "{text}"
    );
}

#[tokio::test]
async fn an_ssh_certificate_from_another_user_ca_is_refused_by_the_tunnel() {
    let env = Env::new().await;
    let path = env.dir.path().join("foreign_id");
    env.kit
        .foreign_identity(&IdentityRequest::new(USER))
        .unwrap()
        .write_identity_file(&path)
        .unwrap();
    let client = env.client_with(
        CredentialsSource::IdentityFile(path),
        DialMode::ReverseTunnel,
    );
    let text = client.ping().await.unwrap_err().to_string();
    assert!(
        text.contains("the tunnel refused the identity's SSH certificate"),
        "{text}"
    );
}

/// Teleport's legacy suite issues `RSA PRIVATE KEY` identities; their SSH user-auth is signed
/// with ring (`rsa-sha2-512`), the `rsa` crate being kept out of the build.
#[tokio::test]
async fn an_rsa_identity_authenticates_over_the_tunnel_and_survives_a_restart() {
    let env = Env::new().await;
    let request = IdentityRequest::new(USER).key(KeyKind::Rsa2048Pkcs1);
    let path = env.identity_file("rsa_id", &request);
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("BEGIN RSA PRIVATE KEY")
    );
    let client = env.client_with(
        CredentialsSource::IdentityFile(path),
        DialMode::ReverseTunnel,
    );
    let id = new_id(&env.kit);
    client.set_request_state(&approve(&id)).await.unwrap();
    assert_eq!(
        env.kit.resolutions().last().unwrap().caller.as_deref(),
        Some(USER)
    );

    env.kit.restart().await.unwrap();
    let id = new_id(&env.kit);
    let deadline = Instant::now() + WAIT;
    loop {
        match client.set_request_state(&approve(&id)).await {
            Ok(()) => break,
            Err(e) if e.is_connection_problem() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(client.dial_mode(), Some(DialMode::ReverseTunnel));
}

/// A testkit whose tunnel presents a host certificate from a host CA with SSH half `ssh`.
async fn kit_with_ssh_host_ca(ssh: SshHostCa) -> Testkit {
    Testkit::builder()
        .cluster_name("teleport.example.com")
        .with_tunnel(true)
        .with_l7_front(true)
        .ssh_host_ca(ssh)
        .start()
        .await
        .unwrap()
}

/// A ReverseTunnel client of `env` with `identity` written to a file.
fn tunnel_client(env: &Env, name: &str, identity: &teleport_testkit::Identity) -> TeleportClient {
    let path = env.dir.path().join(name);
    identity.write_identity_file(&path).unwrap();
    env.client_with(
        CredentialsSource::IdentityFile(path),
        DialMode::ReverseTunnel,
    )
}

/// Ping, then a request approved through the tunnel, by `USER`.
async fn ping_and_approve(env: &Env, client: &TeleportClient) {
    let info = client.ping().await.unwrap();
    assert_eq!(info.cluster_name, "teleport.example.com");
    let id = new_id(&env.kit);
    client.set_request_state(&approve(&id)).await.unwrap();
    assert_eq!(
        env.kit.resolutions().last().unwrap().caller.as_deref(),
        Some(USER)
    );
    assert_eq!(client.dial_mode(), Some(DialMode::ReverseTunnel));
}

/// Clusters on Teleport's legacy suite: an RSA host CA and an RSA host key whose
/// certificate is signed with rsa-sha2-512, with ECDSA and RSA identities alike.
#[tokio::test]
async fn an_rsa_host_ca_and_rsa_host_key_are_trusted_for_ecdsa_and_rsa_identities() {
    let env = Env::with_kit(kit_with_ssh_host_ca(SshHostCa::Rsa).await);
    for (name, kind) in [
        ("ecdsa_id", KeyKind::EcdsaP256),
        ("rsa_id", KeyKind::Rsa2048Pkcs1),
    ] {
        let identity = env
            .kit
            .issue_identity(&IdentityRequest::new(USER).key(kind))
            .unwrap();
        assert!(identity.ssh_ca_line.contains(" ssh-rsa AAAA"), "{kind:?}");
        ping_and_approve(&env, &tunnel_client(&env, name, &identity)).await;
    }
}

#[tokio::test]
async fn a_host_certificate_from_another_rsa_host_ca_is_refused_with_a_clear_error() {
    let env = Env::with_kit(kit_with_ssh_host_ca(SshHostCa::Rsa).await);
    let other = kit_with_ssh_host_ca(SshHostCa::RsaOther).await;
    // The identity trusts env.kit's RSA host CA; the other cluster's tunnel has its own.
    let path = env.identity_file("id", &IdentityRequest::new(USER));
    let mut config = env.auto_config(&other.tunnel_addr().unwrap().to_string(), &[]);
    config.credentials = CredentialsSource::IdentityFile(path);
    config.dial_policy = DialPolicy::Only(DialMode::ReverseTunnel);
    let client = TeleportClient::new(config).unwrap();
    let text = client.ping().await.unwrap_err().to_string();
    assert!(text.contains("SSH host key is not trusted"), "{text}");
    assert!(text.contains("not signed by a host CA"), "{text}");
}

/// The trusted RSA CA's key, but the certificate's signature says SHA-1 `ssh-rsa`.
#[tokio::test]
async fn a_host_certificate_signed_with_sha1_ssh_rsa_is_refused() {
    let env = Env::with_kit(kit_with_ssh_host_ca(SshHostCa::Rsa).await);
    let sha1 = kit_with_ssh_host_ca(SshHostCa::RsaSha1Label).await;
    let path = env.identity_file("id", &IdentityRequest::new(USER));
    let mut config = env.auto_config(&sha1.tunnel_addr().unwrap().to_string(), &[]);
    config.credentials = CredentialsSource::IdentityFile(path);
    config.dial_policy = DialPolicy::Only(DialMode::ReverseTunnel);
    let client = TeleportClient::new(config).unwrap();
    let text = client.ping().await.unwrap_err().to_string();
    assert!(text.contains("SSH host key is not trusted"), "{text}");
    assert!(
        text.contains("signature (ssh-rsa) is not rsa-sha2-256 or rsa-sha2-512"),
        "{text}"
    );
}

/// An identity file may list several host CAs (a cluster mid-rotation, or trusted leaf
/// clusters); RSA and ECDSA ones mix, in either order.
#[tokio::test]
async fn rsa_and_ecdsa_host_cas_mix_in_one_identity_file() {
    let rsa = Env::with_kit(kit_with_ssh_host_ca(SshHostCa::Rsa).await);
    let ecdsa = Env::with_kit(kit_with_ssh_host_ca(SshHostCa::Ecdsa).await);
    let rsa_line = rsa.kit.host_ca().ssh_host_ca_line().unwrap();
    let ecdsa_line = ecdsa.kit.host_ca().ssh_host_ca_line().unwrap();
    for (env, lines) in [
        (&rsa, format!("{ecdsa_line}\n{rsa_line}")),
        (&ecdsa, format!("{rsa_line}\n{ecdsa_line}")),
    ] {
        let mut identity = env.kit.issue_identity(&IdentityRequest::new(USER)).unwrap();
        identity.ssh_ca_line = lines;
        ping_and_approve(env, &tunnel_client(env, "mixed_id", &identity)).await;
    }
}
