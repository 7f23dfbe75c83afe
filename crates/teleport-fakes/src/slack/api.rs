//! The fake Slack Web API routes: `auth.test`, `chat.postMessage` (with `metadata`),
//! `chat.update`, `users.lookupByEmail`, the interactivity ones of `interactive.rs` and the
//! conversation reads of `history.rs`.
//!
//! Answers carry the fields slack-morphism decodes strictly (`channel`, `ts`, `message` on
//! posts and updates; `user_id`, `team_id`, `team`, `url` on `auth.test`; `user.id` on lookups).
//! API errors are HTTP 200 with `{"ok": false, "error": ...}`, as on the real Slack.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Extension, Json};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::history;
use super::interactive::{self, SocketHub};
use super::params::SlackCall;
use super::state::{MessageContent, MessageEdit, PostedMessage, SlackState};
use crate::control::{Arrival, Control, Fault, FaultLayer, fault_layer};

/// Slack's documented limits the Go plugin's fake also enforced (message text, block text).
const MAX_TEXT_CHARS: usize = 4000;
const MAX_BLOCK_TEXT_CHARS: usize = 3000;
const MAX_BLOCKS: usize = 50;

/// The identity `auth.test` reports and messages are attributed to.
pub(crate) const TEAM_ID: &str = "T0FAKE001";
pub(crate) const BOT_USER_ID: &str = "U0FAKEBOT";
const BOT_ID: &str = "B0FAKEBOT";

/// Something the fake accepted, as seen by [`FakeSlack::subscribe`](super::FakeSlack::subscribe).
#[derive(Clone, Debug)]
pub enum SlackEvent {
    /// A `chat.postMessage` was stored.
    Posted(PostedMessage),
    /// A `chat.update` was applied to `(channel, ts)`.
    Updated {
        /// Channel ID of the edited message.
        channel: String,
        /// `ts` of the edited message.
        ts: String,
        /// The new content.
        content: MessageContent,
    },
}

/// State shared by the handlers and the [`FakeSlack`](super::FakeSlack) handle.
pub(crate) struct Shared {
    pub(crate) state: Mutex<SlackState>,
    pub(crate) control: Arc<Control>,
    pub(crate) token: Mutex<String>,
    pub(crate) accept_any_channel: bool,
    pub(crate) events: broadcast::Sender<SlackEvent>,
    pub(crate) sockets: Arc<SocketHub>,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, SlackState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn check_token(&self, call: &SlackCall) -> Result<(), &'static str> {
        let expected = self.token.lock().unwrap_or_else(|e| e.into_inner());
        match &call.token {
            None => Err("not_authed"),
            Some(token) if *token == *expected => Ok(()),
            Some(_) => Err("invalid_auth"),
        }
    }

    /// Make a recorded change visible to watchers and event subscribers.
    fn publish(&self, event: SlackEvent) {
        // No subscriber is the normal case in tests.
        let _ = self.events.send(event);
        self.control.notify_changed();
    }
}

/// `{"ok": false, "error": code}` with HTTP 200, Slack's way of reporting API errors.
pub(crate) fn slack_error(code: &str) -> Response {
    Json(json!({ "ok": false, "error": code })).into_response()
}

/// A handler's outcome: the success body (without `ok`), or a Slack error code.
pub(crate) type Outcome = Result<Value, &'static str>;

pub(crate) fn reply(outcome: Outcome) -> Response {
    match outcome {
        Ok(mut body) => {
            body["ok"] = json!(true);
            Json(body).into_response()
        }
        Err(code) => slack_error(code),
    }
}

