//! TLS routing behind an L7 load balancer: deciding whether the connection upgrade is
//! needed, and the upgrade itself (`GET /webapi/connectionupgrade`).
//!
//! A load balancer that terminates TLS never passes a custom ALPN on, so the proxy cannot
//! route on it. Like Go's client we probe with ALPN `teleport-reversetunnel` alone: a
//! Teleport proxy negotiates it, a terminating balancer negotiates nothing (or refuses with
//! "no application protocol"). The upgrade then asks the proxy, over HTTP/1.1 through the
//! balancer, to switch the connection to a WebSocket whose binary frames carry the usual
//! TLS-routing connection; servers older than 15.1 only know the legacy `alpn` upgrade,
//! after which the bytes flow unframed.

use std::io;

use rustls::AlertDescription;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::BoxIo;
use super::websocket::WebSocketIo;

/// The variable that forces the decision: `true`/`false`, or `addr=bool;addr=bool`.
pub const CONN_UPGRADE_ENV: &str = "TELEPORT_TLS_ROUTING_CONN_UPGRADE";
/// The proxy's upgrade endpoint.
const UPGRADE_PATH: &str = "/webapi/connectionupgrade";
/// WebSocket subprotocols: with keep-alive pings first (a watch is long-lived).
const PROTOCOL_PING: &str = "alpn-ping";
const PROTOCOL_PLAIN: &str = "alpn";
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// Whether to upgrade, and why (for the log and for failure messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) upgrade: bool,
    pub(crate) reason: String,
}

/// The forced decision for `addr` from [`CONN_UPGRADE_ENV`], if any.
pub(crate) fn env_override(addr: &str, value: Option<String>) -> Option<Decision> {
    let value = value?;
    parse_override(&value, addr).map(|upgrade| Decision {
        upgrade,
        reason: format!("{CONN_UPGRADE_ENV}={value}"),
    })
}

/// Go's strconv.ParseBool spellings.
fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A bare boolean applies to every address; otherwise `addr=bool` entries separated by `;`
/// (or `,`) apply to the address they name, with or without its port.
fn parse_override(value: &str, addr: &str) -> Option<bool> {
    if let Some(all) = parse_bool(value) {
        return Some(all);
    }
    let host = super::http_proxy::split_host_port(addr).0;
    value
        .split([';', ','])
        .filter_map(|entry| entry.split_once('='))
        .find(|(name, _)| {
            let name = name.trim();
            name.eq_ignore_ascii_case(addr) || name.eq_ignore_ascii_case(host)
        })
        .and_then(|(_, flag)| parse_bool(flag))
}

/// Reads the outcome of a TLS handshake that offered only `teleport-reversetunnel`.
pub(crate) fn decide(handshake: Result<Option<Vec<u8>>, &io::Error>) -> Decision {
    match handshake {
        Ok(Some(alpn)) if alpn == super::tls::REVERSE_TUNNEL_ALPN => Decision {
            upgrade: false,
            reason: "the proxy negotiated teleport-reversetunnel (no L7 load balancer)".into(),
        },
        Ok(alpn) => Decision {
            upgrade: true,
            reason: format!(
                "the server negotiated {} instead of teleport-reversetunnel: a load balancer \
                 terminates TLS",
                alpn.map_or_else(
                    || "no ALPN protocol".to_owned(),
                    |p| String::from_utf8_lossy(&p).into_owned()
                )
            ),
        },
        Err(error) if alert(error) == Some(AlertDescription::NoApplicationProtocol) => Decision {
            upgrade: true,
            reason: "the server refused ALPN teleport-reversetunnel: a load balancer terminates \
                     TLS"
            .into(),
        },
        Err(error) => Decision {
            upgrade: false,
            reason: format!("the load-balancer probe failed ({error}); assuming none"),
        },
    }
}

fn alert(error: &io::Error) -> Option<AlertDescription> {
    match error.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(alert) => Some(*alert),
        _ => None,
    }
}

/// Which upgrade request to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `Upgrade: websocket`, the ALPN upgrade as subprotocol (Teleport 15.1+).
    WebSocket,
    /// `Upgrade: alpn` (Teleport before 18): raw bytes after the 101.
    Legacy,
}

/// What the endpoint answered other than a switch (so the caller can try the legacy flavor).
#[derive(Debug)]
pub(crate) enum UpgradeError {
    /// The server answered with this status instead of 101.
    Refused(u16),
    /// Anything else: I/O, a broken response, a bad accept key.
    Failed(io::Error),
}

