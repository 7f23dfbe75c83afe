//! An L7 load balancer in front of the proxy: it terminates TLS with a public-looking web
//! certificate (its own "web CA", unrelated to the cluster's CAs), negotiates no ALPN, and
//! only passes on Teleport's connection-upgrade endpoint, whose upgraded connections it hands
//! to the TLS-routing proxy, as an AWS ALB in front of Teleport does.
//!
//! Upgrades: `Upgrade: websocket` with subprotocol `alpn-ping` or `alpn` (binary frames;
//! with `alpn-ping` the front sends WebSocket pings and counts the pongs) and the legacy
//! `Upgrade: alpn` / `X-Teleport-Upgrade: alpn` (raw bytes after the 101).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};
use rustls::ServerConfig;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::proxy;
use crate::server::next_connection;

const UPGRADE_PATH: &str = "/webapi/connectionupgrade";
const MAX_HEAD: usize = 16 * 1024;
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// How the front behaves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct L7Options {
    /// WebSocket pings on `alpn-ping` connections this often.
    pub(crate) ping_interval: Duration,
    /// Refuse the WebSocket upgrade with 400, like a proxy older than 15.1.
    pub(crate) legacy_only: bool,
}

/// What the front has seen, for assertions.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    websocket: AtomicU64,
    legacy: AtomicU64,
    refused: AtomicU64,
    pongs: AtomicU64,
}

/// A snapshot of the front's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct L7Stats {
    /// Connections upgraded to a WebSocket.
    pub websocket_upgrades: u64,
    /// Connections upgraded with the legacy `alpn` upgrade.
    pub legacy_upgrades: u64,
    /// Requests answered with anything but 101 (other paths, refused upgrades).
    pub refused: u64,
    /// Pong frames received in answer to the front's pings.
    pub pongs: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> L7Stats {
        L7Stats {
            websocket_upgrades: self.websocket.load(Ordering::Relaxed),
            legacy_upgrades: self.legacy.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            pongs: self.pongs.load(Ordering::Relaxed),
        }
    }
}

/// The front's TLS: a fresh web CA (returned as PEM, for clients to trust) and a
/// `localhost` / 127.0.0.1 certificate from it. No client certificates, no ALPN.
pub(crate) fn web_tls() -> Result<(Arc<ServerConfig>, String)> {
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut ca_params = CertificateParams::default();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "testkit web CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned()])?;
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone(), ca_cert.der().clone()], key_der)?;
    Ok((Arc::new(config), ca_cert.pem()))
}

/// Serves the front on `listener` until `stop` fires.
pub(crate) fn spawn(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    auth_addr: SocketAddr,
    cluster_name: String,
    options: L7Options,
    counters: Arc<Counters>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    let acceptor = TlsAcceptor::from(tls);
    tokio::spawn(async move {
        while let Some(tcp) = next_connection(&listener, &stop).await {
            let acceptor = acceptor.clone();
            let cluster_name = cluster_name.clone();
            let counters = Arc::clone(&counters);
            let stop = stop.clone();
            tokio::spawn(async move {
                let serve = async {
                    let tls = match tokio::time::timeout(HEAD_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => tls,
                        // The client's load-balancer probe ends here too when it hangs up.
                        _ => return,
                    };
                    if let Err(error) =
                        serve(tls, auth_addr, &cluster_name, options, &counters).await
                    {
                        tracing::debug!(%error, "L7 front closed a connection");
                    }
                };
                tokio::select! {
                    _ = stop.cancelled() => {}
                    () = serve => {}
                }
            });
        }
    })
}

