//! Fake Slack Web API on loopback: start it, point a client at `base_url()`, inspect what arrived.

mod api;
mod history;
mod interactive;
mod params;
mod state;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast;

use crate::control::{Control, WaitTimeout};
use crate::server::LoopbackServer;
use api::Shared;
use interactive::SocketHub;

pub use api::SlackEvent;
pub use interactive::{EphemeralMessage, block_actions_payload};
pub use state::{FakeChannel, FakeUser, MessageContent, MessageEdit, PostedMessage, SlackState};

/// How to start a [`FakeSlack`].
#[derive(Clone, Debug)]
pub struct FakeSlackOptions {
    /// Listen address; port 0 picks a free port. Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// The only bot token the fake accepts. Default `xoxb-fake-token`.
    pub token: String,
    /// Channels that exist, found by ID or name (`#` optional).
    pub channels: Vec<FakeChannel>,
    /// Accept posts to any channel argument (used verbatim as the ID). Default false.
    pub accept_any_channel: bool,
    /// The user directory `users.lookupByEmail` serves.
    pub users: Vec<FakeUser>,
    /// Delay before every answer. Default zero.
    pub latency: Duration,
}

impl Default for FakeSlackOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            token: "xoxb-fake-token".to_owned(),
            channels: Vec::new(),
            accept_any_channel: false,
            users: Vec::new(),
            latency: Duration::ZERO,
        }
    }
}

impl FakeSlackOptions {
    /// Listen on `addr` instead of a free loopback port.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Accept `token` as the bot token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// Add a channel with ID `id` and name `name`.
    pub fn channel(mut self, id: impl Into<String>, name: impl Into<String>) -> Self {
        self.channels.push(FakeChannel {
            id: id.into(),
            name: name.into(),
        });
        self
    }

    /// Accept posts to any channel.
    pub fn accept_any_channel(mut self, yes: bool) -> Self {
        self.accept_any_channel = yes;
        self
    }

    /// Add a user that `users.lookupByEmail` finds.
    pub fn user(mut self, email: impl Into<String>, id: impl Into<String>) -> Self {
        self.users.push(FakeUser {
            id: id.into(),
            email: email.into(),
        });
        self
    }

    /// Delay every answer by `latency`.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }
}

/// A running fake Slack. Dropping it stops the server.
pub struct FakeSlack {
    shared: Arc<Shared>,
    server: LoopbackServer,
}

impl FakeSlack {
    /// Start the fake; panics if the address cannot be bound (a test setup failure).
    pub async fn start(options: FakeSlackOptions) -> Self {
        let listen = options.listen;
        match Self::try_start(options).await {
            Ok(fake) => fake,
            Err(err) => panic!("fake slack: cannot listen on {listen}: {err}"),
        }
    }

