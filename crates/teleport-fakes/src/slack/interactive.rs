//! Fake Slack interactivity: Socket Mode (`apps.connections.open` hands out a `ws://` URL on
//! a second loopback listener, where the test pushes `block_actions` envelopes and every
//! ack is recorded), `users.info` and `chat.postEphemeral`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::api::{Shared, TEAM_ID, reply};
use super::params::SlackCall;
use crate::control::Control;

/// An ephemeral message `chat.postEphemeral` accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EphemeralMessage {
    /// The channel it was shown in.
    pub channel: String,
    /// The only user who sees it.
    pub user: String,
    /// Its text.
    pub text: String,
}

/// What the test sends down one Socket Mode connection.
enum Frame {
    Text(String),
    /// Drop the connection without a close frame, as a network failure would.
    Drop,
}

/// The Socket Mode side of the fake.
pub(crate) struct SocketHub {
    app_token: Mutex<Option<String>>,
    ws_addr: SocketAddr,
    clients: Mutex<Vec<mpsc::UnboundedSender<Frame>>>,
    acks: Mutex<Vec<String>>,
    opened: AtomicU64,
    next_envelope: AtomicU64,
    ephemerals: Mutex<Vec<EphemeralMessage>>,
    control: Arc<Control>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl SocketHub {
    /// Binds the WebSocket listener and serves it until the process (test) ends.
    pub(crate) async fn start(control: Arc<Control>) -> std::io::Result<Arc<Self>> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let hub = Arc::new(Self {
            app_token: Mutex::new(None),
            ws_addr: listener.local_addr()?,
            clients: Mutex::new(Vec::new()),
            acks: Mutex::new(Vec::new()),
            opened: AtomicU64::new(0),
            next_envelope: AtomicU64::new(0),
            ephemerals: Mutex::new(Vec::new()),
            control,
        });
        let weak = Arc::downgrade(&hub);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let Some(hub) = weak.upgrade() else { return };
                tokio::spawn(hub.serve(stream));
            }
        });
        Ok(hub)
    }

    pub(crate) fn set_app_token(&self, token: Option<String>) {
        *lock(&self.app_token) = token;
    }

    async fn serve(self: Arc<Self>, stream: TcpStream) {
        let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let hello = json!({
            "type": "hello",
            "num_connections": 1,
            "connection_info": { "app_id": "A0FAKEAPP" },
            "debug_info": { "host": "fake-slack" },
        });
        if ws.send(Message::text(hello.to_string())).await.is_err() {
            return;
        }
        lock(&self.clients).push(tx);
        self.opened.fetch_add(1, Ordering::SeqCst);
        self.control.notify_changed();
        loop {
            tokio::select! {
                frame = rx.recv() => match frame {
                    Some(Frame::Text(text)) => {
                        if ws.send(Message::text(text)).await.is_err() {
                            break;
                        }
                    }
                    Some(Frame::Drop) | None => break,
                },
                incoming = ws.next() => match incoming {
                    Some(Ok(Message::Text(text))) => self.record_ack(text.as_str()),
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break,
                },
            }
        }
        lock(&self.clients).retain(|c| !c.is_closed());
        self.control.notify_changed();
    }

    fn record_ack(&self, text: &str) {
        let ack: Value = serde_json::from_str(text).unwrap_or_default();
        if let Some(id) = ack.get("envelope_id").and_then(Value::as_str) {
            lock(&self.acks).push(id.to_owned());
            self.control.notify_changed();
        }
    }

    /// Sends `frame` to the newest live connection; false when none is connected.
    fn send(&self, frame: Frame) -> bool {
        let mut clients = lock(&self.clients);
        clients.retain(|c| !c.is_closed());
        clients.last().is_some_and(|c| c.send(frame).is_ok())
    }

    pub(crate) fn push(&self, payload: Value) -> Option<String> {
        let n = self.next_envelope.fetch_add(1, Ordering::SeqCst) + 1;
        let envelope_id = format!("env-{n:06}");
        self.push_with_id(&envelope_id, payload)
            .then_some(envelope_id)
    }

    pub(crate) fn push_with_id(&self, envelope_id: &str, payload: Value) -> bool {
        let envelope = json!({
            "envelope_id": envelope_id,
            "type": "interactive",
            "accepts_response_payload": false,
            "payload": payload,
        });
        self.send(Frame::Text(envelope.to_string()))
    }

    pub(crate) fn disconnect(&self, reason: &str) -> bool {
        let message = json!({ "type": "disconnect", "reason": reason });
        self.send(Frame::Text(message.to_string()))
    }

    pub(crate) fn drop_connections(&self) {
        for client in lock(&self.clients).drain(..) {
            let _ = client.send(Frame::Drop);
        }
    }

    pub(crate) fn acks(&self) -> Vec<String> {
        lock(&self.acks).clone()
    }

    pub(crate) fn opened(&self) -> u64 {
        self.opened.load(Ordering::SeqCst)
    }

    pub(crate) fn live(&self) -> usize {
        let mut clients = lock(&self.clients);
        clients.retain(|c| !c.is_closed());
        clients.len()
    }

    pub(crate) fn ephemerals(&self) -> Vec<EphemeralMessage> {
        lock(&self.ephemerals).clone()
    }
}

