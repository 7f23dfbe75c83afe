//! `GET /api/v4/channels/{channel_id}/posts`: a channel's posts as documented, either a
//! page (`page`, `per_page`: default 60, at most 200) or those changed since a time
//! (`since`, at most 1 000), `order` newest first and `posts` by ID, so a plugin can look
//! for a request post it made but never recorded.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::api::{MmError, Reply, Shared, forbidden, mm_error, not_found, post_json};

/// Mattermost's cap on one `since` answer.
const SINCE_LIMIT: usize = 1_000;

/// Mattermost's default and largest `per_page`.
const DEFAULT_PER_PAGE: usize = 60;
const MAX_PER_PAGE: usize = 200;

/// `since`, or `page` and `per_page` (`before`/`after` are not modelled).
#[derive(serde::Deserialize)]
pub(super) struct PostsQuery {
    since: Option<String>,
    page: Option<String>,
    per_page: Option<String>,
}

/// The channel's posts created at or after `since` (this fake never moves `update_at`
/// past `create_at`, so "modified since" is "created since"), or one page of them.
pub(super) async fn channel_posts(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(channel): Path<String>,
    Query(query): Query<PostsQuery>,
) -> Reply {
    shared.authorize(&headers)?;
    let number = |text: Option<&str>, default: usize| match text {
        None => Some(default),
        Some(text) => text.parse::<usize>().ok(),
    };
    let (since, page, per_page) = match (
        query.since.as_deref(),
        number(query.page.as_deref(), 0),
        number(query.per_page.as_deref(), DEFAULT_PER_PAGE),
    ) {
        (Some(since), _, _) => match since.parse::<u64>() {
            Ok(since) => (since, 0, SINCE_LIMIT),
            Err(_) => return Err(invalid()),
        },
        (None, Some(page), Some(per_page)) => (0, page, per_page.min(MAX_PER_PAGE)),
        _ => return Err(invalid()),
    };
    let state = shared.state();
    let found = state
        .channels
        .iter()
        .find(|c| c.id == channel)
        .ok_or_else(|| not_found("channel"))?;
    if !found.members.iter().any(|m| *m == shared.bot_id) {
        return Err(forbidden());
    }
    let mut posts: Vec<_> = state
        .posts
        .iter()
        .filter(|p| p.channel_id == channel && p.create_at >= since)
        .collect();
    // Stored in posting order: newest first is that order reversed.
    posts.reverse();
    let posts: Vec<_> = posts
        .into_iter()
        .skip(page.saturating_mul(per_page))
        .take(per_page)
        .collect();
    let order: Vec<&str> = posts.iter().map(|p| p.id.as_str()).collect();
    let by_id: Map<String, Value> = posts.iter().map(|p| (p.id.clone(), post_json(p))).collect();
    Ok(Json(json!({ "order": order, "posts": by_id })).into_response())
}

fn invalid() -> MmError {
    mm_error(
        StatusCode::BAD_REQUEST,
        "api.context.invalid_url_param.app_error",
        "Invalid or missing parameter in request URL.",
    )
}
