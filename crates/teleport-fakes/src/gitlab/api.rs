//! The fake GitLab's router and what every route shares: auth, errors, query and body
//! parameters, paging headers, timestamps and common JSON shapes.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use super::state::{GitlabState, GlLabel, GlUser, access};
use super::{issues, project};
use crate::control::{Control, Fault, FaultLayer, fault_layer};

/// GitLab's default and largest `per_page`.
const DEFAULT_PER_PAGE: usize = 20;
const MAX_PER_PAGE: usize = 100;

/// State shared by the handlers and the [`FakeGitlab`](super::FakeGitlab) handle.
pub(crate) struct Shared {
    pub(crate) state: Mutex<GitlabState>,
    pub(crate) control: Arc<Control>,
    pub(crate) token: Mutex<String>,
    /// The user the token belongs to.
    pub(crate) bot_id: u64,
    /// The longest page any list returns, whatever `per_page` asks for.
    pub(crate) page_size: usize,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, GitlabState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `PRIVATE-TOKEN: <token>` or `Authorization: Bearer <token>`, as GitLab accepts.
    pub(crate) fn authorize(&self, headers: &HeaderMap) -> Result<(), GlError> {
        let expected = self.token.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let private = headers.get("PRIVATE-TOKEN").and_then(|v| v.to_str().ok());
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token);
        if private.or(bearer) == Some(expected.as_str()) && !expected.is_empty() {
            Ok(())
        } else {
            Err(message(StatusCode::UNAUTHORIZED, "401 Unauthorized"))
        }
    }

    /// The token owner's access level in the project.
    pub(crate) fn bot_access(&self, state: &GitlabState) -> u8 {
        state
            .members
            .iter()
            .find(|m| m.user_id == self.bot_id)
            .map_or(access::NONE, |m| m.access_level)
    }

    /// Refuses with 403 when the token owner's role is below `level`.
    pub(crate) fn require(&self, state: &GitlabState, level: u8) -> Result<(), GlError> {
        if self.bot_access(state) >= level {
            Ok(())
        } else {
            Err(message(StatusCode::FORBIDDEN, "403 Forbidden"))
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
        .merge(project::routes())
        .merge(issues::routes())
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

/// A GitLab error answer: `{"message": ...}` (or `{"error": ...}` for missing parameters).
pub(crate) struct GlError {
    status: StatusCode,
    body: Value,
}

impl IntoResponse for GlError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// A validation failure: `{"message": {"<field>": ["<problem>"]}}`.
pub(crate) fn validation(status: StatusCode, field: &str, problem: &str) -> GlError {
    GlError {
        status,
        body: json!({ "message": { field: [problem] } }),
    }
}

pub(crate) fn message(status: StatusCode, text: &str) -> GlError {
    GlError {
        status,
        body: json!({ "message": text }),
    }
}

/// `400 {"error": "<param> is missing"}`, GitLab's answer to a missing required parameter.
pub(crate) fn missing(param: &str) -> GlError {
    GlError {
        status: StatusCode::BAD_REQUEST,
        body: json!({ "error": format!("{param} is missing") }),
    }
}

/// `400 {"error": "<param> is invalid"}`.
pub(crate) fn invalid(param: &str) -> GlError {
    GlError {
        status: StatusCode::BAD_REQUEST,
        body: json!({ "error": format!("{param} is invalid") }),
    }
}

pub(crate) fn not_found(what: &str) -> GlError {
    message(StatusCode::NOT_FOUND, &format!("404 {what} Not Found"))
}

fn render_fault(fault: &Fault) -> Response {
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            // GitLab's rack-attack throttle answers in plain text.
            let mut response = (StatusCode::TOO_MANY_REQUESTS, "Retry later\n").into_response();
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            headers.insert("RateLimit-Limit", HeaderValue::from(600));
            headers.insert("RateLimit-Remaining", HeaderValue::from(0));
            response
        }
        Fault::ServerError { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let text = format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("Error")
            );
            message(status, &text).into_response()
        }
    }
}

async fn not_found_route() -> GlError {
    message(StatusCode::NOT_FOUND, "404 Not Found")
}

pub(crate) type Reply = Result<Response, GlError>;

/// GitLab's timestamp form: UTC with milliseconds, `2018-08-20T13:38:20.077Z`.
pub(crate) fn timestamp(at: OffsetDateTime) -> String {
    let layout =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.to_offset(time::UtcOffset::UTC)
        .format(&layout)
        .unwrap_or_default()
}

