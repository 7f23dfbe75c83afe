//! The TLS-routing proxy: ALPN `teleport-auth@<hex cluster>.teleport.cluster.local` reaches auth
//! end to end (mTLS with the auth server through the proxy); anything else is closed.

use crate::common;

use std::sync::Arc;

use common::{WAIT, id_of, next_event, open_watch, watch, watch_kind};
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use teleport_client::wire::proto::PingRequest;
use teleport_client::wire::proto::auth_service_client::AuthServiceClient;
use teleport_testkit::{AUTH_SERVER_NAME, Identity, IdentityRequest, Testkit, auth_alpn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint};

fn client_config(
    identity: &Identity,
    alpn: &[&str],
    max_fragment: Option<usize>,
) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(identity.host_ca_pem.as_bytes()) {
        roots.add(ca.unwrap()).unwrap();
    }
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(identity.cert_pem.as_bytes())
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    config.max_fragment_size = max_fragment;
    Arc::new(config)
}

async fn tls_through_proxy(
    kit: &Testkit,
    config: Arc<ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(kit.proxy_addr().unwrap()).await?;
    let name = ServerName::try_from(AUTH_SERVER_NAME).unwrap();
    tokio::time::timeout(WAIT, TlsConnector::from(config).connect(name, tcp))
        .await
        .expect("handshake outcome within the timeout")
}

/// A tonic channel whose connections go through the proxy with our own TLS (as the typed
/// client does): plain `http://` for tonic, TLS inside the connector.
async fn channel_through_proxy(kit: &Testkit, config: Arc<ClientConfig>) -> Channel {
    let proxy = kit.proxy_addr().unwrap();
    Endpoint::from_static("http://teleport.cluster.local")
        .connect_with_connector(tower::service_fn(move |_| {
            let config = Arc::clone(&config);
            async move {
                let tcp = TcpStream::connect(proxy).await?;
                let name = ServerName::try_from(AUTH_SERVER_NAME).unwrap();
                let tls = TlsConnector::from(config).connect(name, tcp).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        }))
        .await
        .unwrap()
}

async fn proxied_kit() -> (Testkit, Identity) {
    let kit = Testkit::builder()
        .cluster_name("teleport.example.org")
        .with_proxy(true)
        .start()
        .await
        .unwrap();
    let identity = kit
        .issue_identity(&IdentityRequest::new("access-plugin"))
        .unwrap();
    (kit, identity)
}

#[tokio::test]
async fn grpc_reaches_auth_through_the_proxy_with_the_auth_alpn() {
    let (kit, identity) = proxied_kit().await;
    let alpn = auth_alpn("teleport.example.org");
    let config = client_config(&identity, &[&alpn, "h2"], None);
    let mut client = AuthServiceClient::new(channel_through_proxy(&kit, config).await);
    let ping = client.ping(PingRequest {}).await.unwrap().into_inner();
    assert_eq!(ping.cluster_name, "teleport.example.org");
    assert_eq!(
        ping.proxy_public_addr,
        kit.proxy_addr().unwrap().to_string()
    );

    // Streams work across the splice too.
    let mut stream = open_watch(&mut client, watch(vec![watch_kind(&[])])).await;
    let created = kit.create_request("alice", &["editor"], "").unwrap();
    let event = next_event(&mut stream).await;
    let Some(teleport_client::wire::proto::event::Resource::AccessRequest(put)) = event.resource
    else {
        panic!("PUT expected")
    };
    assert_eq!(id_of(&put), id_of(&created));
}

#[tokio::test]
async fn a_hello_fragmented_over_many_records_is_routed() {
    let (kit, identity) = proxied_kit().await;
    let alpn = auth_alpn("teleport.example.org");
    let config = client_config(&identity, &[&alpn, "h2"], Some(64));
    let mut tls = tls_through_proxy(&kit, Arc::clone(&config)).await.unwrap();
    // The end-to-end handshake negotiated h2 with the auth server itself.
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    tls.shutdown().await.ok();
    let mut client = AuthServiceClient::new(channel_through_proxy(&kit, config).await);
    client.ping(PingRequest {}).await.unwrap();
}

#[tokio::test]
async fn other_alpn_values_are_closed_without_a_handshake() {
    let (kit, identity) = proxied_kit().await;
    let wrong_cluster = auth_alpn("other.example.org");
    let auth_second = ["h2", &auth_alpn("teleport.example.org")];
    let cases: [&[&str]; 5] = [
        &["h2"],
        &[],
        &[&wrong_cluster, "h2"],
        &auth_second,
        &["teleport-reversetunnel"],
    ];
    for alpn in cases {
        let config = client_config(&identity, alpn, None);
        let error = tls_through_proxy(&kit, config).await.unwrap_err();
        // Closed by the proxy: no TLS alert from auth, just end of stream.
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::UnexpectedEof,
            "ALPN {alpn:?}: {error}"
        );
    }
    // Bytes that are not TLS at all: the proxy just closes.
    let mut tcp = TcpStream::connect(kit.proxy_addr().unwrap()).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(WAIT, tcp.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

#[tokio::test]
async fn a_slow_client_sending_its_hello_byte_by_byte_is_routed() {
    let (kit, identity) = proxied_kit().await;
    let alpn = auth_alpn("teleport.example.org");
    let config = client_config(&identity, &[&alpn, "h2"], None);
    // Produce the real ClientHello bytes with a rustls connection, then dribble them.
    let mut conn =
        rustls::ClientConnection::new(config, ServerName::try_from(AUTH_SERVER_NAME).unwrap())
            .unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    let mut tcp = TcpStream::connect(kit.proxy_addr().unwrap()).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    for byte in &hello {
        tcp.write_all(std::slice::from_ref(byte)).await.unwrap();
        tcp.flush().await.unwrap();
    }
    // The auth server answers with a ServerHello record through the splice.
    let mut header = [0u8; 5];
    tokio::time::timeout(WAIT, tcp.read_exact(&mut header))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(header[0], 22, "a TLS handshake record from auth");
}