/// One request: upgrade and route, or refuse.
async fn serve<S>(
    mut stream: S,
    auth_addr: SocketAddr,
    cluster_name: &str,
    options: L7Options,
    counters: &Counters,
) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let head = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream))
        .await
        .map_err(|_| Error::Timeout(HEAD_TIMEOUT, "an HTTP request".into()))??;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    if !matches!(request.parse(&head), Ok(httparse::Status::Complete(_))) {
        return respond(&mut stream, counters, "400 Bad Request").await;
    }
    let header = |name: &str| {
        request
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(",")
    };
    let tokens = |name: &str| {
        header(name)
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
    };
    if request.method != Some("GET") || request.path != Some(UPGRADE_PATH) {
        return respond(&mut stream, counters, "404 Not Found").await;
    }
    let upgrade = tokens("upgrade");
    let key = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
        .map(|h| h.value.to_vec());
    if upgrade.iter().any(|u| u == "websocket") {
        let Some(key) = key.filter(|_| !options.legacy_only) else {
            return respond(&mut stream, counters, "400 Bad Request").await;
        };
        let offered = tokens("sec-websocket-protocol");
        let Some(protocol) = ["alpn-ping", "alpn"]
            .into_iter()
            .find(|p| offered.iter().any(|o| o == p))
        else {
            return respond(&mut stream, counters, "400 Bad Request").await;
        };
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: {protocol}\r\n\r\n",
            derive_accept_key(&key)
        );
        stream.write_all(response.as_bytes()).await?;
        stream.flush().await?;
        counters.websocket.fetch_add(1, Ordering::Relaxed);
        let ws = WebSocketStream::from_raw_socket(stream, Role::Server, None).await;
        let ping = (protocol == "alpn-ping").then_some(options.ping_interval);
        return bridge(ws, auth_addr, cluster_name, ping, counters).await;
    }
    let legacy = upgrade
        .iter()
        .chain(tokens("x-teleport-upgrade").iter())
        .any(|u| u == "alpn");
    if legacy {
        stream
            .write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: alpn\r\nConnection: Upgrade\r\n\r\n",
            )
            .await?;
        stream.flush().await?;
        counters.legacy.fetch_add(1, Ordering::Relaxed);
        proxy::route(stream, auth_addr, cluster_name).await;
        return Ok(());
    }
    respond(&mut stream, counters, "400 Bad Request").await
}

async fn respond<S: AsyncWrite + Unpin>(
    stream: &mut S,
    counters: &Counters,
    status: &str,
) -> Result<()> {
    counters.refused.fetch_add(1, Ordering::Relaxed);
    let response = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await?;
    Ok(())
}

pub(crate) async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return Err(Error::Io(std::io::Error::other("request head too long")));
        }
        head.push(stream.read_u8().await?);
    }
    Ok(head)
}

/// Carries binary frames to and from the TLS-routing proxy; pings every `ping` if set.
async fn bridge<S>(
    ws: WebSocketStream<S>,
    auth_addr: SocketAddr,
    cluster_name: &str,
    ping: Option<Duration>,
    counters: &Counters,
) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (inner, routed) = tokio::io::duplex(64 * 1024);
    let route = proxy::route(routed, auth_addr, cluster_name);
    let pump = async {
        let (mut sink, mut frames) = ws.split();
        let (mut from_route, mut to_route) = tokio::io::split(inner);
        let mut ticker = tokio::time::interval(ping.unwrap_or(Duration::from_secs(3600)));
        ticker.tick().await;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            tokio::select! {
                frame = frames.next() => match frame {
                    Some(Ok(Message::Binary(data))) => to_route.write_all(&data).await?,
                    Some(Ok(Message::Pong(_))) => {
                        counters.pongs.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
                read = from_route.read(&mut buf) => match read? {
                    0 => break,
                    n => sink
                        .send(Message::Binary(buf[..n].to_vec().into()))
                        .await
                        .map_err(|e| std::io::Error::other(e.to_string()))?,
                },
                _ = ticker.tick(), if ping.is_some() => {
                    sink.send(Message::Ping(b"testkit".to_vec().into()))
                        .await
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                }
            }
        }
        let _ = sink.close().await;
        Ok::<(), std::io::Error>(())
    };
    tokio::select! {
        () = route => Ok(()),
        pumped = pump => Ok(pumped?),
    }
}
