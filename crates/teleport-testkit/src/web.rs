//! The proxy's web port as a client dialing by `/webapi/find` meets it: HTTPS with the
//! testkit's web certificate, `GET /webapi/find` answered with Go's JSON (`PingResponse`
//! field names), and, with TLS routing, connections that negotiate ALPN
//! `teleport-reversetunnel` handed to the reverse-tunnel SSH server (`tunnel.rs`). The auth
//! route is not offered here, so a client can only get in through the tunnel.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::l7::{HEAD_TIMEOUT, read_head};
use crate::server::next_connection;
use crate::tunnel::{self, TunnelKeys};

/// The ALPN protocol of the proxy's reverse-tunnel route.
pub const REVERSE_TUNNEL_ALPN: &[u8] = b"teleport-reversetunnel";
const FIND_PATH: &str = "/webapi/find";

/// The web front's fixed parts, kept across restarts.
pub(crate) struct WebFront {
    tls: Arc<ServerConfig>,
    find_json: String,
    finds: Arc<AtomicU64>,
}

/// What `/webapi/find` says.
pub(crate) struct FindAnswer<'a> {
    pub(crate) cluster_name: &'a str,
    pub(crate) server_version: &'a str,
    pub(crate) tls_routing: bool,
    pub(crate) web_addr: SocketAddr,
    pub(crate) tunnel_addr: SocketAddr,
}

impl WebFront {
    /// The front on `web_tls` (the testkit's web certificate), answering as `answer` says.
    pub(crate) fn new(web_tls: &ServerConfig, answer: &FindAnswer<'_>) -> Self {
        let mut tls = web_tls.clone();
        tls.alpn_protocols = match answer.tls_routing {
            true => vec![REVERSE_TUNNEL_ALPN.to_vec(), b"http/1.1".to_vec()],
            false => vec![b"http/1.1".to_vec()],
        };
        // As a proxy fills it in: with TLS routing everything is on the web address; without,
        // the tunnel has its own public address and a wildcard listen address.
        let ssh = match answer.tls_routing {
            true => serde_json::json!({
                "listen_addr": "0.0.0.0:3023",
                "web_listen_addr": format!("0.0.0.0:{}", answer.web_addr.port()),
                "public_addr": answer.web_addr.to_string(),
            }),
            false => serde_json::json!({
                "listen_addr": "0.0.0.0:3023",
                "tunnel_listen_addr": format!("0.0.0.0:{}", answer.tunnel_addr.port()),
                "web_listen_addr": format!("0.0.0.0:{}", answer.web_addr.port()),
                "public_addr": answer.web_addr.to_string(),
                "ssh_tunnel_public_addr": answer.tunnel_addr.to_string(),
            }),
        };
        let find = serde_json::json!({
            "auth": {"type": "local", "second_factor": "off", "private_key_policy": "none", "has_motd": false},
            "proxy": {"kube": {}, "ssh": ssh, "db": {}, "tls_routing_enabled": answer.tls_routing},
            "server_version": answer.server_version,
            "min_client_version": "",
            "cluster_name": answer.cluster_name,
            "automatic_upgrades": false,
            "edition": "oss",
            "fips": false,
        });
        Self {
            tls: Arc::new(tls),
            find_json: find.to_string(),
            finds: Arc::default(),
        }
    }

    /// `/webapi/find` requests answered so far.
    pub(crate) fn find_requests(&self) -> u64 {
        self.finds.load(Ordering::Relaxed)
    }

    /// Serves on `listener` until `stop` fires.
    pub(crate) fn spawn(
        &self,
        listener: TcpListener,
        keys: Option<TunnelKeys>,
        auth_addr: SocketAddr,
        stop: CancellationToken,
    ) -> JoinHandle<()> {
        let acceptor = TlsAcceptor::from(Arc::clone(&self.tls));
        let find_json = Arc::new(self.find_json.clone());
        let finds = Arc::clone(&self.finds);
        tokio::spawn(async move {
            while let Some(tcp) = next_connection(&listener, &stop).await {
                let acceptor = acceptor.clone();
                let (keys, find_json, finds) = (keys.clone(), find_json.clone(), finds.clone());
                let stop = stop.clone();
                tokio::spawn(async move {
                    let tls = match tokio::time::timeout(HEAD_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => tls,
                        // Refused ALPN (the auth route) or a client that hung up.
                        _ => return,
                    };
                    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                    if alpn.as_deref() == Some(REVERSE_TUNNEL_ALPN) {
                        if let Some(keys) = keys {
                            tunnel::serve(tls, keys, auth_addr, stop).await;
                        }
                        return;
                    }
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        result = answer(tls, &find_json, &finds) => {
                            if let Err(error) = result {
                                tracing::debug!(%error, "web front closed a connection");
                            }
                        }
                    }
                });
            }
        })
    }
}

/// One HTTP/1.1 request: `/webapi/find`, or 404.
async fn answer<S>(mut stream: S, find_json: &str, finds: &AtomicU64) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let head = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream))
        .await
        .map_err(|_| Error::Timeout(HEAD_TIMEOUT, "an HTTP request".into()))??;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    let parsed = matches!(request.parse(&head), Ok(httparse::Status::Complete(_)));
    let response = if parsed && request.method == Some("GET") && request.path == Some(FIND_PATH) {
        finds.fetch_add(1, Ordering::Relaxed);
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{find_json}",
            find_json.len()
        )
    } else {
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
    };
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await?;
    Ok(())
}
