//! The fake Discord's routes: the bot user, a channel, posting and editing messages.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::state::{DcContent, DcMessage, DcState};
use crate::control::{Control, Fault, FaultLayer, fault_layer};

/// Discord's limits on a message (documented; answered with 400 `Invalid Form Body` beyond).
const CONTENT_LIMIT: usize = 2000;
const EMBEDS_LIMIT: usize = 10;
const EMBED_TITLE_LIMIT: usize = 256;
const EMBED_DESCRIPTION_LIMIT: usize = 4096;
const EMBED_AUTHOR_LIMIT: usize = 256;
const EMBEDS_TOTAL_LIMIT: usize = 6000;

/// A queued sub-second 429: route, calls left, wait.
type PreciseLimit = (String, u32, Duration);

/// State shared by the handlers and the [`FakeDiscord`](super::FakeDiscord) handle.
pub(crate) struct Shared {
    pub(crate) state: Mutex<DcState>,
    pub(crate) control: Arc<Control>,
    pub(crate) token: Mutex<String>,
    pub(crate) bot_id: String,
    pub(crate) bot_name: String,
    pub(crate) precise_limits: Mutex<VecDeque<PreciseLimit>>,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, DcState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn precise_limits(&self) -> MutexGuard<'_, VecDeque<PreciseLimit>> {
        self.precise_limits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn authorize(&self, headers: &HeaderMap) -> Result<(), DcError> {
        let expected = self.token.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bot "));
        if given == Some(expected.as_str()) {
            Ok(())
        } else {
            Err(dc_error(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized"))
        }
    }

    /// Takes one queued sub-second 429 for `route`, if any.
    fn take_precise_limit(&self, route: &str) -> Option<Duration> {
        let mut queue = self.precise_limits();
        let index = queue.iter().position(|(r, _, _)| r == route)?;
        let wait = queue[index].2;
        queue[index].1 -= 1;
        if queue[index].1 == 0 {
            queue.remove(index);
        }
        Some(wait)
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
        .route("/api/v10/users/@me", get(get_me))
        .route("/api/v10/channels/{channel}", get(get_channel))
        .route(
            "/api/v10/channels/{channel}/messages",
            axum::routing::post(create_message).get(super::history::list_messages),
        )
        .route(
            "/api/v10/channels/{channel}/messages/{message}",
            patch(edit_message),
        )
        .fallback(not_found_route)
        // Inner layer: runs after the shared fault layer has counted the call.
        .layer(from_fn_with_state(shared.clone(), precise_rate_limit))
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

async fn precise_rate_limit(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    match shared.take_precise_limit(&route_name(&request)) {
        Some(wait) => rate_limited(wait),
        None => next.run(request).await,
    }
}

/// A Discord API error answer: `{message, code}`.
pub(super) struct DcError {
    status: StatusCode,
    code: u32,
    message: String,
}

impl IntoResponse for DcError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "message": self.message, "code": self.code })),
        )
            .into_response()
    }
}

pub(super) fn dc_error(status: StatusCode, code: u32, message: &str) -> DcError {
    DcError {
        status,
        code,
        message: message.to_owned(),
    }
}

fn invalid_form_body(why: &str) -> DcError {
    dc_error(
        StatusCode::BAD_REQUEST,
        50035,
        &format!("Invalid Form Body ({why})"),
    )
}

/// Discord's 429: whole seconds in `Retry-After`, milliseconds in `X-RateLimit-Reset-After`
/// and the JSON `retry_after`.
fn rate_limited(wait: Duration) -> Response {
    let seconds = wait.as_secs_f64();
    let body = json!({
        "message": "You are being rate limited.",
        "retry_after": seconds,
        "global": false,
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    let headers = response.headers_mut();
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    headers.insert(header::RETRY_AFTER, HeaderValue::from(whole));
    if let Ok(value) = HeaderValue::from_str(&format!("{seconds:.3}")) {
        headers.insert("X-RateLimit-Reset-After", value);
    }
    headers.insert("X-RateLimit-Limit", HeaderValue::from(5));
    headers.insert("X-RateLimit-Remaining", HeaderValue::from(0));
    headers.insert("X-RateLimit-Bucket", HeaderValue::from_static("fakebucket"));
    headers.insert("X-RateLimit-Scope", HeaderValue::from_static("user"));
    response
}

fn render_fault(fault: &Fault) -> Response {
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            rate_limited(Duration::from_secs(*retry_after_secs))
        }
        Fault::ServerError { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            dc_error(status, 0, "Injected server error.").into_response()
        }
    }
}

pub(super) fn message_json(message: &DcMessage, bot_id: &str, bot_name: &str) -> Value {
    let current = message.current();
    json!({
        "id": message.id,
        "type": 0,
        "channel_id": message.channel_id,
        "content": current.content,
        "embeds": current.embeds,
        "author": { "id": bot_id, "username": bot_name, "bot": true },
        "timestamp": "2026-01-02T15:04:05.000000+00:00",
        "edited_timestamp": if message.edits.is_empty() { Value::Null } else { json!("2026-01-02T15:05:00.000000+00:00") },
    })
}

