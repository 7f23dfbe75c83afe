//! Outbound HTTPS against a real TLS server on 127.0.0.1 with a private CA.
//!
//! Cases that depend on `SSL_CERT_FILE`/`SSL_CERT_DIR` run in a child process (this test
//! binary re-executed with one ignored test selected), because the environment is process-wide.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use teleport_plugin_runtime::http::{HttpClientOptions, http_client, https_connector};
use teleport_plugin_runtime::tls::{TlsError, client_tls_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const BODY: &str = "hello over tls";

/// A private CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA.
struct Pki {
    dir: tempfile::TempDir,
    server: Arc<rustls::ServerConfig>,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = new_ca("runtime test CA");
        let other = new_ca("unrelated CA");
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("other-ca.pem"), other.pem()).unwrap();
        std::fs::write(dir.path().join("empty.pem"), "").unwrap();
        std::fs::create_dir(dir.path().join("ca-dir")).unwrap();
        std::fs::write(dir.path().join("ca-dir/ca.pem"), ca.pem()).unwrap();

        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let key = rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
        let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self {
            dir,
            server: Arc::new(server),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn new_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// Serves `BODY` over HTTPS/1.1 on 127.0.0.1 until the test ends.
async fn serve(config: Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // Failed handshakes are what some tests expect; just drop them.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{BODY}",
                    BODY.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

fn options(extra_ca: Option<&Path>) -> HttpClientOptions {
    HttpClientOptions {
        extra_ca: extra_ca.map(Path::to_path_buf),
        user_agent: Some("teleport-runtime-test/1".into()),
        ..Default::default()
    }
}

/// The full error chain on one line.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}

#[tokio::test]
async fn extra_ca_file_is_trusted() {
    let pki = Pki::new();
    let addr = serve(pki.server.clone()).await;
    let client = http_client(&options(Some(&pki.path("ca.pem")))).unwrap();
    let response = client
        .get(format!("https://{addr}/api/auth.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), BODY);
}

#[tokio::test]
async fn hyper_connector_uses_the_same_config() {
    let pki = Pki::new();
    let addr = serve(pki.server.clone()).await;
    let tls = client_tls_config(Some(&pki.path("ca.pem"))).unwrap();
    let client: Client<_, Empty<bytes::Bytes>> =
        Client::builder(TokioExecutor::new()).build(https_connector(tls));
    let response = client
        .get(format!("https://{addr}/").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, BODY.as_bytes());
}

#[test]
fn extra_ca_file_problems_name_the_file() {
    let pki = Pki::new();
    let missing = pki.path("missing.pem");
    let err = client_tls_config(Some(&missing)).unwrap_err();
    assert!(matches!(err, TlsError::ReadExtraCa { .. }), "{err}");
    assert!(err.to_string().contains(missing.to_str().unwrap()), "{err}");

    let not_pem = pki.path("not-pem.pem");
    std::fs::write(&not_pem, "just some text\n").unwrap();
    let err = client_tls_config(Some(&not_pem)).unwrap_err();
    assert!(matches!(err, TlsError::EmptyExtraCa { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("{} holds no PEM certificate", not_pem.display())),
        "{err}"
    );
}

// ---- cases that need their own environment ----

const CHILD_URL: &str = "RUNTIME_TLS_CHILD_URL";
const CHILD_EXTRA_CA: &str = "RUNTIME_TLS_CHILD_EXTRA_CA";
const CHILD_EXPECT: &str = "RUNTIME_TLS_CHILD_EXPECT";

/// `child_case`'s name as the test harness knows it: its module path (`tls`, a module of the
/// crate's one integration binary) without the crate.
fn child_case_name() -> String {
    let (_crate, module) = module_path!().split_once("::").unwrap_or(("", "tls"));
    format!("{module}::child_case")
}

/// Runs the ignored test `child_case` in a fresh copy of this binary with `env` (and with
/// `SSL_CERT_FILE`/`SSL_CERT_DIR` removed unless given), and checks it passed.
fn run_child(url: &str, expect: &str, extra_ca: Option<&Path>, env: &[(&str, &Path)]) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            child_case_name().as_str(),
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .env(CHILD_URL, url)
        .env(CHILD_EXPECT, expect);
    if let Some(ca) = extra_ca {
        command.env(CHILD_EXTRA_CA, ca);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child ({expect}) failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "runs only as a child process of the other tests in this file"]
async fn child_case() {
    let Some(url) = std::env::var_os(CHILD_URL) else {
        eprintln!("not started by a parent test; nothing to do");
        return;
    };
    let url = url.into_string().unwrap();
    let extra_ca: Option<PathBuf> = std::env::var_os(CHILD_EXTRA_CA).map(OsString::into);
    let expect = std::env::var(CHILD_EXPECT).unwrap();
    match expect.as_str() {
        "ok" => {
            let client = http_client(&options(extra_ca.as_deref())).unwrap();
            let response = client.get(&url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.text().await.unwrap(), BODY);
        }
        "untrusted" => {
            let client = http_client(&options(extra_ca.as_deref())).unwrap();
            let err = client.get(&url).send().await.unwrap_err();
            let text = chain(&err);
            assert!(
                text.contains("UnknownIssuer") || text.contains("invalid peer certificate"),
                "{text}"
            );
        }
        "no-roots" => {
            let err = client_tls_config(extra_ca.as_deref()).unwrap_err();
            assert!(matches!(err, TlsError::NoRoots { .. }), "{err}");
            assert!(
                err.to_string().starts_with(
                    "no trusted root certificates: the system certificate store is empty"
                ),
                "{err}"
            );
        }
        other => panic!("unknown expectation {other}"),
    }
}

#[tokio::test]
async fn private_ca_is_untrusted_without_extra_ca() {
    let pki = Pki::new();
    let addr = serve(pki.server.clone()).await;
    let url = format!("https://{addr}/");
    let other = pki.path("other-ca.pem");
    let result = tokio::task::spawn_blocking(move || {
        run_child(&url, "untrusted", None, &[("SSL_CERT_FILE", &other)])
    });
    result.await.unwrap();
}

#[tokio::test]
async fn ssl_cert_file_is_honoured() {
    let pki = Pki::new();
    let addr = serve(pki.server.clone()).await;
    let url = format!("https://{addr}/");
    let ca = pki.path("ca.pem");
    tokio::task::spawn_blocking(move || run_child(&url, "ok", None, &[("SSL_CERT_FILE", &ca)]))
        .await
        .unwrap();
}

#[tokio::test]
async fn ssl_cert_dir_is_honoured() {
    let pki = Pki::new();
    let addr = serve(pki.server.clone()).await;
    let url = format!("https://{addr}/");
    let dir = pki.path("ca-dir");
    tokio::task::spawn_blocking(move || run_child(&url, "ok", None, &[("SSL_CERT_DIR", &dir)]))
        .await
        .unwrap();
}

#[tokio::test]
async fn empty_store_needs_an_extra_ca() {
    let pki = Pki::new();
    let addr = serve(pki.server.clone()).await;
    let url = format!("https://{addr}/");
    let empty = pki.path("empty.pem");
    let ca = pki.path("ca.pem");
    tokio::task::spawn_blocking(move || {
        run_child(&url, "no-roots", None, &[("SSL_CERT_FILE", &empty)]);
        run_child(&url, "ok", Some(&ca), &[("SSL_CERT_FILE", &empty)]);
    })
    .await
    .unwrap();
}