/// The Web API router under `/api/`, with fault injection in front of every method.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let layer = FaultLayer {
        control: shared.control.clone(),
        method_of: method_name,
        render: render_fault,
    };
    // slack-morphism sends GET for reads and POST for writes; Slack accepts both everywhere.
    Router::new()
        .route("/api/auth.test", any(auth_test))
        .route("/api/chat.postMessage", any(post_message))
        .route("/api/chat.update", any(update_message))
        .route("/api/users.lookupByEmail", any(lookup_by_email))
        .route("/api/users.info", any(interactive::users_info))
        .route("/api/conversations.history", any(history::history))
        .route("/api/conversations.open", any(history::open))
        .route("/api/conversations.list", any(history::list))
        .route("/api/chat.postEphemeral", any(interactive::post_ephemeral))
        .route(
            "/api/apps.connections.open",
            any(interactive::connections_open),
        )
        .route("/api/{method}", any(unknown_method))
        .layer(from_fn_with_state(layer, fault_layer))
        .with_state(shared)
}

fn method_name(request: &Request) -> String {
    let path = request.uri().path();
    path.strip_prefix("/api/").unwrap_or(path).to_owned()
}

fn render_fault(fault: &Fault) -> Response {
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({ "ok": false, "error": "ratelimited" })),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            response
        }
        Fault::ServerError { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, "fake slack: injected server error").into_response()
        }
    }
}

async fn unknown_method(State(shared): State<Arc<Shared>>, call: SlackCall) -> Response {
    reply(shared.check_token(&call).and(Err("unknown_method")))
}

async fn auth_test(State(shared): State<Arc<Shared>>, call: SlackCall) -> Response {
    reply(shared.check_token(&call).map(|()| {
        json!({
            "url": "https://fake-teleport.slack.com/",
            "team": "Fake Teleport Team",
            "user": "teleport-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": false,
        })
    }))
}

async fn lookup_by_email(State(shared): State<Arc<Shared>>, call: SlackCall) -> Response {
    reply(lookup_user(&shared, &call))
}

fn lookup_user(shared: &Shared, call: &SlackCall) -> Outcome {
    shared.check_token(call)?;
    let email = call.str("email").ok_or("invalid_arguments")?;
    let id = shared
        .state()
        .user_by_email(&email)
        .map(str::to_owned)
        .ok_or("users_not_found")?;
    let name = email.split('@').next().unwrap_or_default().to_owned();
    Ok(json!({
        "user": {
            "id": id,
            "team_id": TEAM_ID,
            "name": name,
            "deleted": false,
            "real_name": name,
            "is_bot": false,
            "profile": { "email": email, "real_name": name, "display_name": name },
        },
    }))
}

/// Reads `text` / `blocks` and enforces Slack's size limits.
fn content_of(call: &SlackCall) -> Result<MessageContent, &'static str> {
    let text = call.str("text");
    let blocks = call.blocks()?;
    if text.is_none() && blocks.is_none() {
        return Err("no_text");
    }
    if text
        .as_deref()
        .is_some_and(|t| t.chars().count() > MAX_TEXT_CHARS)
    {
        return Err("msg_too_long");
    }
    if let Some(blocks) = &blocks {
        check_blocks(blocks).map_err(|()| "invalid_blocks")?;
    }
    Ok(MessageContent { text, blocks })
}

fn check_blocks(blocks: &Value) -> Result<(), ()> {
    let blocks = blocks.as_array().ok_or(())?;
    if blocks.len() > MAX_BLOCKS {
        return Err(());
    }
    let too_long = |v: &Value| {
        v.get("text")
            .and_then(Value::as_str)
            .is_some_and(|t| t.chars().count() > MAX_BLOCK_TEXT_CHARS)
    };
    for block in blocks {
        block.get("type").and_then(Value::as_str).ok_or(())?;
        if block.get("text").is_some_and(too_long) {
            return Err(());
        }
        if let Some(Value::Array(elements)) = block.get("elements")
            && elements.iter().any(too_long)
        {
            return Err(());
        }
    }
    Ok(())
}

