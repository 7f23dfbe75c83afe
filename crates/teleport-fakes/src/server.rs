//! A loopback HTTP(S) server that can go down (connections refused) and come back on the same port.
//!
//! `axum::serve` cannot drop live keep-alive connections on demand, and a client with a
//! pooled connection would keep talking to a "down" fake. So this runs its own accept loop
//! and owns every connection task: going down closes the listener *and* every connection.

use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// A running (or deliberately stopped) HTTP server for one fake.
pub struct LoopbackServer {
    addr: SocketAddr,
    router: Router,
    tls: Option<TlsAcceptor>,
    running: Mutex<Option<Running>>,
}

impl LoopbackServer {
    /// Bind `addr` (port 0 picks a free port) and start serving `router`.
    pub async fn start(addr: SocketAddr, router: Router) -> io::Result<Self> {
        Self::start_with(addr, router, None).await
    }

    /// [`start`](Self::start) serving HTTPS with `tls` (the fake Jira: its plugin speaks
    /// https only).
    pub async fn start_tls(
        addr: SocketAddr,
        router: Router,
        tls: std::sync::Arc<rustls::ServerConfig>,
    ) -> io::Result<Self> {
        Self::start_with(addr, router, Some(TlsAcceptor::from(tls))).await
    }

    async fn start_with(
        addr: SocketAddr,
        router: Router,
        tls: Option<TlsAcceptor>,
    ) -> io::Result<Self> {
        let listener = bind(addr).await?;
        let addr = listener.local_addr()?;
        let server = Self {
            addr,
            router,
            tls,
            running: Mutex::new(None),
        };
        server.serve(listener);
        Ok(server)
    }

    /// The bound address (stable across [`down`](Self::down) / [`up`](Self::up)).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the server currently accepts connections.
    pub fn is_up(&self) -> bool {
        self.lock().is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn serve(&self, listener: TcpListener) {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(
            listener,
            self.router.clone(),
            self.tls.clone(),
            stopped,
        ));
        *self.lock() = Some(Running { stop, task });
    }

    /// Close the listener and every open connection; new connections are refused.
    ///
    /// Returns once the port is closed. Does nothing if already down.
    pub async fn down(&self) {
        let running = self.lock().take();
        if let Some(running) = running {
            // The accept loop may already have ended if its listener failed; either way
            // awaiting the task is what guarantees the sockets are gone.
            let _ = running.stop.send(());
            let _ = running.task.await;
        }
    }

    /// Bind the same port again and serve. Does nothing if already up.
    pub async fn up(&self) -> io::Result<()> {
        if self.is_up() {
            return Ok(());
        }
        let listener = bind(self.addr).await?;
        self.serve(listener);
        Ok(())
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(running) = self.lock().take() {
            running.task.abort();
        }
    }
}

async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Re-binding the port right after `down` must not trip over TIME_WAIT leftovers.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else {
                    // Out of descriptors or similar: back off a little instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(router.clone());
                let tls = tls.clone();
                connections.spawn(async move {
                    let builder = auto::Builder::new(TokioExecutor::new());
                    match tls {
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                        }
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(stream).await {
                                let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
}
