//! The Socket Mode client: an outbound WebSocket to Slack (no public URL), every envelope
//! acknowledged by its `envelope_id` at once (Slack wants an ack within 3 s and redelivers
//! otherwise), reconnection on `disconnect` and on a drop, with backoff.
//!
//! Built on tokio-tungstenite rather than slack-morphism's Socket Mode listener: that one
//! dials with its own TLS roots, so it would ignore `[slack] ca_file` and our one rustls
//! set-up (system store with `SSL_CERT_FILE`/`SSL_CERT_DIR`, ring), and it owns the
//! reconnect policy and the acks, which are exactly what this plugin must control.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use http::Uri;
use rustls_pki_types::ServerName;
use serde_json::{Value, json};
use teleport_client::backoff::DecorrelatedJitter;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_util::sync::CancellationToken;

use super::api::AppToken;
use crate::client::{HttpsSlackConnector, SlackApi, SlackError};

/// Go's keep-alive: a ping every 5 s, and 20 s without any frame means the link is dead.
const PING_INTERVAL: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(20);
/// Reconnect backoff, as Go's (a few ms up to 5 s, jittered).
const BACKOFF_BASE: Duration = Duration::from_millis(10);
const BACKOFF_CAP: Duration = Duration::from_secs(5);
/// Dialling and the WebSocket handshake together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One interaction Slack delivered: its envelope (already acknowledged) and payload.
#[derive(Clone, Debug)]
pub struct Interaction {
    /// Slack's id for this delivery; a redelivery carries the same id.
    pub envelope_id: String,
    /// The `payload` object (`block_actions`, ...).
    pub payload: Value,
}

/// Why one connection ended.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("cannot open a Socket Mode URL: {0}")]
    Open(#[from] SlackError),
    #[error("cannot connect the Socket Mode WebSocket: {0}")]
    Connect(String),
    #[error("Slack asked to reconnect ({0})")]
    Disconnect(String),
    #[error("Socket Mode is disabled in the Slack app's settings (link_disabled)")]
    LinkDisabled,
    #[error("the Socket Mode connection dropped: {0}")]
    Dropped(String),
    #[error("no frame from Slack for {}s", READ_TIMEOUT.as_secs())]
    Silent,
}

/// Keeps one Socket Mode connection up until `stop`, sending every interaction to `out`.
pub struct SocketModeClient {
    /// The Web API client, for `apps.connections.open`.
    pub api: Arc<SlackApi<HttpsSlackConnector>>,
    /// The app-level token.
    pub app_token: AppToken,
    /// TLS for `wss://` (the same roots as the Web API).
    pub tls: Arc<rustls::ClientConfig>,
}

