//! The webhook listener: HTTPS (rustls, ring) or plain HTTP serving a plugin's routes behind
//! the checks every inbound call passes, in this order:
//!
//! 1. basic auth, when configured, compared in constant time (401 + `WWW-Authenticate`);
//! 2. a deadline per call (503 when it passes; the work the call started still finishes in
//!    the background, so a decision is never left half-applied);
//! 3. the plugin's own [`HeaderCheck`], when given (a webhook secret in a header), on the
//!    headers alone: a refused call is answered before its body is read;
//! 4. the body limit, enforced while reading and before any handler runs (413, nothing done);
//!
//! plus `GET /status` (200), a required client certificate when configured (checked by rustls
//! during the handshake), a bound on open connections and on the TLS handshake and request
//! header time, and a graceful shutdown when the stop token fires.
//!
//! Client certificates are verified against `[http.tls] client_ca_file` when set, otherwise
//! against the system store (as the Go plugins did, with `SSL_CERT_FILE`/`SSL_CERT_DIR`).

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use reqwest::Url;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::config::{BasicAuth, ClientCa, HttpConfig, Transport};
use crate::tls;

/// Limits of the listener; the defaults suit webhooks from Jira or GitLab.
#[derive(Clone, Debug)]
pub struct ListenerOptions {
    /// The largest body accepted (Jira's documented webhook limit, 25 MiB).
    pub body_limit: usize,
    /// How long one call may take before it is answered 503.
    pub deadline: Duration,
    /// Connections served at once; further ones wait to be accepted.
    pub max_connections: usize,
    /// How long a client may take to finish the TLS handshake or send its request headers.
    pub handshake_timeout: Duration,
    /// How long a shutdown waits for calls in progress.
    pub shutdown_grace: Duration,
    /// The longest a connection stays open (idle keep-alive ones would otherwise hold a
    /// connection slot forever); calls in progress finish regardless.
    pub max_connection_age: Duration,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        Self {
            body_limit: 25 * 1024 * 1024,
            deadline: Duration::from_secs(10),
            max_connections: 256,
            handshake_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            max_connection_age: Duration::from_secs(120),
        }
    }
}

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenerError {
    /// The listen address does not resolve.
    #[error("cannot resolve the listen address {addr}: {source}")]
    Resolve {
        /// The configured address.
        addr: String,
        /// What the resolver said.
        #[source]
        source: io::Error,
    },
    /// The port cannot be bound (in use, privileged, ...).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A PEM file could not be read or holds nothing usable.
    #[error("cannot use {what} {}: {reason}", path.display())]
    Pem {
        /// `the TLS certificate`, `the TLS key` or `the client CA file`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the certificate, key or CA.
    #[error("cannot set up TLS for the listener: {0}")]
    Tls(String),
}

/// A bound listener; [`serve`](Self::serve) runs it.
pub struct InboundListener {
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    app: Router,
    options: ListenerOptions,
    base_url: Url,
    work: TaskTracker,
}

/// The caller's address, in every request's extensions.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

/// A plugin's check of a call on its method, path and headers (a secret header such as
/// GitLab's `X-Gitlab-Token`), run before the body is read: `Some(refusal)` answers the
/// call with `refusal` at once (`None` lets it through), so a caller without the secret
/// cannot make the listener read a body.
pub type HeaderCheck = Arc<dyn Fn(&Request) -> Option<Response> + Send + Sync>;

impl InboundListener {
    /// Loads the TLS material, binds `config.listen_addr` and wraps `routes` (which must not
    /// define `/status`) in the checks described in the module documentation.
    pub async fn bind(
        config: &HttpConfig,
        routes: Router,
        options: ListenerOptions,
    ) -> Result<Self, ListenerError> {
        Self::bind_checked(config, routes, None, options).await
    }

    /// [`bind`](Self::bind) with `check` run on every call's headers before its body is
    /// read (after basic auth; `/status` included, so the check lets through what it does
    /// not guard).
    pub async fn bind_checked(
        config: &HttpConfig,
        routes: Router,
        check: Option<HeaderCheck>,
        options: ListenerOptions,
    ) -> Result<Self, ListenerError> {
        let acceptor = match &config.transport {
            Transport::Plain => None,
            Transport::Tls {
                cert_file,
                key_file,
                client_ca,
            } => Some(TlsAcceptor::from(Arc::new(server_tls(
                cert_file,
                key_file,
                client_ca.as_ref(),
            )?))),
        };
        let listener = bind(&config.listen_addr).await?;
        let local = listener
            .local_addr()
            .map_err(|source| ListenerError::Bind {
                addr: config.listen_addr.clone(),
                source,
            })?;
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let base_url = match config.public_url.clone() {
            Some(url) => url,
            None => {
                Url::parse(&format!("{scheme}://{local}/")).map_err(|e| ListenerError::Bind {
                    addr: local.to_string(),
                    source: io::Error::other(e),
                })?
            }
        };
        let work = TaskTracker::new();
        let app = routes
            .route("/status", get(|| async { StatusCode::OK }))
            .layer(from_fn_with_state(options.body_limit, limit_body));
        let app = match check {
            Some(check) => app.layer(from_fn_with_state(check, header_check)),
            None => app,
        };
        let app = app.layer(from_fn_with_state(
            Deadline {
                after: options.deadline,
                work: work.clone(),
                next_id: Arc::new(AtomicU64::new(1)),
            },
            deadline,
        ));
        let app = match &config.basic_auth {
            Some(auth) => app.layer(from_fn_with_state(Arc::new(auth.clone()), basic_auth)),
            None => app,
        };
        Ok(Self {
            listener,
            acceptor,
            app,
            options,
            base_url,
            work,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where callers reach the listener: `public_addr`, else the bound address.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// Serves until `stop` fires, then stops accepting, lets calls in progress finish for
    /// up to the shutdown grace, and returns.
    pub async fn serve(self, stop: CancellationToken) {
        let permits = Arc::new(Semaphore::new(self.options.max_connections.max(1)));
        let graceful = GracefulShutdown::new();
        let mut connections = JoinSet::new();
        loop {
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                () = stop.cancelled() => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of descriptors and the like: pause instead of spinning.
                        tracing::warn!(%error, "listener cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = stop.cancelled() => break,
            };
            let _ = stream.set_nodelay(true);
            let watcher = graceful.watcher();
            let acceptor = self.acceptor.clone();
            let app = self.app.clone();
            let handshake = self.options.handshake_timeout;
            let max_age = self.options.max_connection_age;
            connections.spawn(async move {
                let _permit = permit;
                let service = hyper::service::service_fn(
                    move |mut request: Request<hyper::body::Incoming>| {
                        request.extensions_mut().insert(PeerAddr(peer));
                        app.clone().oneshot(request.map(Body::new))
                    },
                );
                // HTTP/1.1 only: webhook senders and probes speak it, and the auto builder's
                // protocol sniffing waits for a first byte with no timeout, so a client that
                // connects and stays silent would hold its slot until the connection's age
                // limit; the HTTP/1 header timeout covers that silence from the start.
                let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
                builder
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(handshake);
                match acceptor {
                    None => {
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        let _ =
                            tokio::time::timeout(max_age, watcher.watch(conn.into_owned())).await;
                    }
                    Some(acceptor) => {
                        let tls =
                            match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                                Ok(Ok(tls)) => tls,
                                Ok(Err(error)) => {
                                    tracing::info!(%peer, %error, "webhook TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::info!(%peer, "webhook TLS handshake timed out");
                                    return;
                                }
                            };
                        let conn = builder.serve_connection(TokioIo::new(tls), service);
                        let _ =
                            tokio::time::timeout(max_age, watcher.watch(conn.into_owned())).await;
                    }
                }
            });
            // Reap finished connections so the set does not grow.
            while connections.try_join_next().is_some() {}
        }
        drop(self.listener);
        let grace = self.options.shutdown_grace;
        self.work.close();
        let finished = tokio::time::timeout(grace, async {
            graceful.shutdown().await;
            self.work.wait().await;
        })
        .await;
        if finished.is_err() {
            tracing::warn!(?grace, "calls still running at shutdown were cut off");
        }
        connections.shutdown().await;
    }
}

/// Binds the first address `addr` resolves to; an empty host means every IPv4 interface.
async fn bind(addr: &str) -> Result<TcpListener, ListenerError> {
    let target = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_owned()
    };
    let resolved = tokio::net::lookup_host(&target)
        .await
        .map_err(|source| ListenerError::Resolve {
            addr: addr.to_owned(),
            source,
        })?
        .next()
        .ok_or_else(|| ListenerError::Resolve {
            addr: addr.to_owned(),
            source: io::Error::new(io::ErrorKind::NotFound, "no address found"),
        })?;
    TcpListener::bind(resolved)
        .await
        .map_err(|source| ListenerError::Bind {
            addr: resolved.to_string(),
            source,
        })
}

fn pem_error(what: &'static str, path: &Path, reason: impl ToString) -> ListenerError {
    ListenerError::Pem {
        what,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// The server's rustls configuration (ring; HTTP/2 and HTTP/1.1).
fn server_tls(
    cert_file: &Path,
    key_file: &Path,
    client_ca: Option<&ClientCa>,
) -> Result<rustls::ServerConfig, ListenerError> {
    const CERT: &str = "the TLS certificate";
    let chain = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| pem_error(CERT, cert_file, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(CERT, cert_file, e))?;
    if chain.is_empty() {
        return Err(pem_error(CERT, cert_file, "no PEM certificate in it"));
    }
    // The key's own parse error never quotes the key.
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| pem_error("the TLS key", key_file, e))?;
    let builder = rustls::ServerConfig::builder_with_provider(tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ListenerError::Tls(e.to_string()))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let roots = match ca {
                ClientCa::System => {
                    tls::root_store(None).map_err(|e| ListenerError::Tls(e.to_string()))?
                }
                ClientCa::File(path) => client_roots(path)?,
            };
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                tls::crypto_provider(),
            )
            .build()
            .map_err(|e| ListenerError::Tls(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        ListenerError::Tls(format!("the certificate and key do not work together: {e}"))
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn client_roots(path: &Path) -> Result<rustls::RootCertStore, ListenerError> {
    const WHAT: &str = "the client CA file";
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(WHAT, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(WHAT, path, e))?;
    if certs.is_empty() {
        return Err(pem_error(WHAT, path, "no PEM certificate in it"));
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| pem_error(WHAT, path, e))?;
    }
    Ok(roots)
}

/// Equal in time that does not depend on where the inputs differ.
fn same(given: &[u8], expected: &[u8]) -> bool {
    if given.len() == expected.len() {
        given.ct_eq(expected).into()
    } else {
        // Same work as a comparison of equal lengths, so a length mismatch is not faster.
        let _ = expected.ct_eq(expected);
        false
    }
}

async fn basic_auth(State(auth): State<Arc<BasicAuth>>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok());
    let ok = presented
        .as_deref()
        .and_then(|p| p.split_once(':'))
        .is_some_and(|(user, password)| {
            // Both halves are always compared, so timing does not tell which one was wrong.
            let user_ok = same(user.as_bytes(), auth.user.as_bytes());
            let password_ok = same(password.as_bytes(), auth.password.expose().as_bytes());
            user_ok & password_ok
        });
    if ok {
        return next.run(request).await;
    }
    let peer = request.extensions().get::<PeerAddr>().map(|p| p.0);
    tracing::warn!(?peer, path = %request.uri().path(), "webhook call refused: missing or wrong basic auth");
    let mut response = (StatusCode::UNAUTHORIZED, "unauthorized\n").into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Restricted\""),
    );
    response
}

#[derive(Clone)]
struct Deadline {
    after: Duration,
    work: TaskTracker,
    next_id: Arc<AtomicU64>,
}

async fn deadline(State(deadline): State<Deadline>, request: Request, next: Next) -> Response {
    let id = deadline.next_id.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!("inbound", inbound_id = id);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    // Spawned and tracked, so that a call whose deadline passes still finishes what it
    // started (a decision half-applied is worse than one answered late).
    let call = deadline.work.spawn(tracing::Instrument::instrument(
        next.run(request),
        span.clone(),
    ));
    let response = match tokio::time::timeout(deadline.after, call).await {
        Ok(Ok(response)) => response,
        Ok(Err(_)) => {
            span.in_scope(|| tracing::error!(%method, %path, "webhook handler failed"));
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
        Err(_) => {
            span.in_scope(|| tracing::warn!(%method, %path, after = ?deadline.after, "webhook call ran past its deadline; answering 503"));
            (StatusCode::SERVICE_UNAVAILABLE, "deadline exceeded\n").into_response()
        }
    };
    span.in_scope(|| tracing::debug!(%method, %path, status = response.status().as_u16(), "webhook call answered"));
    response
}

async fn header_check(State(check): State<HeaderCheck>, request: Request, next: Next) -> Response {
    match check(&request) {
        None => next.run(request).await,
        Some(refusal) => refusal,
    }
}

async fn limit_body(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return too_large(limit);
    }
    let (parts, body) = request.into_parts();
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => {
            next.run(Request::from_parts(parts, Body::from(collected.to_bytes())))
                .await
        }
        Err(error) if error.is::<http_body_util::LengthLimitError>() => too_large(limit),
        Err(error) => {
            tracing::info!(%error, "cannot read the webhook body");
            (StatusCode::BAD_REQUEST, "cannot read the body\n").into_response()
        }
    }
}

fn too_large(limit: usize) -> Response {
    tracing::warn!(limit, "webhook body over the limit refused");
    (StatusCode::PAYLOAD_TOO_LARGE, "body too large\n").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_equality() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secreT", b"secret"));
        assert!(!same(b"secret!", b"secret"));
        assert!(!same(b"", b"secret"));
        assert!(same(b"", b""));
    }
}