/// Query parameters in order, repeated keys kept (`iids[]=1&iids[]=2`).
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Self(serde_urlencoded::from_str(raw.unwrap_or_default()).unwrap_or_default())
    }

    /// Every value given for `key`, in order.
    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn one(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, key: &str, default: usize) -> Result<usize, GlError> {
        match self.one(key) {
            None | Some("") => Ok(default),
            Some(text) => text.parse().map_err(|_| invalid(key)),
        }
    }
}

/// Reads a JSON body (GitLab also takes forms; the plugin sends JSON).
pub(crate) fn json_body(bytes: &[u8]) -> Result<Map<String, Value>, GlError> {
    if bytes.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(message(StatusCode::BAD_REQUEST, "400 Bad request")),
    }
}

/// A string field, or `None` when absent or null.
pub(crate) fn text_field(body: &Map<String, Value>, key: &str) -> Option<String> {
    match body.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A boolean field (`true`, `"true"`), or `default`.
pub(crate) fn bool_field(body: &Map<String, Value>, key: &str, default: bool) -> bool {
    match body.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => default,
    }
}

/// A list of names given as `"a,b"` or `["a", "b"]`.
pub(crate) fn names_field(body: &Map<String, Value>, key: &str) -> Option<Vec<String>> {
    let names: Vec<String> = match body.get(key)? {
        Value::String(s) => s.split(',').map(str::to_owned).collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => return None,
    };
    Some(
        names
            .into_iter()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .collect(),
    )
}

/// One page of `items` with GitLab's paging headers (`Link` with `rel="next"` and the
/// others, `X-Page`, `X-Per-Page`, `X-Total`, ...). Links point back at this fake through
/// the request's `Host`.
pub(crate) fn paged(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    params: &Params,
    items: Vec<Value>,
) -> Reply {
    let page = params.number("page", 1)?.max(1);
    let per_page = params
        .number("per_page", DEFAULT_PER_PAGE)?
        .clamp(1, MAX_PER_PAGE)
        .min(shared.page_size.max(1));
    let total = items.len();
    let pages = total.div_ceil(per_page).max(1);
    let shown: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let link = |n: usize| {
        let mut pairs: Vec<(String, String)> = params
            .0
            .iter()
            .filter(|(k, _)| k != "page" && k != "per_page")
            .cloned()
            .collect();
        pairs.push(("page".into(), n.to_string()));
        pairs.push(("per_page".into(), per_page.to_string()));
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("<http://{host}{}?{query}>", uri.path())
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link(page - 1)));
    }
    if page < pages {
        links.push(format!("{}; rel=\"next\"", link(page + 1)));
    }
    links.push(format!("{}; rel=\"first\"", link(1)));
    links.push(format!("{}; rel=\"last\"", link(pages)));

    let mut response = Json(shown).into_response();
    let out = response.headers_mut();
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            out.insert(name, value);
        }
    };
    put("link", links.join(", "));
    put("x-page", page.to_string());
    put("x-per-page", per_page.to_string());
    put("x-total", total.to_string());
    put("x-total-pages", pages.to_string());
    put(
        "x-next-page",
        if page < pages {
            (page + 1).to_string()
        } else {
            String::new()
        },
    );
    put(
        "x-prev-page",
        if page > 1 {
            (page - 1).to_string()
        } else {
            String::new()
        },
    );
    Ok(response)
}

/// Checks that `project` (a numeric ID or the URL-decoded `group/project` path) names the
/// fake's project.
pub(crate) fn check_project(state: &GitlabState, project: &str) -> Result<(), GlError> {
    let by_id = project.parse::<u64>().ok() == Some(state.project_id);
    if by_id || project == state.project_path {
        Ok(())
    } else {
        Err(not_found("Project"))
    }
}

pub(crate) fn user_json(base: &str, user: &GlUser) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "state": "active",
        "locked": false,
        "avatar_url": format!("{base}/uploads/-/system/user/avatar/{}/avatar.png", user.id),
        "web_url": format!("{base}/{}", user.username),
    })
}

pub(crate) fn label_json(label: &GlLabel) -> Value {
    json!({
        "id": label.id,
        "name": label.name,
        "color": label.color,
        "text_color": "#FFFFFF",
        "description": label.description,
        "description_html": label.description,
        "priority": null,
        "is_project_label": true,
        "subscribed": false,
    })
}

/// The server's own URL as the client reached it.
pub(crate) fn base_of(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}