impl SocketModeClient {
    /// Runs until `stop` is cancelled or `out` is closed.
    pub async fn run(self, out: mpsc::Sender<Interaction>, stop: CancellationToken) {
        let mut backoff = DecorrelatedJitter::new(BACKOFF_BASE, BACKOFF_CAP);
        loop {
            let result = tokio::select! {
                result = self.connect_and_serve(&out) => result,
                () = stop.cancelled() => return,
            };
            if out.is_closed() {
                return;
            }
            let delay = match result {
                Ok(served) => {
                    if served {
                        backoff.reset();
                    }
                    backoff.next_delay()
                }
                Err(LinkError::Disconnect(reason)) => {
                    tracing::debug!(%reason, "Slack asked Socket Mode to reconnect");
                    backoff.reset();
                    Duration::ZERO
                }
                // Credentials and a switched-off Socket Mode need an operator: retried
                // loudly (an error line each time, at the slowest pace), never given up,
                // so that fixing the app brings the buttons back without a restart.
                Err(err @ (LinkError::LinkDisabled | LinkError::Open(SlackError::Auth { .. }))) => {
                    tracing::error!(error = %err, "Slack review buttons are not working");
                    BACKOFF_CAP
                }
                Err(err) => {
                    tracing::warn!(error = %err, "Socket Mode connection lost; reconnecting");
                    backoff.next_delay()
                }
            };
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = stop.cancelled() => return,
            }
        }
    }

    /// One connection's life. `Ok(true)`: it was up and ended without an error worth
    /// backing off for (the consumer went away counts too).
    async fn connect_and_serve(&self, out: &mpsc::Sender<Interaction>) -> Result<bool, LinkError> {
        let url = self.api.open_socket_url(&self.app_token).await?;
        let ws = tokio::time::timeout(CONNECT_TIMEOUT, self.connect(&url))
            .await
            .map_err(|_| LinkError::Connect("timed out".into()))??;
        tracing::info!("Socket Mode connected; receiving Slack review button clicks");
        serve(ws, out).await
    }

    async fn connect(
        &self,
        url: &str,
    ) -> Result<WebSocketStream<Box<dyn Stream + Send + Unpin>>, LinkError> {
        let connect = |reason: String| LinkError::Connect(reason);
        let uri: Uri = url
            .parse()
            .map_err(|_| connect("Slack sent an unusable URL".into()))?;
        let secure = match uri.scheme_str() {
            Some("wss") => true,
            Some("ws") => false,
            _ => {
                return Err(connect(
                    "Slack sent a URL that is not ws:// or wss://".into(),
                ));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| connect("no host in the URL".into()))?;
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| connect(format!("{host}:{port}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Stream + Send + Unpin> = if secure {
            let name = ServerName::try_from(host.to_owned())
                .map_err(|_| connect(format!("{host} is not a valid server name")))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| connect(format!("TLS with {host}: {e}")))?;
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        let request = url
            .into_client_request()
            .map_err(|e| connect(format!("handshake request: {e}")))?;
        let (ws, _) = tokio_tungstenite::client_async(request, stream)
            .await
            .map_err(|e| connect(format!("handshake with {host}: {e}")))?;
        Ok(ws)
    }
}

/// A byte stream the WebSocket runs over (TCP or TLS).
trait Stream: AsyncRead + AsyncWrite {}
impl<T: AsyncRead + AsyncWrite> Stream for T {}

/// Reads frames until the link ends: acks each envelope first, then hands it on.
async fn serve<S>(
    mut ws: WebSocketStream<S>,
    out: &mpsc::Sender<Interaction>,
) -> Result<bool, LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    loop {
        let frame = tokio::select! {
            frame = tokio::time::timeout(READ_TIMEOUT, ws.next()) => frame,
            _ = ping.tick() => {
                ws.send(Message::Ping(Vec::new().into()))
                    .await
                    .map_err(|e| LinkError::Dropped(e.to_string()))?;
                continue;
            }
        };
        let text = match frame {
            Err(_) => return Err(LinkError::Silent),
            Ok(None) => return Err(LinkError::Dropped("closed".into())),
            Ok(Some(Err(e))) => return Err(LinkError::Dropped(e.to_string())),
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(Message::Close(_)))) => return Err(LinkError::Dropped("closed".into())),
            Ok(Some(Ok(_))) => continue,
        };
        let Ok(envelope) = serde_json::from_str::<Value>(text.as_str()) else {
            tracing::warn!("Socket Mode sent a frame that is not JSON; skipped");
            continue;
        };
        let kind = envelope.get("type").and_then(Value::as_str).unwrap_or("");
        if let Some(id) = envelope.get("envelope_id").and_then(Value::as_str) {
            // Before any work: a slow review must not make Slack redeliver.
            ws.send(Message::text(json!({ "envelope_id": id }).to_string()))
                .await
                .map_err(|e| LinkError::Dropped(e.to_string()))?;
        }
        match kind {
            "hello" => tracing::debug!("Socket Mode hello"),
            "disconnect" => {
                let reason = envelope.get("reason").and_then(Value::as_str).unwrap_or("");
                if reason == "link_disabled" {
                    return Err(LinkError::LinkDisabled);
                }
                return Err(LinkError::Disconnect(reason.to_owned()));
            }
            "interactive" => {
                let envelope_id = envelope
                    .get("envelope_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let payload = envelope.get("payload").cloned().unwrap_or_default();
                if out
                    .send(Interaction {
                        envelope_id,
                        payload,
                    })
                    .await
                    .is_err()
                {
                    return Ok(true);
                }
            }
            other => tracing::debug!(kind = other, "Socket Mode event ignored"),
        }
    }
}
