//! `GET /api/v10/channels/{channel.id}/messages?after=<snowflake>&limit=<1..100>`: a
//! channel's messages newer than a snowflake, as documented (newest first, at most `limit`,
//! default 50), so a plugin can look for a request message it made but never recorded.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::Value;

use super::api::{Reply, Shared, dc_error, message_json, visible_channel};

/// Discord's default and largest `limit`.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 100;

/// The query this fake serves: `after` and `limit` (`before`/`around` are not modelled).
#[derive(serde::Deserialize)]
pub(super) struct AfterQuery {
    after: Option<String>,
    limit: Option<String>,
}

/// The channel's messages with IDs above `after` (0 when absent), newest first.
pub(super) async fn list_messages(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(channel): Path<String>,
    Query(query): Query<AfterQuery>,
) -> Reply {
    shared.authorize(&headers)?;
    let invalid = || dc_error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body");
    let after = match query.after.as_deref() {
        None => 0,
        Some(text) => text.parse::<u64>().map_err(|_| invalid())?,
    };
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(invalid)?,
    };
    let state = shared.state();
    visible_channel(&state, &channel)?;
    let mut newer: Vec<_> = state
        .in_channel(&channel)
        .filter(|m| m.id.parse::<u64>().is_ok_and(|id| id > after))
        .collect();
    newer.sort_by_key(|m| std::cmp::Reverse(m.id.parse::<u64>().unwrap_or_default()));
    // Discord answers the `limit` messages right after `after`, newest first.
    let keep = newer.len().saturating_sub(limit);
    let page: Vec<Value> = newer[keep..]
        .iter()
        .map(|m| message_json(m, &shared.bot_id, &shared.bot_name))
        .collect();
    Ok(Json(page).into_response())
}
