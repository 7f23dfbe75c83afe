//! The fake Jira REST API v2 routes the plugin uses: myself, project, mypermissions, issues
//! (create, get, comments, transitions) and search — `search/jql` with `nextPageToken` on
//! Cloud (where the classic `search` answers 410 Gone), the classic `search` with `startAt`
//! on Data Center. Basic auth with the configured user and API token on every call; errors
//! in Jira's shape, `{"errorMessages": [...], "errors": {...}}`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use serde_json::{Value, json};

use super::search;
use super::state::{
    FakeIssue, Flavour, IssueView, JiraState, comment_json, issue_json, transitions_json, user_json,
};
use crate::control::{Control, Fault, FaultLayer, fault_layer};

/// State shared by the handlers and the [`FakeJira`](super::FakeJira) handle.
pub(crate) struct Shared {
    pub(crate) state: Mutex<JiraState>,
    pub(crate) control: Arc<Control>,
    pub(crate) credentials: Mutex<(String, String)>,
    pub(crate) flavour: Flavour,
    pub(crate) page_size: usize,
    pub(crate) base_url: OnceLock<String>,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, JiraState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn base(&self) -> &str {
        self.base_url.get().map_or("", String::as_str)
    }
}

pub(crate) type Q = Query<BTreeMap<String, String>>;

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "errorMessages": [message.into()], "errors": {} })),
    )
        .into_response()
}

fn field_error(field: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "errorMessages": [], "errors": { field: message } })),
    )
        .into_response()
}

fn no_issue() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "Issue does not exist or you do not have permission to see it.",
    )
}

/// `GET /issue/{id}/comment`, `POST /search/jql`, ...: the path under `rest/api/2` with IDs
/// replaced.
pub(crate) fn method_name(request: &Request) -> String {
    let path = request.uri().path();
    let path = path.strip_prefix("/rest/api/2").unwrap_or(path);
    let mut out = String::new();
    let mut previous = "";
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(if matches!(previous, "issue" | "project") {
            "{id}"
        } else {
            segment
        });
        previous = segment;
    }
    format!(
        "{} {}",
        request.method(),
        if out.is_empty() { "/" } else { &out }
    )
}

fn render_fault(fault: &Fault) -> Response {
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded.");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            response
        }
        Fault::ServerError { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, "fake jira: injected server error").into_response()
        }
    }
}

/// The REST router: faults first (they count every call), then auth, then the routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/rest/api/2/myself", get(myself))
        .route("/rest/api/2/project/{key}", get(project))
        .route("/rest/api/2/mypermissions", get(permissions))
        .route("/rest/api/2/issue", axum::routing::post(create_issue))
        .route("/rest/api/2/issue/{id}", get(get_issue))
        .route(
            "/rest/api/2/issue/{id}/comment",
            get(list_comments).post(add_comment),
        )
        .route(
            "/rest/api/2/issue/{id}/transitions",
            get(list_transitions).post(transition),
        )
        .route(
            "/rest/api/2/search",
            get(search::classic_search).post(search::classic_search),
        )
        .route(
            "/rest/api/2/search/jql",
            get(search::jql_search).post(search::jql_search),
        )
        .fallback(|| async { error(StatusCode::NOT_FOUND, "No such resource.") })
        .layer(from_fn_with_state(shared.clone(), basic_auth))
        .with_state(shared.clone());
    api.layer(from_fn_with_state(
        FaultLayer {
            control: shared.control.clone(),
            method_of: method_name,
            render: render_fault,
        },
        fault_layer,
    ))
}

async fn basic_auth(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let (user, token) = shared
        .credentials
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"));
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    if given == Some(expected.as_str()) {
        next.run(request).await
    } else {
        error(
            StatusCode::UNAUTHORIZED,
            "Client must be authenticated to access this resource.",
        )
    }
}

fn granted(state: &JiraState, permission: &str) -> bool {
    state.permissions.get(permission).copied().unwrap_or(false)
}

async fn myself(State(shared): State<Arc<Shared>>) -> Response {
    let state = shared.state();
    Json(user_json(&state.bot, shared.flavour)).into_response()
}

async fn project(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> Response {
    let state = shared.state();
    if !key.eq_ignore_ascii_case(&state.project) || !granted(&state, "BROWSE_PROJECTS") {
        return error(
            StatusCode::NOT_FOUND,
            format!("No project could be found with key '{key}'."),
        );
    }
    let types: Vec<Value> = state
        .issue_types
        .iter()
        .map(|t| json!({ "name": t }))
        .collect();
    Json(json!({
        "id": "10000",
        "key": state.project,
        "name": format!("{} project", state.project),
        "issueTypes": types,
    }))
    .into_response()
}

async fn permissions(State(shared): State<Arc<Shared>>, Query(query): Q) -> Response {
    let state = shared.state();
    if query
        .get("projectKey")
        .is_some_and(|k| !k.eq_ignore_ascii_case(&state.project))
    {
        return error(StatusCode::NOT_FOUND, "No project could be found.");
    }
    let Some(asked) = query.get("permissions") else {
        return error(
            StatusCode::BAD_REQUEST,
            "The permissions parameter is required.",
        );
    };
    let mut map = serde_json::Map::new();
    for key in asked.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        map.insert(
            key.to_owned(),
            json!({ "key": key, "name": key, "type": "PROJECT", "havePermission": granted(&state, key) }),
        );
    }
    Json(json!({ "permissions": map })).into_response()
}

