//! Fake Microsoft Teams on loopback: the identity platform's token endpoint (client
//! credentials), the Graph v1.0 calls the access-request plugin makes, and the Bot
//! Framework connector's activities. The cards the bot posted are also listed as Graph's
//! chat and channel messages, for the plugin's opt-in look-up (paged, newest first; 403
//! on request, as for an app without the read permission).
//!
//! One server serves all three under prefixes: `/login` (what `[msapi] login_url` holds),
//! `/graph/v1.0` (`graph_url`) and `/bot` (`bot_framework_url`, the region and `v3`
//! follow). Tokens are per scope (a Graph token is refused by the Bot Framework and the
//! other way round) and expire after [`FakeMsTeamsOptions::token_lifetime`]; a call with
//! an expired token is answered 401 and counted, so a test can prove that the plugin
//! caches tokens and renews them before they expire. Errors are Graph's
//! `{"error": {"code", "message"}}`; a 429 carries `Retry-After`. Calls are counted under
//! `"<METHOD> <route>"`, e.g. [`POST_ACTIVITY`].

mod api;
mod bot;
mod graph;
mod messages;
mod state;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::control::{Control, WaitTimeout};
use crate::server::LoopbackServer;
use api::Shared;

pub use api::{BOT_SCOPE, GRAPH_SCOPE};
pub use state::{
    CardVersion, Installation, IssuedToken, MsActivity, MsApp, MsState, MsTeam, MsUser,
};

/// The token endpoint, as counted.
pub const TOKEN: &str = "POST /login/{tenant}/oauth2/v2.0/token";
/// Posting an activity, as counted.
pub const POST_ACTIVITY: &str = "POST /bot/{region}/v3/conversations/{conversation}/activities/";
/// Updating an activity, as counted.
pub const PUT_ACTIVITY: &str =
    "PUT /bot/{region}/v3/conversations/{conversation}/activities/{activity}";
/// The app catalog lookup, as counted.
pub const GET_CATALOG: &str = "GET /graph/v1.0/appCatalogs/teamsApps";
/// Installing the app for a user, as counted.
pub const INSTALL_APP: &str = "POST /graph/v1.0/users/{user}/teamwork/installedApps";
/// Listing a chat's messages, as counted.
pub const LIST_CHAT_MESSAGES: &str = "GET /graph/v1.0/chats/{chat}/messages";
/// Listing a channel's messages, as counted.
pub const LIST_CHANNEL_MESSAGES: &str = "GET /graph/v1.0/teams/{team}/channels/{channel}/messages";
pub use messages::MAX_TOP as MAX_MESSAGES_PAGE;

/// How to start a [`FakeMsTeams`].
#[derive(Clone, Debug)]
pub struct FakeMsTeamsOptions {
    /// Listen address; default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// The tenant ID in the token path.
    pub tenant_id: String,
    /// The app (client) ID accepted.
    pub app_id: String,
    /// The app secret accepted.
    pub app_secret: String,
    /// The app in the catalog; `None` when it was never uploaded.
    pub app: Option<MsApp>,
    /// People in the tenant.
    pub users: Vec<MsUser>,
    /// Teams.
    pub teams: Vec<MsTeam>,
    /// How long an issued token is accepted (`expires_in`). Default one hour.
    pub token_lifetime: Duration,
    /// The most messages a page of a message listing holds, whatever `$top` asks (Graph's
    /// largest, 50, by default); a small one makes a test page.
    pub message_page_size: usize,
}

impl Default for FakeMsTeamsOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tenant_id: "00000000-0000-4000-8000-00000000aaaa".to_owned(),
            app_id: "00000000-0000-4000-8000-00000000bbbb".to_owned(),
            app_secret: "msteams-fake-secret".to_owned(),
            app: Some(MsApp {
                id: "catalog-app-0001".to_owned(),
                external_id: "00000000-0000-4000-8000-00000000cccc".to_owned(),
                display_name: "TeleBot".to_owned(),
            }),
            users: Vec::new(),
            teams: Vec::new(),
            token_lifetime: Duration::from_secs(3600),
            message_page_size: MAX_MESSAGES_PAGE,
        }
    }
}

impl FakeMsTeamsOptions {
    /// Accept this app secret.
    pub fn app_secret(mut self, secret: impl Into<String>) -> Self {
        self.app_secret = secret.into();
        self
    }

    /// A person, without the app installed.
    pub fn user(mut self, id: &str, mail: &str, name: &str) -> Self {
        self.users.push(MsUser {
            id: id.to_owned(),
            mail: mail.to_owned(),
            display_name: name.to_owned(),
            installation: None,
        });
        self
    }

    /// A team with one channel; `installed` says whether the app is in the team.
    pub fn team(mut self, group_id: &str, channel: &str, installed: bool) -> Self {
        self.teams.push(MsTeam {
            group_id: group_id.to_owned(),
            channels: vec![channel.to_owned()],
            installation: installed.then(|| format!("team-installation-{group_id}")),
        });
        self
    }

    /// Tokens last this long.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Message listings answer at most `size` messages a page.
    pub fn message_page_size(mut self, size: usize) -> Self {
        self.message_page_size = size;
        self
    }

    /// No app in the catalog.
    pub fn without_app(mut self) -> Self {
        self.app = None;
        self
    }
}

/// A running fake. Dropping it stops the server.
pub struct FakeMsTeams {
    shared: Arc<Shared>,
    server: LoopbackServer,
}

