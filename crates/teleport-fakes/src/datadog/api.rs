//! The fake Datadog's routes: permissions, incidents (create, search, timeline cells,
//! update) and the unstable On-Call teams listing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::search::{Page, SearchQuery};
use super::state::{DdIncident, DdState};
use crate::control::{Control, Fault, FaultLayer, fault_layer};

/// State shared by the handlers and the [`FakeDatadog`](super::FakeDatadog) handle.
pub(crate) struct Shared {
    pub(crate) state: Mutex<DdState>,
    pub(crate) control: Arc<Control>,
    pub(crate) api_key: String,
    pub(crate) application_key: String,
    /// Creates still to be stored but answered 504, as when a proxy gives up on a slow
    /// answer after Datadog processed the call.
    pub(crate) lost_answers: AtomicU32,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, DdState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Datadog answers a missing or wrong key with 403, not 401.
    fn authorize(&self, headers: &HeaderMap) -> Result<(), DdError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if header("DD-API-KEY") == Some(self.api_key.as_str())
            && header("DD-APPLICATION-KEY") == Some(self.application_key.as_str())
        {
            Ok(())
        } else {
            Err(dd_error(StatusCode::FORBIDDEN, "Forbidden"))
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
        .route("/api/v2/permissions", get(permissions))
        .route("/api/v2/incidents", post(create_incident))
        .route("/api/v2/incidents/search", get(search_incidents))
        .route("/api/v2/incidents/{incident}", patch(update_incident))
        .route("/api/v2/incidents/{incident}/timeline", post(add_cell))
        .route("/api/unstable/on-call/teams", get(on_call_teams))
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

/// A Datadog error answer: `{"errors": [message]}`.
struct DdError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for DdError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "errors": [self.message] }))).into_response()
    }
}

fn dd_error(status: StatusCode, message: &str) -> DdError {
    DdError {
        status,
        message: message.to_owned(),
    }
}

fn render_fault(fault: &Fault) -> Response {
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            let mut response =
                dd_error(StatusCode::TOO_MANY_REQUESTS, "Too many requests").into_response();
            let headers = response.headers_mut();
            headers.insert("X-RateLimit-Limit", HeaderValue::from(100));
            headers.insert("X-RateLimit-Period", HeaderValue::from(60));
            headers.insert("X-RateLimit-Remaining", HeaderValue::from(0));
            headers.insert("X-RateLimit-Reset", HeaderValue::from(*retry_after_secs));
            headers.insert("X-RateLimit-Name", HeaderValue::from_static("incidents"));
            response
        }
        Fault::ServerError { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            dd_error(status, "Internal Server Error").into_response()
        }
    }
}

type Reply = Result<Response, DdError>;

async fn not_found_route() -> DdError {
    dd_error(StatusCode::NOT_FOUND, "Not found")
}

async fn permissions(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Reply {
    shared.authorize(&headers)?;
    let state = shared.state();
    let names = ["incident_read", "incident_write", "incident_settings_write"];
    let data: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            json!({
                "type": "permissions",
                "id": format!("perm-{i}"),
                "attributes": {
                    "name": name,
                    "display_name": name,
                    "restricted": state.restricted.iter().any(|r| r == name),
                },
            })
        })
        .collect();
    Ok(Json(json!({ "data": data })).into_response())
}

fn incident_json(incident: &DdIncident) -> Value {
    let handles: Vec<Value> = incident
        .notification_handles
        .iter()
        .map(|h| json!({ "handle": h }))
        .collect();
    json!({
        "data": {
            "id": incident.id,
            "type": "incidents",
            "attributes": {
                "title": incident.title,
                "fields": incident.fields,
                "notification_handles": handles,
            },
        }
    })
}

/// `data.type` must be `expected`, as Datadog checks.
fn data_of(body: Option<Json<Value>>, expected: &str) -> Result<Value, DdError> {
    let Some(Json(body)) = body else {
        return Err(dd_error(StatusCode::BAD_REQUEST, "Invalid JSON body"));
    };
    let data = body.get("data").cloned().unwrap_or(Value::Null);
    if data.get("type").and_then(Value::as_str) != Some(expected) {
        return Err(dd_error(
            StatusCode::BAD_REQUEST,
            &format!("data.type must be {expected}"),
        ));
    }
    Ok(data)
}

