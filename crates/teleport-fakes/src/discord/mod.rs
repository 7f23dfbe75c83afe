//! Fake Discord REST API (v10) on loopback: the bot user, channels, messages with embeds.
//!
//! Only the calls the access-request plugin makes are served, with Discord's shapes: the
//! token goes in `Authorization: Bot <token>`, errors are `{message, code}` (401
//! `401: Unauthorized`, 404 `Unknown Channel` 10003 / `Unknown Message` 10008, 403
//! `Missing Access` 50001 where the bot may not post, 400 `Invalid Form Body` 50035 past
//! Discord's limits), and a 429 carries `Retry-After`, `X-RateLimit-Reset-After` and a JSON
//! `retry_after` in seconds. Calls are counted under `"<METHOD> <route>"`, e.g.
//! `"POST /api/v10/channels/{channel}/messages"`, so tests can fault one route with
//! [`Control::fail_next_for`].

mod api;
mod history;
mod state;

use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::control::{Control, WaitTimeout};
use crate::server::LoopbackServer;
use api::Shared;

pub use state::{DcChannel, DcContent, DcMessage, DcState};

/// The route that posts a message, as counted.
pub const POST_MESSAGE: &str = "POST /api/v10/channels/{channel}/messages";
/// The route that edits a message, as counted.
pub const PATCH_MESSAGE: &str = "PATCH /api/v10/channels/{channel}/messages/{message}";

/// How to start a [`FakeDiscord`].
#[derive(Clone, Debug)]
pub struct FakeDiscordOptions {
    /// Listen address; default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// The only bot token accepted. Default `discord-fake-token`.
    pub token: String,
    /// The bot user's ID.
    pub bot_id: String,
    /// The bot user's name.
    pub bot_name: String,
    /// Channels.
    pub channels: Vec<DcChannel>,
}

impl Default for FakeDiscordOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            token: "discord-fake-token".to_owned(),
            bot_id: "1000000000000000001".to_owned(),
            bot_name: "teleport".to_owned(),
            channels: Vec::new(),
        }
    }
}

impl FakeDiscordOptions {
    /// Accept `token`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// Add a text channel; `bot_access` lets the bot see and post in it.
    pub fn channel(mut self, id: &str, name: &str, bot_access: bool) -> Self {
        self.channels.push(DcChannel {
            id: id.to_owned(),
            name: name.to_owned(),
            bot_access,
        });
        self
    }
}

/// A running fake Discord. Dropping it stops the server.
pub struct FakeDiscord {
    shared: Arc<Shared>,
    server: LoopbackServer,
}

impl FakeDiscord {
    /// Start the fake; panics if the address cannot be bound.
    pub async fn start(options: FakeDiscordOptions) -> Self {
        let listen = options.listen;
        match Self::try_start(options).await {
            Ok(fake) => fake,
            Err(err) => panic!("fake discord: cannot listen on {listen}: {err}"),
        }
    }

    /// Start the fake, reporting bind errors.
    pub async fn try_start(options: FakeDiscordOptions) -> io::Result<Self> {
        let mut state = DcState::default();
        state.channels = options.channels;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            control: Arc::new(Control::new()),
            token: Mutex::new(options.token),
            bot_id: options.bot_id,
            bot_name: options.bot_name,
            precise_limits: Mutex::new(VecDeque::new()),
        });
        let server = LoopbackServer::start(options.listen, api::router(shared.clone())).await?;
        Ok(Self { shared, server })
    }

    /// The API base (what `[discord] apiurl` holds): `http://127.0.0.1:<port>/api/v10/`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v10/", self.server.local_addr())
    }

    /// Fault injection and call counts.
    pub fn control(&self) -> &Control {
        &self.shared.control
    }

    /// Calls of `route` (e.g. [`POST_MESSAGE`]), faulted ones included.
    pub fn call_count(&self, route: &str) -> u64 {
        self.shared.control.call_count(route)
    }

    /// Answer the next `count` calls of `route` with a 429 whose `X-RateLimit-Reset-After`
    /// and JSON `retry_after` say `wait` to the millisecond, while `Retry-After` (whole
    /// seconds, as Discord rounds it) says more.
    pub fn rate_limit_next_precise(&self, route: &str, count: u32, wait: Duration) {
        if count > 0 {
            self.shared
                .precise_limits()
                .push_back((route.to_owned(), count, wait));
        }
    }

    /// Accept only `token` from now on (a rotated or revoked token).
    pub fn set_token(&self, token: &str) {
        *self.shared.token.lock().unwrap_or_else(|e| e.into_inner()) = token.to_owned();
    }

    /// Let the bot see and post in a channel, or take that away (Discord then answers 403
    /// `Missing Access`).
    pub fn set_bot_access(&self, channel_id: &str, access: bool) {
        let mut state = self.shared.state();
        for channel in state.channels.iter_mut().filter(|c| c.id == channel_id) {
            channel.bot_access = access;
        }
    }

    /// Close the port and every connection.
    pub async fn down(&self) {
        self.server.down().await;
    }

    /// Serve again on the same port.
    pub async fn up(&self) -> io::Result<()> {
        self.server.up().await
    }

    /// Store a message as if the bot had posted it (e.g. before an upgrade); returns its ID.
    pub fn add_message(&self, channel_id: &str, content: &str) -> String {
        let mut state = self.shared.state();
        let id = state.new_id();
        state.messages.push(DcMessage {
            id: id.clone(),
            channel_id: channel_id.to_owned(),
            posted: DcContent {
                content: content.to_owned(),
                embeds: Vec::new(),
            },
            edits: Vec::new(),
            received: std::time::Instant::now(),
        });
        id
    }

    /// All messages, in posting order.
    pub fn messages(&self) -> Vec<DcMessage> {
        self.shared.state().messages.clone()
    }

    /// Read the recorded state.
    pub fn with_state<T>(&self, read: impl FnOnce(&DcState) -> T) -> T {
        read(&self.shared.state())
    }

    /// Wait until `check` returns `Some`, re-checked after every recorded change.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&DcState) -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        self.shared
            .control
            .wait_until(timeout, || check(&self.shared.state()))
            .await
    }
}
