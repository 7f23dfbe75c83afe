//! The auth listener: mutual TLS with the testkit's CAs, tonic on top, and a kill switch that
//! drops every live connection when the testkit stops.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::RootCertStore;
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use teleport_client::wire::proto::auth_service_server::AuthServiceServer;
use teleport_client::wire::teleport::accesslist::v1::access_list_service_server::AccessListServiceServer;
use teleport_client::wire::teleport::accessmonitoringrules::v1::access_monitoring_rules_service_server::AccessMonitoringRulesServiceServer;
use teleport_client::wire::teleport::users::v1::users_service_server::UsersServiceServer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::transport::server::Connected;

use crate::ca::CertAuthority;
use crate::error::{Error, Result};
use crate::service::{AuthApi, UsersApi};
use crate::shared::Shared;

/// A client that never finishes its handshake is dropped after this long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Teleport's auth server pings every minute and enforces the same minimum on clients, so a
/// client pinging every 60 s must be fine here too (hyper never sends too_many_pings).
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_CONCURRENT_STREAMS: u32 = 1000;

/// TLS for the auth listener: server cert from the host CA, client certs must chain to the
/// user CA, ALPN `h2` only.
pub(crate) fn tls_config(
    host_ca: &CertAuthority,
    user_ca: &CertAuthority,
) -> Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(user_ca.cert_der().clone())?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::Tls(rustls::Error::General(e.to_string())))?;
    let (chain, key) = host_ca.issue_server_cert()?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Serves gRPC on `listener` until `stop` fires; then the listener is closed and every
/// connection is cut. The task ends once the listener is gone.
pub(crate) fn spawn(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    shared: Arc<Shared>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let (connections, incoming) = mpsc::channel::<io::Result<KillableIo>>(16);
        let server = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
            .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
            .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
            .add_service(AuthServiceServer::new(AuthApi {
                shared: Arc::clone(&shared),
            }))
            .add_service(AccessMonitoringRulesServiceServer::new(AuthApi {
                shared: Arc::clone(&shared),
            }))
            .add_service(AccessListServiceServer::new(AuthApi {
                shared: Arc::clone(&shared),
            }))
            .add_service(UsersServiceServer::new(UsersApi { shared }))
            .serve_with_incoming(tokio_stream::wrappers::ReceiverStream::new(incoming));
        let accept = accept_loop(listener, TlsAcceptor::from(tls), connections, stop);
        let (_, served) = tokio::join!(accept, server);
        if let Err(error) = served {
            tracing::warn!(%error, "testkit auth server ended with an error");
        }
    })
}

/// Accepts until `stop`; the listener is dropped (port closed) when this returns. Once every
/// handshake task is done the incoming stream ends, which ends tonic's accept loop.
async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    connections: mpsc::Sender<io::Result<KillableIo>>,
    stop: CancellationToken,
) {
    while let Some(tcp) = next_connection(&listener, &stop).await {
        let acceptor = acceptor.clone();
        let connections = connections.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
            let tls = tokio::select! {
                _ = stop.cancelled() => return,
                result = handshake => match result {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(error)) => {
                        tracing::debug!(%error, "TLS handshake refused");
                        return;
                    }
                    Err(_) => return,
                },
            };
            let _ = connections.send(Ok(KillableIo::new(tls, stop))).await;
        });
    }
}

/// The next accepted connection, or `None` once `stop` fires. Accept errors (e.g. out of
/// file descriptors) are retried after a short pause rather than ending the listener.
pub(crate) async fn next_connection(
    listener: &TcpListener,
    stop: &CancellationToken,
) -> Option<TcpStream> {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return None,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    // Go (so Teleport) turns Nagle off on every connection; with it on, a
                    // small response waits for the client's delayed ACK (up to 40 ms).
                    if let Err(error) = tcp.set_nodelay(true) {
                        tracing::debug!(%error, "cannot set TCP_NODELAY");
                    }
                    return Some(tcp);
                }
                Err(error) => {
                    tracing::debug!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
}

/// A TLS connection that fails every read and write once `stop` fires, so hyper drops it
/// (and the client sees the connection close) instead of waiting for a graceful end.
pub(crate) struct KillableIo {
    inner: TlsStream<TcpStream>,
    killed: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl KillableIo {
    fn new(inner: TlsStream<TcpStream>, stop: CancellationToken) -> Self {
        KillableIo {
            inner,
            killed: Box::pin(stop.cancelled_owned()),
        }
    }

    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match self.killed.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "testkit stopped",
            )),
            Poll::Pending => Ok(()),
        }
    }
}

impl Connected for KillableIo {
    type ConnectInfo = <TlsStream<TcpStream> as Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

impl AsyncRead for KillableIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Binds a just-released port, retrying briefly in case the kernel is still letting go.
pub(crate) async fn bind_again(addr: SocketAddr) -> Result<TcpListener> {
    let mut attempt = 0;
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(error) if attempt < 50 && error.kind() == std::io::ErrorKind::AddrInUse => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => return Err(Error::Io(error)),
        }
    }
}

/// [`bind_again`] for a listener the testkit may not have.
pub(crate) async fn bind_again_if(addr: Option<SocketAddr>) -> Result<Option<TcpListener>> {
    match addr {
        Some(addr) => Ok(Some(bind_again(addr).await?)),
        None => Ok(None),
    }
}
