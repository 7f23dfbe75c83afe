//! Fake Mattermost REST API v4 on loopback: users, teams, channels, memberships, posts.
//!
//! Only the calls the access-request plugin makes are served, with Mattermost's shapes:
//! errors are `{id, message, detailed_error, request_id, status_code}`, a missing or wrong
//! token is 401, posting where the bot is not a member is 403, and unknown objects are 404.
//! Calls are counted under `"<METHOD> <route>"`, e.g. `"POST /api/v4/posts"`, so tests can
//! fault one route with [`Control::fail_next_for`].

mod api;
mod history;
mod state;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::control::{Control, WaitTimeout};
use crate::server::LoopbackServer;
use api::Shared;

pub use state::{MmChannel, MmPost, MmState, MmTeam, MmUser};

/// How to start a [`FakeMattermost`].
#[derive(Clone, Debug)]
pub struct FakeMattermostOptions {
    /// Listen address; default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// The only token accepted. Default `mm-fake-token`.
    pub token: String,
    /// The bot account the token belongs to.
    pub bot: MmUser,
    /// Other users.
    pub users: Vec<MmUser>,
    /// Teams.
    pub teams: Vec<MmTeam>,
    /// Channels.
    pub channels: Vec<MmChannel>,
}

impl Default for FakeMattermostOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            token: "mm-fake-token".to_owned(),
            bot: MmUser {
                id: "botuser0000000000000000001".to_owned(),
                username: "teleport".to_owned(),
                email: "teleport-bot@example.com".to_owned(),
            },
            users: Vec::new(),
            teams: Vec::new(),
            channels: Vec::new(),
        }
    }
}

impl FakeMattermostOptions {
    /// Accept `token`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// Add a user.
    pub fn user(mut self, id: &str, email: &str) -> Self {
        let username = email.split('@').next().unwrap_or(email).to_owned();
        self.users.push(MmUser {
            id: id.to_owned(),
            username,
            email: email.to_owned(),
        });
        self
    }

    /// Add a team; `bot_member` makes the bot one of its members.
    pub fn team(mut self, id: &str, name: &str, display_name: &str, bot_member: bool) -> Self {
        self.teams.push(MmTeam {
            id: id.to_owned(),
            name: name.to_owned(),
            display_name: display_name.to_owned(),
            members: if bot_member {
                vec![self.bot.id.clone()]
            } else {
                Vec::new()
            },
        });
        self
    }

    /// Add an open channel in team `team_id`; `bot_member` makes the bot one of its members.
    pub fn channel(
        mut self,
        id: &str,
        team_id: &str,
        name: &str,
        display_name: &str,
        bot_member: bool,
    ) -> Self {
        self.channels.push(MmChannel {
            id: id.to_owned(),
            team_id: team_id.to_owned(),
            name: name.to_owned(),
            display_name: display_name.to_owned(),
            kind: "O".to_owned(),
            members: if bot_member {
                vec![self.bot.id.clone()]
            } else {
                Vec::new()
            },
        });
        self
    }
}

/// A running fake Mattermost. Dropping it stops the server.
pub struct FakeMattermost {
    shared: Arc<Shared>,
    server: LoopbackServer,
}

impl FakeMattermost {
    /// Start the fake; panics if the address cannot be bound.
    pub async fn start(options: FakeMattermostOptions) -> Self {
        let listen = options.listen;
        match Self::try_start(options).await {
            Ok(fake) => fake,
            Err(err) => panic!("fake mattermost: cannot listen on {listen}: {err}"),
        }
    }

    /// Start the fake, reporting bind errors.
    pub async fn try_start(options: FakeMattermostOptions) -> io::Result<Self> {
        let mut users = vec![options.bot.clone()];
        users.extend(options.users);
        let mut state = MmState::default();
        state.users = users;
        state.teams = options.teams;
        state.channels = options.channels;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            control: Arc::new(Control::new()),
            token: Mutex::new(options.token),
            bot_id: options.bot.id,
        });
        let server = LoopbackServer::start(options.listen, api::router(shared.clone())).await?;
        Ok(Self { shared, server })
    }

    /// The server URL (what `[mattermost] url` holds), without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.local_addr())
    }

    /// The bot's user ID.
    pub fn bot_id(&self) -> &str {
        &self.shared.bot_id
    }

    /// Fault injection and call counts.
    pub fn control(&self) -> &Control {
        &self.shared.control
    }

    /// Calls of `route` (e.g. `"POST /api/v4/posts"`), faulted ones included.
    pub fn call_count(&self, route: &str) -> u64 {
        self.shared.control.call_count(route)
    }

    /// Close the port and every connection.
    pub async fn down(&self) {
        self.server.down().await;
    }

    /// Serve again on the same port.
    pub async fn up(&self) -> io::Result<()> {
        self.server.up().await
    }

    /// Make the bot a member of a channel or team (by ID).
    pub fn add_bot_membership(&self, id: &str) {
        let bot = self.shared.bot_id.clone();
        let mut state = self.shared.state();
        for channel in state.channels.iter_mut().filter(|c| c.id == id) {
            channel.members.push(bot.clone());
        }
        for team in state.teams.iter_mut().filter(|t| t.id == id) {
            team.members.push(bot.clone());
        }
    }

    /// Store a root post as if the bot had made it (e.g. before an upgrade); returns its ID.
    pub fn add_post(&self, channel_id: &str, message: &str) -> String {
        let mut state = self.shared.state();
        let id = state.new_id("post");
        state.posts.push(MmPost {
            id: id.clone(),
            channel_id: channel_id.to_owned(),
            root_id: String::new(),
            message: message.to_owned(),
            edits: Vec::new(),
            received: Instant::now(),
            create_at: state::unix_millis_now(),
            props: serde_json::Map::new(),
        });
        id
    }

    /// All posts, roots and replies, in posting order.
    pub fn posts(&self) -> Vec<MmPost> {
        self.shared.state().posts.clone()
    }

    /// Read the recorded state.
    pub fn with_state<T>(&self, read: impl FnOnce(&MmState) -> T) -> T {
        read(&self.shared.state())
    }

    /// Wait until `check` returns `Some`, re-checked after every recorded change.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&MmState) -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        self.shared
            .control
            .wait_until(timeout, || check(&self.shared.state()))
            .await
    }
}
