//! Fake Mattermost REST API v4 on loopback: users, teams, channels, memberships, posts.
//!
//! Only the calls the access-request plugin makes are served, with Mattermost's shapes:
//! errors are `{id, message, detailed_error, request_id, status_code}`, a missing or wrong
//! token is 401, posting where the bot is not a member is 403, and unknown objects are 404.
//! Calls are counted under `"<METHOD> <route>"`, e.g. `"POST /api/v4/posts"`, so tests can
//! fault one route with [`Control::fail_next_for`].

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::control::{Control, Fault, FaultLayer, WaitTimeout, fault_layer};
use crate::server::LoopbackServer;

/// A Mattermost user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MmUser {
    /// User ID.
    pub id: String,
    /// Login name.
    pub username: String,
    /// E-mail address (`users/email/{email}` finds the user by it, ignoring case).
    pub email: String,
}

/// A team.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MmTeam {
    /// Team ID.
    pub id: String,
    /// The URL slug (`teams/name/{name}`).
    pub name: String,
    /// The name people see.
    pub display_name: String,
    /// Member user IDs.
    pub members: Vec<String>,
}

/// A channel: open (`O`), private (`P`) or direct (`D`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MmChannel {
    /// Channel ID.
    pub id: String,
    /// The team's ID; empty for direct channels.
    pub team_id: String,
    /// The URL slug.
    pub name: String,
    /// The name people see.
    pub display_name: String,
    /// `O`, `P` or `D`.
    pub kind: String,
    /// Member user IDs.
    pub members: Vec<String>,
}

/// A stored post with its edit history.
#[derive(Clone, Debug, PartialEq)]
pub struct MmPost {
    /// Post ID.
    pub id: String,
    /// The channel it is in.
    pub channel_id: String,
    /// The thread root's ID for replies, empty for roots.
    pub root_id: String,
    /// The text as first posted.
    pub message: String,
    /// Every later `PUT posts/{id}` text, oldest first.
    pub edits: Vec<String>,
    /// When the post reached the fake.
    pub received: Instant,
}

impl MmPost {
    /// The text after the latest edit.
    pub fn current(&self) -> &str {
        self.edits.last().unwrap_or(&self.message)
    }
}

/// Everything the fake remembers, for [`FakeMattermost::wait_for`] predicates.
#[derive(Debug, Default)]
pub struct MmState {
    /// Users, the bot first.
    pub users: Vec<MmUser>,
    /// Teams.
    pub teams: Vec<MmTeam>,
    /// Channels, direct ones included.
    pub channels: Vec<MmChannel>,
    /// Posts in posting order.
    pub posts: Vec<MmPost>,
    next_id: u64,
}

impl MmState {
    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:024}", self.next_id)
    }

    /// Root posts in posting order.
    pub fn roots(&self) -> impl Iterator<Item = &MmPost> {
        self.posts.iter().filter(|p| p.root_id.is_empty())
    }

    /// Replies to `root_id`, in posting order.
    pub fn replies<'a>(&'a self, root_id: &'a str) -> impl Iterator<Item = &'a MmPost> {
        self.posts.iter().filter(move |p| p.root_id == root_id)
    }

    /// The post with this ID.
    pub fn post(&self, id: &str) -> Option<&MmPost> {
        self.posts.iter().find(|p| p.id == id)
    }

    /// The direct channel between two users, if one was opened.
    pub fn direct_channel(&self, a: &str, b: &str) -> Option<&MmChannel> {
        self.channels.iter().find(|c| {
            c.kind == "D" && c.members.iter().any(|m| m == a) && c.members.iter().any(|m| m == b)
        })
    }
}

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

