//! The Bot Framework's connector calls the plugin makes: post an activity with an adaptive
//! card to a conversation (201 `{id}`), and replace it (200).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::api::{BOT_SCOPE, MsError, Shared, ms_error};
use super::state::{CardVersion, MsActivity};

type Reply = Result<Response, MsError>;

/// The adaptive card of a message activity, checked as the connector would.
fn card_of(body: Option<Json<Value>>) -> Result<CardVersion, MsError> {
    let bad = |why: &str| ms_error(StatusCode::BAD_REQUEST, "BadArgument", why);
    let Some(Json(activity)) = body else {
        return Err(bad("The activity must be JSON."));
    };
    if activity.get("type").and_then(Value::as_str) != Some("message") {
        return Err(bad("Activity type must be 'message'."));
    }
    let attachment = activity
        .pointer("/attachments/0")
        .ok_or_else(|| bad("The activity has no attachment."))?;
    if attachment.get("contentType").and_then(Value::as_str)
        != Some("application/vnd.microsoft.card.adaptive")
    {
        return Err(bad("Unknown attachment content type."));
    }
    let card = attachment.get("content").cloned().unwrap_or(Value::Null);
    if card.get("type").and_then(Value::as_str) != Some("AdaptiveCard") {
        return Err(bad("The attachment is not an adaptive card."));
    }
    Ok(CardVersion { card, activity })
}

fn unknown_conversation() -> MsError {
    ms_error(
        StatusCode::NOT_FOUND,
        "ConversationNotFound",
        "Conversation not found.",
    )
}

/// `POST {region}/v3/conversations/{conversation}/activities/`.
pub(crate) async fn post_activity(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((region, conversation)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Reply {
    shared.authorize(&headers, BOT_SCOPE)?;
    let version = card_of(body)?;
    let mut state = shared.state();
    if !state.conversation_known(&conversation) {
        return Err(unknown_conversation());
    }
    let id = state.new_id("1700000000");
    let created = state.next_created();
    state.activities.push(MsActivity {
        id: id.clone(),
        conversation,
        region,
        posted: version,
        updates: Vec::new(),
        received: Instant::now(),
        created,
        modified: created,
    });
    drop(state);
    shared.control.notify_changed();
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

/// `PUT {region}/v3/conversations/{conversation}/activities/{activity}`.
pub(crate) async fn update_activity(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((_region, conversation, id)): Path<(String, String, String)>,
    body: Option<Json<Value>>,
) -> Reply {
    shared.authorize(&headers, BOT_SCOPE)?;
    let version = card_of(body)?;
    let mut state = shared.state();
    if !state.conversation_known(&conversation) {
        return Err(unknown_conversation());
    }
    let activity = state
        .activities
        .iter_mut()
        .find(|a| a.id == id && a.conversation == conversation)
        .ok_or_else(|| {
            ms_error(
                StatusCode::NOT_FOUND,
                "ActivityNotFound",
                "Activity not found.",
            )
        })?;
    activity.updates.push(version);
    activity.modified = SystemTime::now().max(activity.modified);
    drop(state);
    shared.control.notify_changed();
    Ok(Json(json!({ "id": id })).into_response())
}
