//! Credentials and dialing: both formats, both modes, refusals, renewal.

use crate::support;

use std::time::Duration;

use support::{Env, USER};
use teleport_client::{
    ClientConfig, ClientError, CredentialsError, CredentialsSource, DialMode, DialPolicy,
    RequestState, StateChange, TeleportClient,
};
use teleport_testkit::{IdentityRequest, KeyKind};

#[tokio::test]
async fn identity_file_direct_to_auth_pings() {
    let env = Env::new().await;
    let client = env.client();
    let info = client.ping().await.unwrap();
    assert_eq!(info.cluster_name, "teleport.example.com");
    assert_eq!(info.server_version, "18.0.0");
    assert!(info.advanced_access_workflows);
    assert!(!info.proxy_public_addr.is_empty());
    assert_eq!(client.identity().username(), USER);
    assert_eq!(client.identity().cluster_name(), "teleport.example.com");
}

#[tokio::test]
async fn every_key_format_teleport_writes_is_accepted() {
    let env = Env::new().await;
    for (name, kind) in [
        ("rsa", KeyKind::Rsa2048Pkcs1),
        ("pkcs8", KeyKind::EcdsaP256),
        ("sec1", KeyKind::EcSec1),
    ] {
        let path = env.identity_file(name, &IdentityRequest::new(USER).key(kind));
        let client = env.client_with(CredentialsSource::IdentityFile(path), DialMode::AuthDirect);
        client
            .ping()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[tokio::test]
async fn tls_trio_works() {
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
    let client = env.client_with(credentials, DialMode::AuthDirect);
    assert_eq!(
        client.ping().await.unwrap().cluster_name,
        "teleport.example.com"
    );
}

#[tokio::test]
async fn proxy_tls_routing_reaches_auth() {
    let env = Env::new().await;
    let path = env.identity_file("auth_id", &IdentityRequest::new(USER));
    let client = env.client_with(
        CredentialsSource::IdentityFile(path.clone()),
        DialMode::ProxyTlsRouting,
    );
    assert_eq!(
        client.ping().await.unwrap().cluster_name,
        "teleport.example.com"
    );

    // Auto: a non-3025 port tries the proxy first; the auth port then works by falling back.
    for addr in [env.kit.proxy_addr().unwrap(), env.kit.auth_addr()] {
        let config = ClientConfig::new(
            addr.to_string(),
            CredentialsSource::IdentityFile(path.clone()),
        );
        assert_eq!(config.dial_policy, DialPolicy::Auto);
        let client = TeleportClient::new(config).unwrap();
        client
            .ping()
            .await
            .unwrap_or_else(|e| panic!("auto dial to {addr}: {e}"));
    }
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let env = Env::new().await;
    let path = env.dir.path().join("foreign");
    env.kit
        .foreign_identity(&IdentityRequest::new(USER))
        .unwrap()
        .write_identity_file(&path)
        .unwrap();
    let client = env.client_with(CredentialsSource::IdentityFile(path), DialMode::AuthDirect);
    let error = client.ping().await.unwrap_err();
    assert!(matches!(error, ClientError::Connection { .. }), "{error:?}");
}

#[tokio::test]
async fn an_expired_certificate_is_a_clear_error_naming_file_and_time() {
    let env = Env::new().await;
    let path = env.identity_file("old_id", &IdentityRequest::new(USER).expired());
    let error = TeleportClient::new(ClientConfig::new(
        env.kit.auth_addr().to_string(),
        CredentialsSource::IdentityFile(path.clone()),
    ))
    .err()
    .expect("expired credentials are refused");
    let ClientError::Credentials(CredentialsError::Expired {
        path: p, not_after, ..
    }) = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(p, &path);
    assert!(*not_after < time::OffsetDateTime::now_utc());
    let text = error.to_string();
    assert!(
        text.contains("old_id") && text.contains("expired at"),
        "{text}"
    );
}

#[tokio::test]
async fn broken_credential_files_are_clear_errors() {
    let env = Env::new().await;
    let load = |source: CredentialsSource| source.load().unwrap_err();

    let missing = load(CredentialsSource::IdentityFile(env.dir.path().join("nope")));
    assert!(
        matches!(missing, CredentialsError::Read { .. }),
        "{missing}"
    );

    let garbage = env.dir.path().join("garbage");
    std::fs::write(&garbage, "hello\n").unwrap();
    let error = load(CredentialsSource::IdentityFile(garbage));
    assert!(error.to_string().contains("no PEM block"), "{error}");

    // The key of one identity with the certificate of another.
    let a = env.kit.issue_identity(&IdentityRequest::new(USER)).unwrap();
    let b = env.kit.issue_identity(&IdentityRequest::new(USER)).unwrap();
    let mixed = env.dir.path().join("mixed");
    let text = b
        .identity_file_contents()
        .replacen(&b.key_pem, &a.key_pem, 1);
    std::fs::write(&mixed, text).unwrap();
    let error = load(CredentialsSource::IdentityFile(mixed));
    assert!(
        matches!(error, CredentialsError::KeyMismatch { .. }),
        "{error}"
    );

    // A trio whose certificate file holds a key.
    let files = a.write_tls_trio(env.dir.path()).unwrap();
    let error = load(CredentialsSource::TlsFiles {
        cert: files.key.clone(),
        key: files.key,
        cas: files.cas,
    });
    assert!(error.to_string().contains("CERTIFICATE"), "{error}");
}

#[tokio::test]
async fn a_replaced_identity_file_is_used_by_the_next_connection() {
    let env = Env::new().await;
    env.kit.add_user("plugin-b", &[]);
    let path = env.identity_file("auth_id", &IdentityRequest::new("plugin-a"));
    let client = env.client_with(
        CredentialsSource::IdentityFile(path.clone()),
        DialMode::AuthDirect,
    );
    let id = env
        .kit
        .create_request("alice", &["dev"], "")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    let change = |state| StateChange {
        request_id: id.clone(),
        state,
        delegator: "test".into(),
        reason: String::new(),
        annotations: Default::default(),
    };
    client
        .set_request_state(&change(RequestState::Approved))
        .await
        .unwrap();
    assert_eq!(
        env.kit.resolutions().last().unwrap().caller.as_deref(),
        Some("plugin-a")
    );

    // tbot writes a new identity; the server restarts, so the client must dial again.
    env.identity_file("auth_id", &IdentityRequest::new("plugin-b"));
    env.kit.stop().await;
    env.kit.restart().await.unwrap();
    let id2 = env
        .kit
        .create_request("alice", &["dev"], "")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    let mut attempt = 0;
    loop {
        let result = client
            .set_request_state(&StateChange {
                request_id: id2.clone(),
                ..change(RequestState::Denied)
            })
            .await;
        match result {
            Ok(()) => break,
            Err(e) if e.is_connection_problem() && attempt < 50 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        env.kit.resolutions().last().unwrap().caller.as_deref(),
        Some("plugin-b")
    );
    assert_eq!(client.identity().username(), "plugin-b");
    assert!(!client.refresh_identity().unwrap(), "already picked up");
}

#[tokio::test]
async fn refresh_switches_to_renewed_credentials_without_a_restart() {
    let env = Env::new().await;
    let path = env.identity_file(
        "auth_id",
        &IdentityRequest::new("plugin-a").ttl(Duration::from_secs(3600)),
    );
    let client = env.client_with(CredentialsSource::IdentityFile(path), DialMode::AuthDirect);
    client.ping().await.unwrap();
    env.identity_file("auth_id", &IdentityRequest::new("plugin-b"));
    assert!(client.refresh_identity().unwrap());
    let id = env
        .kit
        .create_request("alice", &["dev"], "")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    client
        .set_request_state(&StateChange {
            request_id: id,
            state: RequestState::Approved,
            delegator: String::new(),
            reason: String::new(),
            annotations: Default::default(),
        })
        .await
        .unwrap();
    assert_eq!(
        env.kit.resolutions().last().unwrap().caller.as_deref(),
        Some("plugin-b")
    );
}