struct Shared {
    state: Mutex<MmState>,
    control: Arc<Control>,
    token: Mutex<String>,
    bot_id: String,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, MmState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn authorize(&self, headers: &HeaderMap) -> Result<(), MmError> {
        let expected = self.token.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        if given == Some(expected.as_str()) {
            Ok(())
        } else {
            Err(mm_error(
                StatusCode::UNAUTHORIZED,
                "api.context.session_expired.app_error",
                "Invalid or expired session, please login again.",
            ))
        }
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
        let state = MmState {
            users,
            teams: options.teams,
            channels: options.channels,
            ..MmState::default()
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            control: Arc::new(Control::new()),
            token: Mutex::new(options.token),
            bot_id: options.bot.id,
        });
        let server = LoopbackServer::start(options.listen, router(shared.clone())).await?;
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

fn router(shared: Arc<Shared>) -> Router {
    let layer = FaultLayer {
        control: shared.control.clone(),
        method_of: route_name,
        render: render_fault,
    };
    Router::new()
        .route("/api/v4/users/me", get(get_me))
        .route("/api/v4/users/email/{email}", get(user_by_email))
        .route("/api/v4/users/{user}/teams", get(teams_of_user))
        .route(
            "/api/v4/users/{user}/teams/{team}/channels",
            get(channels_of_user),
        )
        .route("/api/v4/teams/name/{name}", get(team_by_name))
        .route("/api/v4/teams/{team}/members/{user}", get(team_member))
        .route(
            "/api/v4/teams/{team}/channels/name/{name}",
            get(channel_by_name),
        )
        .route(
            "/api/v4/teams/name/{team}/channels/name/{name}",
            get(channel_by_team_and_name),
        )
        .route(
            "/api/v4/channels/{channel}/members/{user}",
            get(channel_member),
        )
        .route("/api/v4/channels/direct", post(direct_channel))
        .route("/api/v4/posts", post(create_post))
        .route("/api/v4/posts/{post}", put(update_post))
        .fallback(not_found_route)
        .layer(from_fn_with_state(layer, fault_layer))
        .with_state(shared)
}

fn route_name(request: &Request) -> String {
    let path = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_owned(),
        |m| m.as_str().to_owned(),
    );
    format!("{} {path}", request.method())
}

/// A Mattermost API error answer.
struct MmError {
    status: StatusCode,
    id: &'static str,
    message: String,
}

impl IntoResponse for MmError {
    fn into_response(self) -> Response {
        let body = json!({
            "id": self.id,
            "message": self.message,
            "detailed_error": "",
            "request_id": "fakerequest",
            "status_code": self.status.as_u16(),
        });
        (self.status, Json(body)).into_response()
    }
}

fn mm_error(status: StatusCode, id: &'static str, message: &str) -> MmError {
    MmError {
        status,
        id,
        message: message.to_owned(),
    }
}

fn not_found(what: &str) -> MmError {
    mm_error(
        StatusCode::NOT_FOUND,
        "app.fake.not_found.app_error",
        &format!("Unable to find the {what}."),
    )
}

fn forbidden() -> MmError {
    mm_error(
        StatusCode::FORBIDDEN,
        "api.context.permissions.app_error",
        "You do not have the appropriate permissions.",
    )
}

fn render_fault(fault: &Fault) -> Response {
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            let mut response = mm_error(
                StatusCode::TOO_MANY_REQUESTS,
                "api.context.rate_limit.app_error",
                "Too many requests.",
            )
            .into_response();
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            headers.insert("X-Ratelimit-Reset", HeaderValue::from(*retry_after_secs));
            headers.insert("X-Ratelimit-Remaining", HeaderValue::from(0));
            response
        }
        Fault::ServerError { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            mm_error(
                status,
                "app.fake.injected.app_error",
                "Injected server error.",
            )
            .into_response()
        }
    }
}

fn user_json(user: &MmUser) -> Value {
    json!({ "id": user.id, "username": user.username, "email": user.email, "delete_at": 0 })
}

fn team_json(team: &MmTeam) -> Value {
    json!({ "id": team.id, "name": team.name, "display_name": team.display_name, "type": "O" })
}