/// A `block_actions` payload as Slack sends it when `user` clicks the button `action_id`
/// (value `value`, in block `block_id`) on the message `(channel, message_ts)`.
pub fn block_actions_payload(
    user: &str,
    channel: &str,
    message_ts: &str,
    block_id: &str,
    action_id: &str,
    value: &str,
) -> Value {
    json!({
        "type": "block_actions",
        "team": { "id": TEAM_ID, "domain": "fake-teleport" },
        "user": { "id": user, "username": user, "team_id": TEAM_ID },
        "api_app_id": "A0FAKEAPP",
        "trigger_id": "1.2.3",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": false,
        },
        "channel": { "id": channel, "name": channel },
        "response_url": "https://hooks.slack.invalid/actions/fake",
        "actions": [{
            "type": "button",
            "block_id": block_id,
            "action_id": action_id,
            "value": value,
            "text": { "type": "plain_text", "text": action_id },
            "action_ts": "1700000000.000001",
        }],
    })
}

/// `apps.connections.open`: only the app-level token opens a connection.
pub(crate) async fn connections_open(
    State(shared): State<Arc<Shared>>,
    call: SlackCall,
) -> Response {
    let hub = &shared.sockets;
    let expected = lock(&hub.app_token).clone();
    reply(match (&call.token, expected) {
        (None, _) => Err("not_authed"),
        (Some(_), None) => Err("not_allowed_token_type"),
        (Some(token), Some(expected)) if *token == expected => {
            Ok(json!({ "url": format!("ws://{}/link/?ticket=fake", hub.ws_addr) }))
        }
        (Some(_), Some(_)) => Err("invalid_auth"),
    })
}

/// `users.info`: the user's profile with the e-mail registered for that ID.
pub(crate) async fn users_info(State(shared): State<Arc<Shared>>, call: SlackCall) -> Response {
    reply(shared.check_token(&call).and_then(|()| {
        let id = call.str("user").ok_or("invalid_arguments")?;
        let state = shared.state();
        let email = state
            .users_by_email
            .iter()
            .find(|(_, user_id)| **user_id == id)
            .map(|(email, _)| email.clone())
            .ok_or("user_not_found")?;
        let name = email.split('@').next().unwrap_or_default().to_owned();
        Ok(json!({
            "user": {
                "id": id,
                "team_id": TEAM_ID,
                "name": name,
                "deleted": false,
                "is_bot": false,
                "profile": { "email": email, "real_name": name, "display_name": name },
            },
        }))
    }))
}

/// `chat.postEphemeral`: recorded for the test to read.
pub(crate) async fn post_ephemeral(State(shared): State<Arc<Shared>>, call: SlackCall) -> Response {
    reply(shared.check_token(&call).and_then(|()| {
        let channel = call.str("channel").ok_or("channel_not_found")?;
        let user = call.str("user").ok_or("user_not_in_channel")?;
        let text = call.str("text").ok_or("no_text")?;
        lock(&shared.sockets.ephemerals).push(EphemeralMessage {
            channel,
            user,
            text,
        });
        shared.control.notify_changed();
        Ok(json!({ "message_ts": "1700000000.999999" }))
    }))
}
