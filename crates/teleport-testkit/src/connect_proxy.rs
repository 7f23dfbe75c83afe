//! An HTTP `CONNECT` proxy on loopback, like the corporate proxy `HTTPS_PROXY` names.
//!
//! It never resolves names: a target is either a loopback IP literal or a name registered
//! with [`ConnectProxy::route`], so a test can give the client an address that only the
//! proxy can reach (proving the connection went through it) and nothing leaves the machine.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::error::Result;
use crate::server::next_connection;

const MAX_HEAD: usize = 16 * 1024;
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct State {
    routes: HashMap<String, SocketAddr>,
    tunnels: Vec<String>,
    refused: Vec<String>,
}

/// A running CONNECT proxy; stops (and cuts its tunnels) when dropped.
pub struct ConnectProxy {
    addr: SocketAddr,
    credentials: Option<String>,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
}

impl std::fmt::Debug for ConnectProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectProxy")
            .field("addr", &self.addr)
            .field("requires_auth", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

impl ConnectProxy {
    /// Starts an open proxy on a free loopback port.
    pub async fn start() -> Result<Self> {
        Self::start_with(None).await
    }

    /// Starts a proxy that requires `Proxy-Authorization: Basic` for `user:password`.
    pub async fn start_with_auth(user: &str, password: &str) -> Result<Self> {
        Self::start_with(Some(format!("{user}:{password}"))).await
    }

    async fn start_with(credentials: Option<String>) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let proxy = ConnectProxy {
            addr: listener.local_addr()?,
            credentials,
            state: Arc::default(),
            stop: CancellationToken::new(),
        };
        let expected = proxy.credentials.as_ref().map(|c| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(c)
            )
        });
        let state = Arc::clone(&proxy.state);
        let stop = proxy.stop.clone();
        tokio::spawn(async move {
            while let Some(client) = next_connection(&listener, &stop).await {
                let state = Arc::clone(&state);
                let expected = expected.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        () = serve(client, state, expected) => {}
                    }
                });
            }
        });
        Ok(proxy)
    }

    /// The proxy's listen address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value for `HTTPS_PROXY` (credentials included when given).
    pub fn url(&self) -> String {
        match &self.credentials {
            Some(credentials) => format!("http://{credentials}@{}", self.addr),
            None => format!("http://{}", self.addr),
        }
    }

    /// Makes `name` (`host:port`, as the client writes it) reach `target`.
    pub fn route(&self, name: &str, target: SocketAddr) {
        self.lock().routes.insert(name.to_owned(), target);
    }

    /// Every target a tunnel was opened to, in order.
    pub fn tunnels(&self) -> Vec<String> {
        self.lock().tunnels.clone()
    }

    /// Every CONNECT refused, as `<status> <target>`.
    pub fn refused(&self) -> Vec<String> {
        self.lock().refused.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn serve(mut client: TcpStream, state: Arc<Mutex<State>>, expected: Option<String>) {
    let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
    let Ok(Ok(head)) = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut client)).await else {
        return;
    };
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    let parsed = matches!(request.parse(&head), Ok(httparse::Status::Complete(_)));
    let target = request.path.unwrap_or_default().to_owned();
    let authorization = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("proxy-authorization"))
        .map(|h| String::from_utf8_lossy(h.value).into_owned());
    let refuse = |status: &str| {
        lock().refused.push(format!("{status} {target}"));
        format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    };
    let answer = if !parsed || request.method != Some("CONNECT") {
        Err(refuse("405 Method Not Allowed"))
    } else if expected.is_some() && authorization != expected {
        let mut response = refuse("407 Proxy Authentication Required");
        response.insert_str(
            response.len() - 2,
            "Proxy-Authenticate: Basic realm=\"testkit\"\r\n",
        );
        Err(response)
    } else {
        let routed = lock().routes.get(&target).copied();
        match routed.or_else(|| target.parse::<SocketAddr>().ok()) {
            Some(addr) if addr.ip().is_loopback() => Ok(addr),
            // Never a real network address: tests stay on this machine.
            _ => Err(refuse("502 Bad Gateway")),
        }
    };
    let upstream = match answer {
        Ok(addr) => match TcpStream::connect(addr).await {
            Ok(upstream) => upstream,
            Err(_) => {
                let _ = client.write_all(refuse("502 Bad Gateway").as_bytes()).await;
                return;
            }
        },
        Err(response) => {
            let _ = client.write_all(response.as_bytes()).await;
            return;
        }
    };
    let _ = upstream.set_nodelay(true);
    lock().tunnels.push(target);
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut upstream = upstream;
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return Err(std::io::Error::other("request head too long"));
        }
        head.push(stream.read_u8().await?);
    }
    Ok(head)
}