    /// Start the fake, reporting bind errors.
    pub async fn try_start(options: FakeSlackOptions) -> io::Result<Self> {
        let mut state = SlackState::default();
        for user in &options.users {
            state.add_user(&user.email, Some(&user.id));
        }
        state.channels = options.channels;
        let control = Arc::new(Control::new());
        control.set_latency(options.latency);
        let sockets = SocketHub::start(control.clone()).await?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            control,
            token: Mutex::new(options.token),
            accept_any_channel: options.accept_any_channel,
            events: broadcast::channel(1024).0,
            sockets,
        });
        let server = LoopbackServer::start(options.listen, api::router(shared.clone())).await?;
        Ok(Self { shared, server })
    }

    /// The Web API base URL, with a trailing slash: `http://127.0.0.1:PORT/api/`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/", self.server.local_addr())
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The token the fake accepts.
    pub fn token(&self) -> String {
        self.shared
            .token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Accept `token` from now on (the old one becomes `invalid_auth`).
    pub fn set_token(&self, token: impl Into<String>) {
        *self.shared.token.lock().unwrap_or_else(|e| e.into_inner()) = token.into();
    }

    /// Fault injection and call counts.
    pub fn control(&self) -> &Control {
        &self.shared.control
    }

    /// Close the port and every connection: clients get "connection refused".
    pub async fn down(&self) {
        self.server.down().await;
    }

    /// Serve again on the same port.
    pub async fn up(&self) -> io::Result<()> {
        self.server.up().await
    }

    /// Register a user under a generated ID (`U000001`, ...) and return the ID.
    pub fn add_user(&self, email: &str) -> String {
        self.shared.state().add_user(email, None)
    }

    /// Register a channel.
    pub fn add_channel(&self, id: &str, name: &str) {
        self.shared.state().channels.push(FakeChannel {
            id: id.to_owned(),
            name: name.to_owned(),
        });
    }

    /// All stored messages, roots and replies, in posting order.
    pub fn messages(&self) -> Vec<PostedMessage> {
        self.shared.state().messages().to_vec()
    }

    /// Root messages in posting order.
    pub fn root_messages(&self) -> Vec<PostedMessage> {
        self.shared.state().root_messages().cloned().collect()
    }

    /// Replies in the thread of `(channel, ts)`.
    pub fn thread_replies(&self, channel: &str, ts: &str) -> Vec<PostedMessage> {
        self.shared
            .state()
            .thread_replies(channel, ts)
            .cloned()
            .collect()
    }

    /// The message at `(channel, ts)` with its edit history.
    pub fn message(&self, channel: &str, ts: &str) -> Option<PostedMessage> {
        self.shared.state().message(channel, ts).cloned()
    }

    /// Calls of `method` (e.g. `chat.postMessage`) received, faulted ones included.
    pub fn call_count(&self, method: &str) -> u64 {
        self.shared.control.call_count(method)
    }

    /// Every accepted post and update from now on (the demo binary prints these).
    pub fn subscribe(&self) -> broadcast::Receiver<SlackEvent> {
        self.shared.events.subscribe()
    }

    /// Wait until `check` returns `Some` for the recorded state; re-checked on every call.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&SlackState) -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        self.shared
            .control
            .wait_until(timeout, || check(&self.shared.state()))
            .await
    }

    /// Turn Socket Mode on: `apps.connections.open` accepts `app_token` (`None`: off, the
    /// call answers `not_allowed_token_type`).
    pub fn set_app_token(&self, app_token: Option<&str>) {
        self.shared
            .sockets
            .set_app_token(app_token.map(str::to_owned));
    }

    /// Push an `interactive` envelope with `payload` down the newest Socket Mode connection;
    /// its `envelope_id`, or `None` when no client is connected.
    pub fn push_interaction(&self, payload: Value) -> Option<String> {
        self.shared.sockets.push(payload)
    }

    /// Push an envelope under a given `envelope_id` (Slack redelivers an envelope under its
    /// id when an ack is late); false when no client is connected.
    pub fn push_interaction_with_id(&self, envelope_id: &str, payload: Value) -> bool {
        self.shared.sockets.push_with_id(envelope_id, payload)
    }

    /// Ask the connected client to reconnect (`{"type":"disconnect"}` with `reason`).
    pub fn socket_disconnect(&self, reason: &str) -> bool {
        self.shared.sockets.disconnect(reason)
    }

    /// Cut every Socket Mode connection without a close frame.
    pub fn drop_socket_connections(&self) {
        self.shared.sockets.drop_connections();
    }

    /// Every `envelope_id` acknowledged so far, in order.
    pub fn socket_acks(&self) -> Vec<String> {
        self.shared.sockets.acks()
    }

    /// Socket Mode connections accepted so far (reconnects included).
    pub fn socket_connections_opened(&self) -> u64 {
        self.shared.sockets.opened()
    }

    /// Socket Mode connections open now.
    pub fn live_socket_connections(&self) -> usize {
        self.shared.sockets.live()
    }

    /// Every ephemeral message posted, in order.
    pub fn ephemeral_messages(&self) -> Vec<EphemeralMessage> {
        self.shared.sockets.ephemerals()
    }

    /// Wait until `check` returns `Some`; re-checked whenever the fake records anything
    /// (acks, connections and ephemeral messages included).
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        self.shared.control.wait_until(timeout, &mut check).await
    }

    /// Wait until at least `count` calls of `method` arrived.
    pub async fn wait_for_calls(
        &self,
        method: &str,
        count: u64,
        timeout: Duration,
    ) -> Result<u64, WaitTimeout> {
        let control = &self.shared.control;
        control
            .wait_until(timeout, || {
                let seen = control.call_count(method);
                (seen >= count).then_some(seen)
            })
            .await
    }
}
