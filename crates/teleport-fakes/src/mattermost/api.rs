//! The fake Mattermost's routes: users, teams, channels, direct channels, posts.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::state::{MmChannel, MmPost, MmState, MmTeam, MmUser};
use crate::control::{Control, Fault, FaultLayer, fault_layer};

/// State shared by the handlers and the [`FakeMattermost`](super::FakeMattermost) handle.
pub(crate) struct Shared {
    pub(crate) state: Mutex<MmState>,
    pub(crate) control: Arc<Control>,
    pub(crate) token: Mutex<String>,
    pub(crate) bot_id: String,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, MmState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn authorize(&self, headers: &HeaderMap) -> Result<(), MmError> {
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

/// The API router, with fault injection in front of every route.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
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
        .route(
            "/api/v4/channels/{channel}/posts",
            get(super::history::channel_posts),
        )
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
pub(super) struct MmError {
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

pub(super) fn mm_error(status: StatusCode, id: &'static str, message: &str) -> MmError {
    MmError {
        status,
        id,
        message: message.to_owned(),
    }
}

pub(super) fn not_found(what: &str) -> MmError {
    mm_error(
        StatusCode::NOT_FOUND,
        "app.fake.not_found.app_error",
        &format!("Unable to find the {what}."),
    )
}

pub(super) fn forbidden() -> MmError {
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

pub(super) fn post_json(post: &MmPost) -> Value {
    json!({
        "id": post.id,
        "channel_id": post.channel_id,
        "root_id": post.root_id,
        "message": post.current(),
        "create_at": post.create_at,
        "props": post.props,
    })
}

/// `me` means the caller (the bot).
fn user_id<'a>(shared: &'a Shared, user: &'a str) -> &'a str {
    if user == "me" { &shared.bot_id } else { user }
}

pub(super) type Reply = Result<Response, MmError>;

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
    #[serde(default)]
    props: serde_json::Map<String, Value>,
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
        create_at: super::state::unix_millis_now(),
        props: body.props,
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