impl FakeMsTeams {
    /// Start the fake; panics if the address cannot be bound.
    pub async fn start(options: FakeMsTeamsOptions) -> Self {
        let listen = options.listen;
        match Self::try_start(options).await {
            Ok(fake) => fake,
            Err(err) => panic!("fake msteams: cannot listen on {listen}: {err}"),
        }
    }

    /// Start the fake, reporting bind errors.
    pub async fn try_start(options: FakeMsTeamsOptions) -> io::Result<Self> {
        let state = MsState {
            app: options.app,
            users: options.users,
            teams: options.teams,
            ..MsState::default()
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            control: Arc::new(Control::new()),
            tenant_id: options.tenant_id,
            app_id: options.app_id,
            app_secret: Mutex::new(options.app_secret),
            token_lifetime: Mutex::new(options.token_lifetime),
            install_conflicts: Mutex::new(0),
            install_lag: Mutex::new(0),
            message_page_size: options.message_page_size,
            message_reads_denied: AtomicBool::new(false),
        });
        let server = LoopbackServer::start(options.listen, api::router(shared.clone())).await?;
        Ok(Self { shared, server })
    }

    /// `[msapi] login_url`: `http://127.0.0.1:<port>/login`.
    pub fn login_url(&self) -> String {
        format!("http://{}/login", self.server.local_addr())
    }

    /// `[msapi] graph_url`: `http://127.0.0.1:<port>/graph/v1.0`.
    pub fn graph_url(&self) -> String {
        format!("http://{}/graph/v1.0", self.server.local_addr())
    }

    /// `[msapi] bot_framework_url`: `http://127.0.0.1:<port>/bot`.
    pub fn bot_framework_url(&self) -> String {
        format!("http://{}/bot", self.server.local_addr())
    }

    /// The tenant ID.
    pub fn tenant_id(&self) -> &str {
        &self.shared.tenant_id
    }

    /// The app (client) ID.
    pub fn app_id(&self) -> &str {
        &self.shared.app_id
    }

    /// Fault injection and call counts.
    pub fn control(&self) -> &Control {
        &self.shared.control
    }

    /// Calls of `route` (e.g. [`POST_ACTIVITY`]), faulted ones included.
    pub fn call_count(&self, route: &str) -> u64 {
        self.shared.control.call_count(route)
    }

    /// Accept only `secret` from now on (a rotated secret).
    pub fn set_app_secret(&self, secret: &str) {
        *self
            .shared
            .app_secret
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = secret.to_owned();
    }

    /// Answer the next `count` installs with 409 `Conflict` (installing all the same), as
    /// when another replica installs at the same moment.
    pub fn conflict_next_installs(&self, count: u32) {
        *self
            .shared
            .install_conflicts
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = count;
    }

    /// After each install, let the next `lookups` lookups of that user's apps find nothing
    /// yet, as Graph's replication delay does.
    pub fn set_install_lag(&self, lookups: u32) {
        *self
            .shared
            .install_lag
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = lookups;
    }

    /// Refuse message listings with 403 (`true`), as Graph does for an app that was not
    /// granted `Chat.Read.All` / `ChannelMessage.Read.All`, or serve them again.
    pub fn deny_message_reads(&self, denied: bool) {
        self.shared
            .message_reads_denied
            .store(denied, Ordering::SeqCst);
    }

    /// Install the app for a user beforehand (e.g. by an admin); returns the chat ID.
    pub fn install_for(&self, user_id: &str) -> Option<String> {
        let mut state = self.shared.state();
        let app_id = state.app.as_ref()?.id.clone();
        let installation = state.new_id("installation-");
        let user = state.users.iter_mut().find(|u| u.id == user_id)?;
        let chat_id = format!("19:{user_id}_{app_id}@unq.gbl.spaces");
        user.installation = Some(Installation {
            id: installation,
            chat_id: chat_id.clone(),
        });
        Some(chat_id)
    }

    /// Close the port and every connection.
    pub async fn down(&self) {
        self.server.down().await;
    }

    /// Serve again on the same port.
    pub async fn up(&self) -> io::Result<()> {
        self.server.up().await
    }

    /// Store an activity as if the bot had posted it (e.g. by the Go plugin before an
    /// upgrade); returns its ID.
    pub fn add_activity(&self, conversation: &str, card: serde_json::Value) -> String {
        let mut state = self.shared.state();
        let id = state.new_id("1600000000");
        let created = state.next_created();
        state.activities.push(MsActivity {
            id: id.clone(),
            conversation: conversation.to_owned(),
            region: "emea".to_owned(),
            posted: CardVersion {
                card,
                activity: serde_json::Value::Null,
            },
            updates: Vec::new(),
            received: std::time::Instant::now(),
            created,
            modified: created,
        });
        drop(state);
        self.shared.control.notify_changed();
        id
    }

    /// All activities, in posting order.
    pub fn activities(&self) -> Vec<MsActivity> {
        self.shared.state().activities.clone()
    }

    /// Read the recorded state.
    pub fn with_state<T>(&self, read: impl FnOnce(&MsState) -> T) -> T {
        read(&self.shared.state())
    }

    /// Wait until `check` returns `Some`, re-checked after every recorded change.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&MsState) -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        self.shared
            .control
            .wait_until(timeout, || check(&self.shared.state()))
            .await
    }
}
