//! The fake's search routes: `search/jql` with `nextPageToken` on Cloud (the classic
//! `search` answers 410 Gone there), the classic `search` with `startAt` on Data Center
//! (where `search/jql` is 404); both take their parameters from the query or a JSON body.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::api::{Q, Shared, error, number};
use super::jql;
use super::state::{FakeIssue, Flavour, IssueView, issue_json};

/// Search parameters from the query string or a POSTed JSON body.
fn search_params(
    method: &Method,
    query: BTreeMap<String, String>,
    body: &[u8],
) -> BTreeMap<String, String> {
    if method != Method::POST {
        return query;
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return query;
    };
    let mut params = query;
    for (key, value) in body {
        let text = match value {
            Value::String(s) => s,
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        params.insert(key, text);
    }
    params
}

/// One page of what a query matches: the issues from `start`, at most `max` of them, in the
/// query's order, and how many match in all. Records the query.
/// On Cloud a query must be bounded; the fake asks for the plugin's bound (a project and a
/// recent period), stricter than Jira, so an unbounded poll fails the tests.
/// Only the page is rendered: the state lock is held while rendering, and a query matching
/// thousands of issues must not stall every other call of a large chaos run.
fn run_query(
    shared: &Shared,
    params: &BTreeMap<String, String>,
    start: usize,
    max: usize,
) -> Result<(Vec<Value>, usize), String> {
    let jql = params.get("jql").cloned().unwrap_or_default();
    let mut state = shared.state();
    state.queries.push(jql.clone());
    let query = jql::Query::parse(&jql).map_err(|e| format!("Error in the JQL Query: {e}"))?;
    if shared.flavour == Flavour::Cloud && !query.is_bounded() {
        return Err("Unbounded JQL queries are not allowed here. Please add a search restriction to your query.".into());
    }
    let now = SystemTime::now();
    let view = IssueView::from_query(params);
    let mut hits: Vec<&FakeIssue> = state
        .issues
        .iter()
        .filter(|i| query.matches(i, now))
        .collect();
    hits.sort_by_key(|i| i.updated);
    if query.newest_first() {
        hits.reverse();
    }
    let total = hits.len();
    let page = hits
        .into_iter()
        .skip(start)
        .take(max)
        .map(|issue| issue_json(&state, issue, &view, shared.base(), shared.flavour))
        .collect();
    drop(state);
    shared.control.notify_changed();
    Ok((page, total))
}

pub(crate) async fn jql_search(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Query(query): Q,
    _headers: HeaderMap,
    body: Bytes,
) -> Response {
    if shared.flavour == Flavour::DataCenter {
        return error(StatusCode::NOT_FOUND, "No such resource.");
    }
    let params = search_params(&method, query, &body);
    let start = params
        .get("nextPageToken")
        .and_then(|t| t.strip_prefix("page-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0usize);
    let max = number(&params, "maxResults", 50).clamp(1, shared.page_size);
    let (page, total) = match run_query(&shared, &params, start, max) {
        Ok(found) => found,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let next = start + page.len();
    let mut answer = json!({ "issues": page, "isLast": next >= total });
    if next < total {
        answer["nextPageToken"] = json!(format!("page-{next}"));
    }
    Json(answer).into_response()
}

pub(crate) async fn classic_search(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Query(query): Q,
    body: Bytes,
) -> Response {
    if shared.flavour == Flavour::Cloud {
        return error(
            StatusCode::GONE,
            "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.",
        );
    }
    let params = search_params(&method, query, &body);
    let start = number(&params, "startAt", 0);
    let max = number(&params, "maxResults", 50).clamp(1, shared.page_size);
    let (page, total) = match run_query(&shared, &params, start, max) {
        Ok(found) => found,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    Json(json!({ "startAt": start, "maxResults": max, "total": total, "issues": page }))
        .into_response()
}