async fn create_issue(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Ok(input) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Unexpected character in the request body.",
        );
    };
    let mut state = shared.state();
    if !granted(&state, "CREATE_ISSUES") {
        return error(
            StatusCode::FORBIDDEN,
            "You do not have permission to create issues in this project.",
        );
    }
    let fields = &input["fields"];
    if !fields["project"]["key"]
        .as_str()
        .is_some_and(|k| k.eq_ignore_ascii_case(&state.project))
    {
        return field_error("project", "valid project is required");
    }
    let issue_type = fields["issuetype"]["name"].as_str().unwrap_or_default();
    if !state.issue_types.iter().any(|t| t == issue_type) {
        return field_error("issuetype", "Specify an issue type");
    }
    let summary = fields["summary"].as_str().unwrap_or_default();
    if summary.is_empty() {
        return field_error("summary", "You must specify a summary of the issue.");
    }
    let properties = input["properties"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|p| Some((p["key"].as_str()?.to_owned(), p["value"].clone())))
                .collect()
        })
        .unwrap_or_default();
    let id = state.next_id();
    let key = format!("{}-{}", state.project, state.issues.len() + 1);
    let now = state.tick();
    let issue = FakeIssue {
        id: id.clone(),
        key: key.clone(),
        project: state.project.clone(),
        issue_type: issue_type.to_owned(),
        summary: summary.to_owned(),
        description: fields["description"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        status: "Pending".into(),
        properties,
        comments: Vec::new(),
        changelog: Vec::new(),
        updated: now,
    };
    state.issues.push(issue);
    drop(state);
    shared.control.notify_changed();
    let link = format!("{}/rest/api/2/issue/{id}", shared.base());
    (
        StatusCode::CREATED,
        Json(json!({ "id": id, "key": key, "self": link })),
    )
        .into_response()
}

async fn get_issue(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Q,
) -> Response {
    let state = shared.state();
    let Some(issue) = state
        .issue(&id)
        .filter(|_| granted(&state, "BROWSE_PROJECTS"))
    else {
        return no_issue();
    };
    let view = IssueView::from_query(&query);
    Json(issue_json(
        &state,
        issue,
        &view,
        shared.base(),
        shared.flavour,
    ))
    .into_response()
}

pub(crate) fn number(query: &BTreeMap<String, String>, key: &str, default: usize) -> usize {
    query
        .get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn list_comments(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Q,
) -> Response {
    let state = shared.state();
    let Some(issue) = state.issue(&id) else {
        return no_issue();
    };
    let mut comments: Vec<_> = issue.comments.iter().collect();
    if query.get("orderBy").is_some_and(|o| o == "-created") {
        comments.reverse();
    }
    let start = number(&query, "startAt", 0);
    let max = number(&query, "maxResults", 50).clamp(1, shared.page_size);
    let page: Vec<Value> = comments
        .iter()
        .skip(start)
        .take(max)
        .map(|c| comment_json(c, shared.flavour))
        .collect();
    Json(json!({ "startAt": start, "maxResults": max, "total": comments.len(), "comments": page }))
        .into_response()
}

async fn add_comment(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(text) = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["body"].as_str().map(str::to_owned))
    else {
        return field_error("comment", "Comment body can not be empty!");
    };
    let mut state = shared.state();
    if !granted(&state, "ADD_COMMENTS") {
        return error(
            StatusCode::FORBIDDEN,
            "You do not have the permission to comment on this issue.",
        );
    }
    let bot = state.bot.clone();
    let Some(comment) = state.add_comment(&id, &bot, &text) else {
        return no_issue();
    };
    drop(state);
    shared.control.notify_changed();
    (
        StatusCode::CREATED,
        Json(comment_json(&comment, shared.flavour)),
    )
        .into_response()
}

async fn list_transitions(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let state = shared.state();
    let Some(issue) = state.issue(&id) else {
        return no_issue();
    };
    Json(json!({ "transitions": transitions_json(&state, issue) })).into_response()
}

async fn transition(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let wanted = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["transition"]["id"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut state = shared.state();
    if !granted(&state, "TRANSITION_ISSUES") {
        return error(
            StatusCode::FORBIDDEN,
            "You do not have permission to transition this issue.",
        );
    }
    let Some(issue) = state.issue(&id) else {
        return no_issue();
    };
    let target = state
        .workflow
        .transitions
        .iter()
        .find(|(tid, _, to)| *tid == wanted && !to.eq_ignore_ascii_case(&issue.status))
        .map(|(_, _, to)| to.clone());
    let Some(target) = target else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("Transition id '{wanted}' is not valid for this issue."),
        );
    };
    let bot = state.bot.clone();
    state.move_issue(&id, &target, &bot);
    drop(state);
    shared.control.notify_changed();
    StatusCode::NO_CONTENT.into_response()
}