/// Direct-message targets: user IDs, as Slack accepts them for `channel`.
pub(crate) fn is_user_id(arg: &str) -> bool {
    let mut chars = arg.chars();
    matches!(chars.next(), Some('U' | 'W'))
        && arg.len() > 1
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn resolve_channel(shared: &Shared, state: &SlackState, arg: &str) -> Option<String> {
    if let Some(id) = state.channel_id(arg) {
        return Some(id.to_owned());
    }
    if is_user_id(arg) {
        return Some(arg.to_owned());
    }
    shared
        .accept_any_channel
        .then(|| arg.strip_prefix('#').unwrap_or(arg).to_owned())
}

pub(crate) fn message_json(message: &PostedMessage) -> Value {
    let content = message.current();
    let mut json = json!({
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "team": TEAM_ID,
        "ts": message.ts,
        "text": content.text.clone().unwrap_or_default(),
    });
    if let Some(thread_ts) = &message.thread_ts {
        json["thread_ts"] = json!(thread_ts);
    }
    if let Some(blocks) = &content.blocks {
        json["blocks"] = blocks.clone();
    }
    if let Some(metadata) = &message.metadata {
        json["metadata"] = metadata.clone();
    }
    json
}

fn arrival(at: Option<Extension<Arrival>>) -> Instant {
    at.map_or_else(Instant::now, |Extension(Arrival(at))| at)
}

async fn post_message(
    State(shared): State<Arc<Shared>>,
    at: Option<Extension<Arrival>>,
    call: SlackCall,
) -> Response {
    reply(store_post(&shared, &call, arrival(at)))
}

fn store_post(shared: &Shared, call: &SlackCall, received: Instant) -> Outcome {
    shared.check_token(call)?;
    let content = content_of(call)?;
    let mut state = shared.state();
    let channel = call
        .str("channel")
        .and_then(|arg| resolve_channel(shared, &state, &arg))
        .ok_or("channel_not_found")?;
    let thread_ts = match call.str("thread_ts") {
        None => None,
        // Replying to a reply lands in the root's thread, as on Slack. An unknown root is
        // rejected (stricter than Slack) so a bot that loses its root ts is caught.
        Some(ts) => {
            let parent = state.message(&channel, &ts).ok_or("thread_not_found")?;
            Some(parent.thread_ts.clone().unwrap_or(ts))
        }
    };
    let ts = state.next_ts();
    let message = state
        .insert(PostedMessage {
            channel: channel.clone(),
            ts: ts.clone(),
            thread_ts,
            posted: content,
            received,
            edits: Vec::new(),
            metadata: call.json("metadata")?,
        })
        .clone();
    drop(state);

    let body = json!({
        "channel": channel,
        "ts": ts,
        "message": message_json(&message),
    });
    shared.publish(SlackEvent::Posted(message));
    Ok(body)
}

async fn update_message(
    State(shared): State<Arc<Shared>>,
    at: Option<Extension<Arrival>>,
    call: SlackCall,
) -> Response {
    reply(store_update(&shared, &call, arrival(at)))
}

fn store_update(shared: &Shared, call: &SlackCall, received: Instant) -> Outcome {
    shared.check_token(call)?;
    let content = content_of(call)?;
    let mut state = shared.state();
    let channel = call
        .str("channel")
        .and_then(|arg| resolve_channel(shared, &state, &arg))
        .ok_or("channel_not_found")?;
    let ts = call.str("ts").ok_or("message_not_found")?;
    let message = state
        .message_mut(&channel, &ts)
        .ok_or("message_not_found")?;
    message.edits.push(MessageEdit {
        content: content.clone(),
        received,
    });
    let mut message_body = message_json(message);
    message_body["edited"] = json!({ "user": BOT_USER_ID, "ts": ts });
    let thread_ts = message.thread_ts.clone();
    drop(state);

    let body = json!({
        "channel": channel,
        "ts": ts,
        "thread_ts": thread_ts,
        "text": content.text.clone().unwrap_or_default(),
        "message": message_body,
    });
    shared.publish(SlackEvent::Updated {
        channel,
        ts,
        content,
    });
    Ok(body)
}
