//! The webhook listener over real TLS on 127.0.0.1: status, basic auth, client certificates,
//! a plugin's header check, the body limit, the deadline and shutdown, each checked by what
//! the handler saw.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use reqwest::StatusCode;
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::inbound::config::{BasicAuth, ClientCa, Transport};
use teleport_plugin_runtime::inbound::{
    HttpConfig, InboundListener, ListenerError, ListenerOptions,
};
use tokio_util::sync::CancellationToken;

/// A CA with a server certificate for 127.0.0.1, a client certificate it signs, and a
/// client certificate from an unrelated CA.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
}

fn new_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = new_ca("webhook test CA");
        let other = new_ca("someone else's CA");
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("ca.pem", &ca.pem());
        let leaf = |sans: Vec<String>, issuer: &CertifiedIssuer<'static, KeyPair>, name: &str| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(sans)
                .unwrap()
                .signed_by(&key, issuer)
                .unwrap();
            write(&format!("{name}.crt"), &cert.pem());
            write(&format!("{name}.key"), &key.serialize_pem());
        };
        leaf(vec!["127.0.0.1".into(), "localhost".into()], &ca, "server");
        leaf(vec!["jira.example.com".into()], &ca, "client");
        leaf(vec!["jira.example.com".into()], &other, "stranger");
        Self {
            ca_pem: ca.pem(),
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn tls(&self, client_ca: Option<ClientCa>) -> Transport {
        Transport::Tls {
            cert_file: self.path("server.crt"),
            key_file: self.path("server.key"),
            client_ca,
        }
    }

    /// A client trusting the CA, presenting `identity` (`client` / `stranger`) if given.
    fn client(&self, identity: Option<&str>) -> reqwest::Client {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
        let mut tls = match identity {
            None => builder.with_no_client_auth(),
            Some(name) => {
                let chain = CertificateDer::pem_file_iter(self.path(&format!("{name}.crt")))
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap();
                let key = PrivateKeyDer::from_pem_file(self.path(&format!("{name}.key"))).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
        };
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }
}

/// A client for plain-HTTP URLs (reqwest needs a TLS setup even so).
fn plain_client() -> reqwest::Client {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}

/// What the plugin's handlers saw.
#[derive(Default)]
struct Seen {
    calls: AtomicUsize,
    bytes: AtomicUsize,
    slow_finished: AtomicUsize,
}

fn routes(seen: Arc<Seen>) -> Router {
    async fn hook(State(seen): State<Arc<Seen>>, body: Bytes) -> &'static str {
        seen.calls.fetch_add(1, Ordering::SeqCst);
        seen.bytes.fetch_add(body.len(), Ordering::SeqCst);
        "ok"
    }
    async fn slow(State(seen): State<Arc<Seen>>) -> &'static str {
        tokio::time::sleep(Duration::from_millis(600)).await;
        seen.slow_finished.fetch_add(1, Ordering::SeqCst);
        "late"
    }
    Router::new()
        .route("/", post(hook))
        .route("/slow", post(slow))
        .with_state(seen)
}

struct Running {
    addr: SocketAddr,
    seen: Arc<Seen>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(config: HttpConfig, options: ListenerOptions) -> Self {
        let seen = Arc::new(Seen::default());
        let listener = InboundListener::bind(&config, routes(seen.clone()), options)
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn(listener.serve(stop.clone()));
        Self {
            addr,
            seen,
            stop,
            task,
        }
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.addr.port())
    }

    fn calls(&self) -> usize {
        self.seen.calls.load(Ordering::SeqCst)
    }

    async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the listener stops in time")
            .unwrap();
    }
}

fn config(transport: Transport, basic_auth: Option<BasicAuth>) -> HttpConfig {
    let mut config = HttpConfig::plain("127.0.0.1:0");
    config.transport = transport;
    config.basic_auth = basic_auth;
    config
}

