//! Fake Slack Web API on loopback: start it, point a client at `base_url()`, inspect what arrived.

mod api;
mod params;
mod state;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;

use crate::control::{Control, WaitTimeout};
use crate::server::LoopbackServer;
use api::Shared;

pub use api::SlackEvent;
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
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            control,
            token: Mutex::new(options.token),
            accept_any_channel: options.accept_any_channel,
            events: broadcast::channel(1024).0,
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