fn channel_json(channel: &MmChannel) -> Value {
    json!({
        "id": channel.id,
        "team_id": channel.team_id,
        "name": channel.name,
        "display_name": channel.display_name,
        "type": channel.kind,
    })
}

fn post_json(post: &MmPost) -> Value {
    json!({
        "id": post.id,
        "channel_id": post.channel_id,
        "root_id": post.root_id,
        "message": post.current(),
        "create_at": 1_700_000_000_000u64,
    })
}

/// `me` means the caller (the bot).
fn user_id<'a>(shared: &'a Shared, user: &'a str) -> &'a str {
    if user == "me" { &shared.bot_id } else { user }
}

type Reply = Result<Response, MmError>;

async fn not_found_route() -> MmError {
    not_found("route")
}

async fn get_me(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Reply {
    shared.authorize(&headers)?;
    let state = shared.state();
    let me = state.users.iter().find(|u| u.id == shared.bot_id);
    Ok(Json(me.map(user_json)).into_response())
}

async fn user_by_email(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(email): Path<String>,
) -> Reply {
    shared.authorize(&headers)?;
    let state = shared.state();
    let user = state
        .users
        .iter()
        .find(|u| u.email.eq_ignore_ascii_case(&email))
        .ok_or_else(|| not_found("user"))?;
    Ok(Json(user_json(user)).into_response())
}

async fn teams_of_user(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> Reply {
    shared.authorize(&headers)?;
    let user = user_id(&shared, &user);
    let state = shared.state();
    let teams: Vec<Value> = state
        .teams
        .iter()
        .filter(|t| t.members.iter().any(|m| m == user))
        .map(team_json)
        .collect();
    Ok(Json(teams).into_response())
}

async fn channels_of_user(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((user, team)): Path<(String, String)>,
) -> Reply {
    shared.authorize(&headers)?;
    let user = user_id(&shared, &user);
    let state = shared.state();
    let channels: Vec<Value> = state
        .channels
        .iter()
        .filter(|c| c.team_id == team && c.members.iter().any(|m| m == user))
        .map(channel_json)
        .collect();
    Ok(Json(channels).into_response())
}

async fn team_by_name(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Reply {
    shared.authorize(&headers)?;
    let state = shared.state();
    let team = state
        .teams
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| not_found("team"))?;
    Ok(Json(team_json(team)).into_response())
}

async fn team_member(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((team, user)): Path<(String, String)>,
) -> Reply {
    shared.authorize(&headers)?;
    let user = user_id(&shared, &user);
    let state = shared.state();
    let team = state
        .teams
        .iter()
        .find(|t| t.id == team)
        .ok_or_else(|| not_found("team"))?;
    if !team.members.iter().any(|m| m == user) {
        return Err(not_found("team member"));
    }
    Ok(Json(json!({ "team_id": team.id, "user_id": user })).into_response())
}

async fn channel_by_name(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((team, name)): Path<(String, String)>,
) -> Reply {
    shared.authorize(&headers)?;
    let state = shared.state();
    let channel = state
        .channels
        .iter()
        .find(|c| c.team_id == team && c.name == name)
        .ok_or_else(|| not_found("channel"))?;
    Ok(Json(channel_json(channel)).into_response())
}

async fn channel_by_team_and_name(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((team, name)): Path<(String, String)>,
) -> Reply {
    shared.authorize(&headers)?;
    let state = shared.state();
    let team = state
        .teams
        .iter()
        .find(|t| t.name == team)
        .ok_or_else(|| not_found("team"))?;
    let channel = state
        .channels
        .iter()
        .find(|c| c.team_id == team.id && c.name == name)
        .ok_or_else(|| not_found("channel"))?;
    Ok(Json(channel_json(channel)).into_response())
}

async fn channel_member(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((channel, user)): Path<(String, String)>,
) -> Reply {
    shared.authorize(&headers)?;
    let user = user_id(&shared, &user);
    let state = shared.state();
    let channel = state
        .channels
        .iter()
        .find(|c| c.id == channel)
        .ok_or_else(|| not_found("channel"))?;
    if !channel.members.iter().any(|m| m == user) {
        return Err(not_found("channel member"));
    }
    Ok(Json(json!({ "channel_id": channel.id, "user_id": user })).into_response())
}

async fn direct_channel(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Option<Json<Vec<String>>>,
) -> Reply {
    shared.authorize(&headers)?;
    let Some(Json(ids)) = body.filter(|Json(ids)| ids.len() == 2) else {
        return Err(mm_error(
            StatusCode::BAD_REQUEST,
            "api.context.invalid_body_param.app_error",
            "Invalid or missing user_ids in request body.",
        ));
    };
    let mut state = shared.state();
    if ids
        .iter()
        .any(|id| !state.users.iter().any(|u| &u.id == id))
    {
        return Err(not_found("user"));
    }
    if !ids.contains(&shared.bot_id) {
        return Err(forbidden());
    }
    if let Some(existing) = state.direct_channel(&ids[0], &ids[1]) {
        return Ok(Json(channel_json(existing)).into_response());
    }
    let channel = MmChannel {
        id: state.new_id("dm"),
        team_id: String::new(),
        name: format!("{}__{}", ids[0], ids[1]),
        display_name: String::new(),
        kind: "D".to_owned(),
        members: ids,
    };
    let body = channel_json(&channel);
    state.channels.push(channel);
    drop(state);
    shared.control.notify_changed();
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(serde::Deserialize)]
struct PostBody {
    #[serde(default)]
    id: String,
    #[serde(default)]
    channel_id: String,
    #[serde(default)]
    root_id: String,
    #[serde(default)]
    message: String,
}

fn bad_body() -> MmError {
    mm_error(
        StatusCode::BAD_REQUEST,
        "api.context.invalid_body_param.app_error",
        "Invalid or missing post in request body.",
    )
}

async fn create_post(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Option<Json<PostBody>>,
) -> Reply {
    shared.authorize(&headers)?;
    let Json(body) = body.ok_or_else(bad_body)?;
    if body.message.is_empty() {
        return Err(bad_body());
    }
    let mut state = shared.state();
    let channel = state
        .channels
        .iter()
        .find(|c| c.id == body.channel_id)
        .ok_or_else(|| not_found("channel"))?;
    if !channel.members.iter().any(|m| *m == shared.bot_id) {
        return Err(forbidden());
    }
    if !body.root_id.is_empty()
        && state
            .post(&body.root_id)
            .is_none_or(|root| root.channel_id != body.channel_id)
    {
        return Err(mm_error(
            StatusCode::BAD_REQUEST,
            "api.post.create_post.root_id.app_error",
            "Invalid RootId parameter.",
        ));
    }
    let post = MmPost {
        id: state.new_id("post"),
        channel_id: body.channel_id,
        root_id: body.root_id,
        message: body.message,
        edits: Vec::new(),
        received: Instant::now(),
    };
    let reply = post_json(&post);
    state.posts.push(post);
    drop(state);
    shared.control.notify_changed();
    Ok((StatusCode::CREATED, Json(reply)).into_response())
}

async fn update_post(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<PostBody>>,
) -> Reply {
    shared.authorize(&headers)?;
    let Json(body) = body.ok_or_else(bad_body)?;
    if body.id != id || body.message.is_empty() {
        return Err(bad_body());
    }
    let mut state = shared.state();
    let post = state
        .posts
        .iter_mut()
        .find(|p| p.id == id)
        .ok_or_else(|| not_found("post"))?;
    post.edits.push(body.message);
    let reply = post_json(post);
    drop(state);
    shared.control.notify_changed();
    Ok(Json(reply).into_response())
}