#[tokio::test]
async fn serves_status_and_the_plugins_routes_over_https() {
    let pki = Pki::new();
    let server = Running::start(config(pki.tls(None), None), ListenerOptions::default()).await;
    let client = pki.client(None);
    let status = client
        .get(server.url("https", "/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), StatusCode::OK);
    let hook = client
        .post(server.url("https", "/"))
        .body("{\"webhookEvent\":\"x\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), StatusCode::OK);
    assert_eq!(server.calls(), 1);
    assert_eq!(server.seen.bytes.load(Ordering::SeqCst), 20);
    let missing = client
        .get(server.url("https", "/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // Plain HTTP to a TLS port gets nowhere near the handler.
    let plain = plain_client()
        .post(server.url("http", "/"))
        .body("x")
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    assert_eq!(server.calls(), 1);
    server.stop().await;
}

#[tokio::test]
async fn basic_auth_is_checked_before_anything_else() {
    let pki = Pki::new();
    let auth = BasicAuth {
        user: "jira".into(),
        password: Secret::new("correct horse"),
    };
    let server = Running::start(
        config(pki.tls(None), Some(auth)),
        ListenerOptions::default(),
    )
    .await;
    let client = pki.client(None);
    let none = client
        .post(server.url("https", "/"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.headers()["www-authenticate"],
        "Basic realm=\"Restricted\""
    );
    for (user, password) in [
        ("jira", "wrong"),
        ("other", "correct horse"),
        ("jira", "correct horse!"),
    ] {
        let wrong = client
            .post(server.url("https", "/"))
            .basic_auth(user, Some(password))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(
            wrong.status(),
            StatusCode::UNAUTHORIZED,
            "{user}:{password}"
        );
    }
    let status = client
        .get(server.url("https", "/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        status.status(),
        StatusCode::UNAUTHORIZED,
        "as Go: auth covers every route"
    );
    assert_eq!(server.calls(), 0, "no refused call reached the handler");

    let right = client
        .post(server.url("https", "/"))
        .basic_auth("jira", Some("correct horse"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    assert_eq!(server.calls(), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_client_certificate_from_the_configured_ca_is_required() {
    let pki = Pki::new();
    let server = Running::start(
        config(pki.tls(Some(ClientCa::File(pki.path("ca.pem")))), None),
        ListenerOptions::default(),
    )
    .await;
    let missing = pki
        .client(None)
        .post(server.url("https", "/"))
        .body("{}")
        .send()
        .await;
    assert!(missing.is_err(), "no certificate: the handshake fails");
    let foreign = pki
        .client(Some("stranger"))
        .post(server.url("https", "/"))
        .body("{}")
        .send()
        .await;
    assert!(foreign.is_err(), "a certificate from another CA is refused");
    assert_eq!(server.calls(), 0);

    let good = pki
        .client(Some("client"))
        .post(server.url("https", "/"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), StatusCode::OK);
    assert_eq!(server.calls(), 1);
    server.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_any_handler_runs() {
    let pki = Pki::new();
    let options = ListenerOptions {
        body_limit: 1024,
        ..ListenerOptions::default()
    };
    let server = Running::start(config(pki.tls(None), None), options).await;
    let client = pki.client(None);

    let declared = client
        .post(server.url("https", "/"))
        .body(vec![b'a'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // No Content-Length: the limit holds while a chunked body streams in.
    let streamed = chunked_post(&pki, server.addr, 8, 512).await;
    assert!(streamed.starts_with("HTTP/1.1 413"), "{streamed}");
    assert_eq!(server.calls(), 0, "nothing was processed");

    let at_limit = client
        .post(server.url("https", "/"))
        .body(vec![b'c'; 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(at_limit.status(), StatusCode::OK);
    assert_eq!(server.seen.bytes.load(Ordering::SeqCst), 1024);
    server.stop().await;
}

/// Posts `chunks` chunks of `size` bytes with chunked encoding over TLS; the status line.
async fn chunked_post(pki: &Pki, addr: SocketAddr, chunks: usize, size: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tls_connect(pki, addr).await;
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    for _ in 0..chunks {
        let chunk = format!("{size:x}\r\n{}\r\n", "b".repeat(size));
        // The server may answer and close before the whole body is sent.
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = vec![0; 256];
    let n = stream.read(&mut answer).await.unwrap_or(0);
    String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

/// A TLS connection to the listener that trusts the test CA, handshake done.
async fn tls_connect(
    pki: &Pki,
    addr: SocketAddr,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(name, tcp)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_client_silent_after_the_tls_handshake_is_cut_off() {
    use tokio::io::AsyncReadExt;
    let pki = Pki::new();
    let options = ListenerOptions {
        max_connections: 1,
        handshake_timeout: Duration::from_millis(300),
        ..ListenerOptions::default()
    };
    let server = Running::start(config(pki.tls(None), None), options).await;
    // Handshakes, then sends nothing: the header timeout (not the 2-minute connection age)
    // must close it, or a few such clients would hold every slot.
    let mut silent = tls_connect(&pki, server.addr).await;
    let mut answer = vec![0; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut answer))
        .await
        .expect("the silent connection is closed within 5 s");
    let n = read.unwrap_or(0);
    assert!(
        n == 0 || String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 408"),
        "closed rather than served"
    );
    let next = pki
        .client(None)
        .get(server.url("https", "/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), StatusCode::OK, "its slot is free again");
    server.stop().await;
}

#[tokio::test]
async fn a_call_past_its_deadline_is_answered_503_and_its_work_still_finishes() {
    let options = ListenerOptions {
        deadline: Duration::from_millis(150),
        ..ListenerOptions::default()
    };
    let server = Running::start(HttpConfig::plain("127.0.0.1:0"), options).await;
    let response = plain_client()
        .post(server.url("http", "/slow"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.seen.slow_finished.load(Ordering::SeqCst), 0);
    // Shutdown waits for the work the call started.
    let seen = server.seen.clone();
    server.stop().await;
    assert_eq!(seen.slow_finished.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn stops_on_the_token_and_closes_the_port() {
    let server = Running::start(HttpConfig::plain("127.0.0.1:0"), ListenerOptions::default()).await;
    let addr = server.addr;
    let ok = plain_client()
        .get(server.url("http", "/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    server.stop().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port is closed"
    );
}

#[tokio::test]
async fn unusable_tls_files_fail_the_start_naming_the_file() {
    let pki = Pki::new();
    std::fs::write(
        pki.path("junk.key"),
        "-----BEGIN NONSENSE-----\nsecretish\n",
    )
    .unwrap();
    let transport = Transport::Tls {
        cert_file: pki.path("server.crt"),
        key_file: pki.path("junk.key"),
        client_ca: None,
    };
    let error = InboundListener::bind(
        &config(transport, None),
        Router::new(),
        ListenerOptions::default(),
    )
    .await
    .err()
    .expect("a key file without a key is refused");
    assert!(matches!(error, ListenerError::Pem { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("junk.key") && text.contains("the TLS key"),
        "{text}"
    );
    assert!(!text.contains("secretish"), "{text}");

    let transport = Transport::Tls {
        cert_file: pki.path("missing.crt"),
        key_file: pki.path("server.key"),
        client_ca: None,
    };
    let error = InboundListener::bind(
        &config(transport, None),
        Router::new(),
        ListenerOptions::default(),
    )
    .await
    .err()
    .expect("a missing certificate is refused");
    assert!(error.to_string().contains("missing.crt"), "{error}");

    // A port in use is a clear start-up error too.
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let busy = HttpConfig::plain(taken.local_addr().unwrap().to_string());
    let error = InboundListener::bind(&busy, Router::new(), ListenerOptions::default())
        .await
        .err()
        .expect("a taken port is refused");
    assert!(matches!(error, ListenerError::Bind { .. }), "{error:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_and_frees_its_slot() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let options = ListenerOptions {
        max_connections: 1,
        max_connection_age: Duration::from_millis(300),
        ..ListenerOptions::default()
    };
    let server = Running::start(HttpConfig::plain("127.0.0.1:0"), options).await;
    let mut idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0; 512];
    let n = idle.read(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));
    // The one slot is held by the idle connection until it ages out; then it is closed.
    let closed = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut answer))
        .await
        .expect("the idle connection is closed");
    assert_eq!(closed.unwrap_or(0), 0);
    let next = plain_client()
        .get(server.url("http", "/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn a_plugins_header_check_answers_before_the_body_is_read() {
    use axum::response::IntoResponse;
    use teleport_plugin_runtime::inbound::HeaderCheck;

    let check: HeaderCheck = Arc::new(|request: &axum::extract::Request| {
        if request.uri().path() == "/status" || request.headers().contains_key("x-secret") {
            None
        } else {
            Some((axum::http::StatusCode::UNAUTHORIZED, "no secret\n").into_response())
        }
    });
    let seen = Arc::new(Seen::default());
    let options = ListenerOptions {
        body_limit: 1024,
        ..ListenerOptions::default()
    };
    let listener = InboundListener::bind_checked(
        &HttpConfig::plain("127.0.0.1:0"),
        routes(seen.clone()),
        Some(check),
        options,
    )
    .await
    .unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(listener.serve(stop.clone()));
    let client = plain_client();
    let url = format!("http://{addr}/");

    // Over the limit without the header: refused by the check, not by the limit, since the
    // check runs before the body is read.
    let refused = client
        .post(&url)
        .body(vec![b'a'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.text().await.unwrap(), "no secret\n");
    let too_large = client
        .post(&url)
        .header("X-Secret", "1")
        .body(vec![b'a'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let passed = client
        .post(&url)
        .header("X-Secret", "1")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(passed.status(), StatusCode::OK);
    let status = client
        .get(format!("http://{addr}/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        status.status(),
        StatusCode::OK,
        "what the check lets through"
    );
    assert_eq!(
        seen.calls.load(Ordering::SeqCst),
        1,
        "only the call with the header"
    );
    stop.cancel();
    task.await.unwrap();
}
