//! Mutual TLS on the auth listener: who gets in, and what the server learns about them.

use crate::common;

use std::time::Duration;

use common::{WAIT, client, id_of, next_event, open_watch, watch, watch_kind};
use teleport_client::wire::proto::PingRequest;
use teleport_client::wire::proto::auth_service_client::AuthServiceClient;
use teleport_client::wire::teleport::users::v1::GetUserRequest;
use teleport_testkit::{AUTH_SERVER_NAME, Identity, IdentityRequest, KeyKind, Testkit};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

/// Pings with an arbitrary TLS setup; Err when the connection or the call is refused.
async fn ping_with(kit: &Testkit, tls: ClientTlsConfig) -> Result<String, String> {
    let endpoint = Endpoint::from_shared(format!("https://{}", kit.auth_addr()))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_timeout(WAIT);
    let channel = endpoint.connect().await.map_err(|e| e.to_string())?;
    let reply = tokio::time::timeout(WAIT, AuthServiceClient::new(channel).ping(PingRequest {}))
        .await
        .expect("refusal within the timeout")
        .map_err(|e| e.to_string())?;
    Ok(reply.into_inner().cluster_name)
}

fn tls_for(identity: &Identity) -> ClientTlsConfig {
    ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&identity.host_ca_pem))
        .identity(identity.tonic_identity())
        .domain_name(AUTH_SERVER_NAME)
}

#[tokio::test]
async fn every_key_kind_is_accepted_and_ping_reports_the_cluster() {
    let kit = Testkit::builder()
        .cluster_name("teleport.example.org")
        .advanced_workflows(true)
        .proxy_public_addr("teleport.example.org:443")
        .start()
        .await
        .unwrap();
    for kind in [KeyKind::EcdsaP256, KeyKind::Rsa2048Pkcs1, KeyKind::EcSec1] {
        let identity = kit
            .issue_identity(&IdentityRequest::new("access-plugin").key(kind))
            .unwrap();
        let mut client = kit.auth_client(&identity).await.unwrap();
        let ping = client.ping(PingRequest {}).await.unwrap().into_inner();
        assert_eq!(ping.cluster_name, "teleport.example.org", "{kind:?}");
        assert_eq!(ping.server_version, "18.0.0");
        assert!(ping.server_features.unwrap().advanced_access_workflows);
        assert_eq!(ping.proxy_public_addr, "teleport.example.org:443");
        assert!(
            ping.remote_addr.starts_with("127.0.0.1:"),
            "{}",
            ping.remote_addr
        );
    }
}

#[tokio::test]
async fn the_caller_is_the_certificate_common_name() {
    let kit = common::kit().await;
    kit.add_user("access-plugin", &["access-plugin"]);
    let identity = kit
        .issue_identity(&IdentityRequest::new("access-plugin"))
        .unwrap();
    let mut users = kit.users_client(&identity).await.unwrap();
    let me = users
        .get_user(GetUserRequest {
            current_user: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(me.metadata.unwrap().name, "access-plugin");

    // And requests created over gRPC without a user belong to the caller.
    let mut auth = kit.auth_client(&identity).await.unwrap();
    let created = auth
        .create_access_request_v2(teleport_client::wire::types::AccessRequestV3 {
            spec: Some(teleport_client::wire::types::AccessRequestSpecV3 {
                roles: vec!["editor".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.spec.unwrap().user, "access-plugin");
}

#[tokio::test]
async fn no_client_certificate_is_refused() {
    let kit = common::kit().await;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(kit.host_ca_pem()))
        .domain_name(AUTH_SERVER_NAME);
    let refused = ping_with(&kit, tls).await.unwrap_err();
    assert!(refused.contains("CertificateRequired"), "{refused}");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let kit = common::kit().await;
    let good = kit.issue_identity(&IdentityRequest::new("bot")).unwrap();
    assert_eq!(
        ping_with(&kit, tls_for(&good)).await.unwrap(),
        "example.com"
    );
    let foreign = kit.foreign_identity(&IdentityRequest::new("bot")).unwrap();
    let refused = ping_with(&kit, tls_for(&foreign)).await.unwrap_err();
    // Same issuer name, different key: the signature check fails.
    assert!(refused.contains("fatal alert"), "{refused}");
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let kit = common::kit().await;
    let expired = kit
        .issue_identity(&IdentityRequest::new("bot").expired())
        .unwrap();
    let refused = ping_with(&kit, tls_for(&expired)).await.unwrap_err();
    assert!(refused.contains("CertificateExpired"), "{refused}");
}

#[tokio::test]
async fn the_server_cert_is_only_valid_for_teleport_names() {
    let kit = common::kit().await;
    let identity = kit.issue_identity(&IdentityRequest::new("bot")).unwrap();
    let hex_sni = format!("{}.{AUTH_SERVER_NAME}", hex::encode("example.com"));
    for name in [AUTH_SERVER_NAME, "localhost", hex_sni.as_str()] {
        let tls = tls_for(&identity).domain_name(name);
        assert!(ping_with(&kit, tls).await.is_ok(), "{name}");
    }
    let tls = tls_for(&identity).domain_name("auth.example.com");
    assert!(ping_with(&kit, tls).await.is_err());
}

/// Clients ping every 60 s; a far more eager client must not lose its watch either.
#[tokio::test]
async fn frequent_client_keepalive_pings_do_not_break_streams() {
    let kit = common::kit().await;
    let identity = kit.issue_identity(&IdentityRequest::new("bot")).unwrap();
    let endpoint = Endpoint::from_shared(format!("https://{}", kit.auth_addr()))
        .unwrap()
        .tls_config(tls_for(&identity))
        .unwrap()
        .http2_keep_alive_interval(Duration::from_millis(300))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true);
    let mut client = AuthServiceClient::new(endpoint.connect().await.unwrap());
    let mut stream = open_watch(&mut client, watch(vec![watch_kind(&[])])).await;
    // Not the assertion, just time for ~8 pings: the stream below must still deliver.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let created = kit.create_request("alice", &["editor"], "x").unwrap();
    let event = next_event(&mut stream).await;
    assert_eq!(event.r#type, 1);
    let Some(teleport_client::wire::proto::event::Resource::AccessRequest(request)) =
        event.resource
    else {
        panic!("PUT must carry the request")
    };
    assert_eq!(id_of(&request), id_of(&created));
}

#[tokio::test]
async fn identity_files_written_by_the_testkit_work_with_tonic() {
    let kit = common::kit().await;
    let dir = tempfile::tempdir().unwrap();
    let identity = kit
        .issue_identity(&IdentityRequest::new("bot").key(KeyKind::Rsa2048Pkcs1))
        .unwrap();
    let files = identity.write_tls_trio(dir.path()).unwrap();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(&files.cas).unwrap()))
        .identity(tonic::transport::Identity::from_pem(
            std::fs::read(&files.crt).unwrap(),
            std::fs::read(&files.key).unwrap(),
        ))
        .domain_name(AUTH_SERVER_NAME);
    assert_eq!(ping_with(&kit, tls).await.unwrap(), "example.com");
    // The one-call helper works too.
    let _ = client(&kit, "other").await;
}