pub(super) type Reply = Result<Response, DcError>;

async fn not_found_route() -> DcError {
    dc_error(StatusCode::NOT_FOUND, 0, "404: Not Found")
}

async fn get_me(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Reply {
    shared.authorize(&headers)?;
    let me = json!({
        "id": shared.bot_id,
        "username": shared.bot_name,
        "discriminator": "0",
        "bot": true,
    });
    Ok(Json(me).into_response())
}

/// The channel, if the bot may use it.
pub(super) fn visible_channel(state: &DcState, id: &str) -> Result<Value, DcError> {
    let channel = state
        .channels
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| dc_error(StatusCode::NOT_FOUND, 10003, "Unknown Channel"))?;
    if !channel.bot_access {
        return Err(dc_error(StatusCode::FORBIDDEN, 50001, "Missing Access"));
    }
    Ok(
        json!({ "id": channel.id, "type": 0, "name": channel.name, "guild_id": "900000000000000001" }),
    )
}

async fn get_channel(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(channel): Path<String>,
) -> Reply {
    shared.authorize(&headers)?;
    let state = shared.state();
    Ok(Json(visible_channel(&state, &channel)?).into_response())
}

/// `content` and `embeds` of a message body, checked against Discord's limits.
fn content_of(body: Option<Json<Value>>) -> Result<DcContent, DcError> {
    let Some(Json(body)) = body else {
        return Err(invalid_form_body("not JSON"));
    };
    let content = body
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let embeds = match body.get("embeds") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(embeds)) => embeds.clone(),
        Some(_) => return Err(invalid_form_body("embeds must be an array")),
    };
    if content.chars().count() > CONTENT_LIMIT {
        return Err(invalid_form_body("content longer than 2000"));
    }
    if embeds.len() > EMBEDS_LIMIT {
        return Err(invalid_form_body("more than 10 embeds"));
    }
    let length = |embed: &Value, pointer: &str| {
        embed
            .pointer(pointer)
            .and_then(Value::as_str)
            .map_or(0, |s| s.chars().count())
    };
    let mut total = 0;
    for embed in &embeds {
        let (title, description, author) = (
            length(embed, "/title"),
            length(embed, "/description"),
            length(embed, "/author/name"),
        );
        if title > EMBED_TITLE_LIMIT
            || description > EMBED_DESCRIPTION_LIMIT
            || author > EMBED_AUTHOR_LIMIT
        {
            return Err(invalid_form_body("embed field too long"));
        }
        total += title + description + author;
    }
    if total > EMBEDS_TOTAL_LIMIT {
        return Err(invalid_form_body("embeds longer than 6000 in total"));
    }
    if content.is_empty() && embeds.is_empty() {
        return Err(dc_error(
            StatusCode::BAD_REQUEST,
            50006,
            "Cannot send an empty message",
        ));
    }
    Ok(DcContent { content, embeds })
}

async fn create_message(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(channel): Path<String>,
    body: Option<Json<Value>>,
) -> Reply {
    shared.authorize(&headers)?;
    let content = content_of(body)?;
    let mut state = shared.state();
    visible_channel(&state, &channel)?;
    let message = DcMessage {
        id: state.new_id(),
        channel_id: channel,
        posted: content,
        edits: Vec::new(),
        received: Instant::now(),
    };
    let reply = message_json(&message, &shared.bot_id, &shared.bot_name);
    state.messages.push(message);
    drop(state);
    shared.control.notify_changed();
    Ok(Json(reply).into_response())
}

async fn edit_message(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((channel, id)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Reply {
    shared.authorize(&headers)?;
    let content = content_of(body)?;
    let mut state = shared.state();
    visible_channel(&state, &channel)?;
    let message = state
        .messages
        .iter_mut()
        .find(|m| m.id == id && m.channel_id == channel)
        .ok_or_else(|| dc_error(StatusCode::NOT_FOUND, 10008, "Unknown Message"))?;
    message.edits.push(content);
    let reply = message_json(message, &shared.bot_id, &shared.bot_name);
    drop(state);
    shared.control.notify_changed();
    Ok(Json(reply).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_discords() {
        let long = "x".repeat(CONTENT_LIMIT + 1);
        assert!(content_of(Some(Json(json!({ "content": long })))).is_err());
        let eleven: Vec<Value> = (0..11).map(|_| json!({ "title": "t" })).collect();
        assert!(content_of(Some(Json(json!({ "content": "a", "embeds": eleven })))).is_err());
        assert!(content_of(Some(Json(json!({})))).is_err());
        let ok = content_of(Some(Json(
            json!({ "content": "a", "embeds": [{ "title": "t", "author": { "name": "bob" } }] }),
        )))
        .map_err(|e| e.message);
        assert_eq!(ok.map(|c| c.embeds.len()), Ok(1));
    }
}