async fn create_incident(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Reply {
    shared.authorize(&headers)?;
    let data = data_of(body, "incidents")?;
    let attributes = data.get("attributes").cloned().unwrap_or(Value::Null);
    let title = attributes
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if title.trim().is_empty() {
        return Err(dd_error(StatusCode::BAD_REQUEST, "title is required"));
    }
    let handles = attributes
        .get("notification_handles")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|h| h.get("handle").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let mut state = shared.state();
    let incident = DdIncident {
        id: state.new_id(),
        title: title.to_owned(),
        fields: attributes
            .get("fields")
            .cloned()
            .unwrap_or_else(|| json!({})),
        notification_handles: handles,
        timeline: Vec::new(),
    };
    let body = incident_json(&incident);
    state.incidents.push(incident);
    drop(state);
    shared.control.notify_changed();
    let lost = shared
        .lost_answers
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if lost {
        return Err(dd_error(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout"));
    }
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /api/v2/incidents/search`: the incidents matching `query` (see [`SearchQuery`]),
/// in creation order or newest first, one page of them, each under `data` as Datadog's
/// search answers have them.
async fn search_incidents(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Reply {
    shared.authorize(&headers)?;
    let bad_request = |message: String| dd_error(StatusCode::BAD_REQUEST, &message);
    let query = params
        .get("query")
        .ok_or_else(|| bad_request("query is required".into()))?;
    let query = SearchQuery::parse(query).map_err(bad_request)?;
    let page = Page::of(&params).map_err(bad_request)?;
    let state = shared.state();
    let mut hits: Vec<&DdIncident> = state
        .incidents
        .iter()
        .filter(|i| query.matches(i))
        .collect();
    if page.newest_first {
        hits.reverse();
    }
    let total = hits.len();
    let incidents: Vec<Value> = hits
        .into_iter()
        .skip(page.offset)
        .take(page.size)
        .map(incident_json)
        .collect();
    let next_offset = page.offset + incidents.len();
    Ok(Json(json!({
        "data": {
            "type": "incidents_search_results",
            "attributes": { "facets": {}, "incidents": incidents, "total": total },
        },
        "meta": {
            "pagination": { "offset": page.offset, "size": page.size, "next_offset": next_offset },
        },
    }))
    .into_response())
}

async fn update_incident(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Reply {
    shared.authorize(&headers)?;
    let data = data_of(body, "incidents")?;
    let fields = data
        .pointer("/attributes/fields")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut state = shared.state();
    let incident = state
        .incidents
        .iter_mut()
        .find(|i| i.id == id)
        .ok_or_else(|| dd_error(StatusCode::NOT_FOUND, "Incident not found"))?;
    if let Some(stored) = incident.fields.as_object_mut() {
        stored.extend(fields);
    }
    let body = incident_json(incident);
    drop(state);
    shared.control.notify_changed();
    Ok(Json(body).into_response())
}

async fn add_cell(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Reply {
    shared.authorize(&headers)?;
    let data = data_of(body, "incident_timeline_cells")?;
    if data
        .pointer("/attributes/cell_type")
        .and_then(Value::as_str)
        != Some("markdown")
    {
        return Err(dd_error(
            StatusCode::BAD_REQUEST,
            "cell_type must be markdown",
        ));
    }
    let content = data
        .pointer("/attributes/content/content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if content.trim().is_empty() {
        return Err(dd_error(StatusCode::BAD_REQUEST, "content is required"));
    }
    let mut state = shared.state();
    let cell_id = state.new_id();
    let incident = state
        .incidents
        .iter_mut()
        .find(|i| i.id == id)
        .ok_or_else(|| dd_error(StatusCode::NOT_FOUND, "Incident not found"))?;
    incident.timeline.push(content.clone());
    drop(state);
    shared.control.notify_changed();
    let body = json!({
        "data": {
            "id": cell_id,
            "type": "incident_timeline_cells",
            "attributes": { "cell_type": "markdown", "content": { "content": content } },
        }
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn on_call_teams(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Reply {
    shared.authorize(&headers)?;
    let state = shared.state();
    let user_id = |email: &str| format!("user-{email}");
    let data: Vec<Value> = state
        .teams
        .iter()
        .map(|team| {
            let users: Vec<Value> = team
                .on_call
                .iter()
                .map(|email| json!({ "id": user_id(email), "type": "users" }))
                .collect();
            json!({
                "id": team.id,
                "type": "teams",
                "attributes": { "name": team.name, "handle": team.handle },
                "relationships": { "oncall_users": { "data": users } },
            })
        })
        .collect();
    let mut emails: Vec<&String> = state.teams.iter().flat_map(|t| &t.on_call).collect();
    emails.sort();
    emails.dedup();
    let included: Vec<Value> = emails
        .into_iter()
        .map(|email| {
            json!({
                "id": user_id(email),
                "type": "users",
                "attributes": { "email": email, "name": email },
            })
        })
        .collect();
    Ok(Json(json!({ "data": data, "included": included })).into_response())
}