impl From<io::Error> for UpgradeError {
    fn from(error: io::Error) -> Self {
        Self::Failed(error)
    }
}

impl std::fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(code) => write!(
                f,
                "{UPGRADE_PATH} answered HTTP {code} instead of 101 Switching Protocols"
            ),
            Self::Failed(error) => write!(f, "{error}"),
        }
    }
}

/// Sends the upgrade request on `stream` (TLS to the balancer) and returns the stream that
/// carries the routed connection.
pub(crate) async fn upgrade<S>(
    mut stream: S,
    host: &str,
    flavor: Flavor,
) -> Result<BoxIo, UpgradeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let key = tokio_tungstenite::tungstenite::handshake::client::generate_key();
    let request = match flavor {
        Flavor::WebSocket => format!(
            "GET {UPGRADE_PATH} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\n\
             Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\
             Sec-WebSocket-Protocol: {PROTOCOL_PING}, {PROTOCOL_PLAIN}\r\n\r\n"
        ),
        // Some balancers drop unknown Upgrade values, hence the duplicate header.
        Flavor::Legacy => format!(
            "GET {UPGRADE_PATH} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\n\
             Upgrade: {PROTOCOL_PLAIN}\r\nX-Teleport-Upgrade: {PROTOCOL_PLAIN}\r\n\r\n"
        ),
    };
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let head = read_head(&mut stream).await?;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    if !matches!(response.parse(&head), Ok(httparse::Status::Complete(_))) {
        return Err(io::Error::other(format!(
            "{UPGRADE_PATH} answered with something that is not HTTP/1.1"
        ))
        .into());
    }
    let code = response.code.unwrap_or_default();
    if code != 101 {
        return Err(UpgradeError::Refused(code));
    }
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
    };
    match flavor {
        Flavor::WebSocket => {
            if !header("Upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
                return Err(
                    io::Error::other("the 101 response does not switch to websocket").into(),
                );
            }
            if header("Sec-WebSocket-Accept").as_deref()
                != Some(derive_accept_key(key.as_bytes()).as_str())
            {
                return Err(io::Error::other(
                    "the 101 response carries a wrong Sec-WebSocket-Accept (not our request's answer)",
                )
                .into());
            }
            let protocol = header("Sec-WebSocket-Protocol").unwrap_or_default();
            tracing::debug!(%protocol, "connection upgraded to a WebSocket");
            let ws = WebSocketStream::from_raw_socket(stream, Role::Client, None).await;
            Ok(Box::new(WebSocketIo::new(ws)))
        }
        Flavor::Legacy => Ok(Box::new(stream)),
    }
}

/// Reads a response head byte by byte, so nothing of what follows the blank line is consumed
/// (over TLS each byte comes from rustls' buffer, not a system call).
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_RESPONSE_HEAD {
            return Err(io::Error::other(format!(
                "{UPGRADE_PATH} sent an over-long response head"
            )));
        }
        let byte = stream.read_u8().await.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("the connection closed before {UPGRADE_PATH} answered: {e}"),
            )
        })?;
        head.push(byte);
    }
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_forms() {
        assert_eq!(parse_override("true", "a:443"), Some(true));
        assert_eq!(parse_override("0", "a:443"), Some(false));
        assert_eq!(parse_override("yes", "a:443"), None);
        let per = "lb.example.com:443=true;direct.example.com=false";
        assert_eq!(parse_override(per, "lb.example.com:443"), Some(true));
        assert_eq!(parse_override(per, "direct.example.com:3080"), Some(false));
        assert_eq!(parse_override(per, "other:443"), None);
        assert_eq!(parse_override("LB:443 = TRUE", "lb:443"), Some(true));
    }

    #[test]
    fn probe_outcomes() {
        assert!(!decide(Ok(Some(b"teleport-reversetunnel".to_vec()))).upgrade);
        assert!(decide(Ok(None)).upgrade);
        assert!(decide(Ok(Some(b"http/1.1".to_vec()))).upgrade);
        let refused = io::Error::other(rustls::Error::AlertReceived(
            AlertDescription::NoApplicationProtocol,
        ));
        assert!(decide(Err(&refused)).upgrade);
        let other = io::Error::new(io::ErrorKind::ConnectionReset, "reset");
        let decision = decide(Err(&other));
        assert!(!decision.upgrade);
        assert!(decision.reason.contains("reset"), "{}", decision.reason);
    }
}
