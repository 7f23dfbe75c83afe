//! A TLS-routing proxy: peeks at the ClientHello's ALPN and splices `teleport-auth@<hex
//! cluster>.teleport.cluster.local` connections to the auth listener, TLS untouched.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::client_hello::{self, MAX_HELLO};
use crate::server::next_connection;

/// ALPN prefix of Teleport's auth route.
pub const AUTH_ALPN_PREFIX: &str = "teleport-auth@";
/// ALPN suffix after the hex-encoded cluster name.
pub const AUTH_ALPN_SUFFIX: &str = ".teleport.cluster.local";
/// A client must finish sending its hello within this time.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// The ALPN protocol that routes to the auth server of `cluster_name`.
pub fn auth_alpn(cluster_name: &str) -> String {
    format!(
        "{AUTH_ALPN_PREFIX}{}{AUTH_ALPN_SUFFIX}",
        hex::encode(cluster_name)
    )
}

/// True when `protocol` is the auth route for exactly `cluster_name`.
fn routes_to_auth(protocol: &[u8], cluster_name: &str) -> bool {
    let Ok(protocol) = std::str::from_utf8(protocol) else {
        return false;
    };
    protocol
        .strip_prefix(AUTH_ALPN_PREFIX)
        .and_then(|rest| rest.strip_suffix(AUTH_ALPN_SUFFIX))
        .and_then(|hex_name| hex::decode(hex_name).ok())
        .is_some_and(|name| name == cluster_name.as_bytes())
}

/// Routes connections on `listener` until `stop` fires; then the listener is closed and
/// every spliced connection is cut.
pub(crate) fn spawn(
    listener: TcpListener,
    auth_addr: SocketAddr,
    cluster_name: String,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(client) = next_connection(&listener, &stop).await {
            let stop = stop.clone();
            let cluster_name = cluster_name.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = stop.cancelled() => {}
                    () = route(client, auth_addr, &cluster_name) => {}
                }
            });
        }
    })
}

/// Reads the hello, checks the first ALPN protocol, then splices to auth (or drops). The L7
/// front hands its upgraded connections here too, as Teleport's proxy does.
pub(crate) async fn route<S>(mut client: S, auth_addr: SocketAddr, cluster_name: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buffered = Vec::with_capacity(2048);
    let hello = tokio::time::timeout(HELLO_TIMEOUT, async {
        loop {
            match client_hello::parse(&buffered) {
                Ok(Some(hello)) => return Some(hello),
                Ok(None) if buffered.len() < MAX_HELLO + 1024 => {}
                Ok(None) => return None,
                Err(error) => {
                    tracing::debug!(%error, "proxy refused a connection");
                    return None;
                }
            }
            match client.read_buf(&mut buffered).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
    .flatten();
    let Some(hello) = hello else {
        return;
    };
    if !hello
        .alpn
        .first()
        .is_some_and(|first| routes_to_auth(first, cluster_name))
    {
        tracing::debug!(
            alpn = ?hello.alpn.iter().map(|p| String::from_utf8_lossy(p)).collect::<Vec<_>>(),
            "proxy closed a connection with no auth route"
        );
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(auth_addr).await else {
        return;
    };
    // Best effort, as on accepted connections: without it small frames wait for ACKs.
    let _ = upstream.set_nodelay(true);
    if upstream.write_all(&buffered).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_route_matching() {
        let alpn = auth_alpn("example.com");
        assert_eq!(
            alpn,
            "teleport-auth@6578616d706c652e636f6d.teleport.cluster.local"
        );
        assert!(routes_to_auth(alpn.as_bytes(), "example.com"));
        assert!(routes_to_auth(
            alpn.to_uppercase()
                .replace("TELEPORT-AUTH@", AUTH_ALPN_PREFIX)
                .replace(".TELEPORT.CLUSTER.LOCAL", AUTH_ALPN_SUFFIX)
                .as_bytes(),
            "example.com"
        ));
        assert!(!routes_to_auth(alpn.as_bytes(), "other.com"));
        assert!(!routes_to_auth(b"teleport-auth@", "example.com"));
        assert!(!routes_to_auth(
            b"teleport-auth@zz.teleport.cluster.local",
            "example.com"
        ));
        assert!(!routes_to_auth(b"h2", "example.com"));
        assert!(!routes_to_auth(b"teleport-reversetunnel", "example.com"));
    }
}
