//! The fake PagerDuty REST API v2 routes: abilities, users, escalation policies, services,
//! on-calls, incidents and notes, with PagerDuty's paging, auth and `From` rules.
//!
//! Errors have PagerDuty's shape, `{"error": {"message", "code", "errors"}}`. Creating an
//! incident whose `incident_key` matches an open incident on the same service is refused
//! with 400, as PagerDuty does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::state::{
    FakeIncident, FakeNote, FakeOnCall, FakeService, FakeUser, PagerDutyState, RecordedCall, page,
};
use crate::control::{Control, Fault, FaultLayer, fault_layer};

/// PagerDuty's default page length when `limit` is not given.
const DEFAULT_LIMIT: usize = 25;
/// Bodies larger than this are refused (PagerDuty's own limit is far lower for notes).
const MAX_BODY: usize = 1024 * 1024;

/// State shared by the handlers and the [`FakePagerDuty`](super::FakePagerDuty) handle.
pub(crate) struct Shared {
    pub(crate) state: Mutex<PagerDutyState>,
    pub(crate) control: Arc<Control>,
    pub(crate) api_key: Mutex<String>,
    pub(crate) page_size: usize,
    /// Per method: how many upcoming calls are carried out but answered with 502, as when
    /// a response is lost on the way back.
    pub(crate) lost_responses: Mutex<HashMap<String, u32>>,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, PagerDutyState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_lost_response(&self, method: &str) -> bool {
        let mut lost = self
            .lost_responses
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match lost.get_mut(method) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
}

/// A PagerDuty error answer: `{"error": {"message", "code", "errors"}}`.
pub(crate) struct ApiError {
    status: StatusCode,
    code: u32,
    message: &'static str,
    errors: Vec<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": { "message": self.message, "code": self.code, "errors": self.errors }
        });
        (self.status, Json(body)).into_response()
    }
}

fn invalid_input(error: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        code: 2001,
        message: "Invalid Input Provided",
        errors: vec![error.into()],
    }
}

fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: 2100,
        message: "Not Found",
        errors: Vec::new(),
    }
}

/// The API method name of a call: HTTP method plus the path with IDs replaced by `{id}`,
/// e.g. `POST /incidents/{id}/notes`.
pub(crate) fn method_name(request: &Request) -> String {
    let mut path = String::new();
    for (index, segment) in request
        .uri()
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        path.push('/');
        path.push_str(if index == 1 { "{id}" } else { segment });
    }
    format!(
        "{} {}",
        request.method(),
        if path.is_empty() { "/" } else { &path }
    )
}

fn render_fault(fault: &Fault) -> Response {
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            let mut response = ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: 2020,
                message: "Rate Limit Exceeded",
                errors: Vec::new(),
            }
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            response
        }
        Fault::ServerError { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, "fake pagerduty: injected server error").into_response()
        }
    }
}

/// The REST API router: recording outermost, then faults, then auth, then the routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let faults = FaultLayer {
        control: shared.control.clone(),
        method_of: method_name,
        render: render_fault,
    };
    Router::new()
        .route("/abilities", get(abilities))
        .route("/users", get(list_users))
        .route("/users/{id}", get(get_user))
        .route("/escalation_policies", get(list_policies))
        .route("/escalation_policies/{id}", get(get_policy))
        .route("/services", get(list_services))
        .route("/services/{id}", get(get_service))
        .route("/oncalls", get(list_oncalls))
        .route("/incidents", get(list_incidents).post(create_incident))
        .route("/incidents/{id}", get(get_incident).put(update_incident))
        .route("/incidents/{id}/notes", get(list_notes).post(create_note))
        .fallback(|| async { not_found().into_response() })
        .layer(from_fn_with_state(shared.clone(), gate))
        .layer(from_fn_with_state(faults, fault_layer))
        .layer(from_fn_with_state(shared.clone(), record_calls))
        .with_state(shared)
}

/// Records every call (body, `From`, answer status), faulted ones included.
async fn record_calls(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let method = method_name(&request);
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return invalid_input("request body too large").into_response();
    };
    let query = parts
        .uri
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default();
    let from = header_str(&parts.headers, "from").map(str::to_owned);
    let body_json = serde_json::from_slice::<Value>(&bytes).ok();
    let path = parts.uri.path().to_owned();
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    shared.state().calls.push(RecordedCall {
        method,
        path,
        query,
        from,
        body: body_json,
        status: response.status().as_u16(),
    });
    shared.control.notify_changed();
    response
}

/// Checks the API key, and turns the answer into a 502 when a lost response is queued.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let expected = format!(
        "Token token={}",
        shared.api_key.lock().unwrap_or_else(|e| e.into_inner())
    );
    if header_str(request.headers(), "authorization") != Some(expected.as_str()) {
        return ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: 2006,
            message: "Unauthorized",
            errors: Vec::new(),
        }
        .into_response();
    }
    let method = method_name(&request);
    let response = next.run(request).await;
    if shared.take_lost_response(&method) {
        return (StatusCode::BAD_GATEWAY, "fake pagerduty: response lost").into_response();
    }
    response
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Query parameters, with PagerDuty's `name[]` arrays.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(raw: Option<String>) -> Self {
        Self(
            raw.and_then(|q| serde_urlencoded::from_str(&q).ok())
                .unwrap_or_default(),
        )
    }

    fn one(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Values of `key[]` (and of a bare `key`, which PagerDuty also accepts).
    fn all(&self, key: &str) -> Vec<&str> {
        let bracketed = format!("{key}[]");
        self.0
            .iter()
            .filter(|(k, _)| *k == bracketed || k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn number(&self, key: &str, default: usize) -> Result<usize, ApiError> {
        match self.one(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| invalid_input(format!("{key} must be a number"))),
        }
    }

    fn query_matches(&self, fields: &[&str]) -> bool {
        match self.one("query") {
            None | Some("") => true,
            Some(q) => {
                let q = q.to_lowercase();
                fields.iter().any(|f| f.to_lowercase().contains(&q))
            }
        }
    }
}

/// A paged list answer: `{<key>: [...], limit, offset, more, total}`.
fn list_reply(shared: &Shared, params: &Params, key: &str, items: Vec<Value>) -> Response {
    let offset = match params.number("offset", 0) {
        Ok(n) => n,
        Err(error) => return error.into_response(),
    };
    let limit = match params.number("limit", DEFAULT_LIMIT) {
        Ok(n) => n,
        Err(error) => return error.into_response(),
    };
    let page = page(items, offset, limit, shared.page_size);
    let total = if params.one("total") == Some("true") {
        json!(page.total)
    } else {
        Value::Null
    };
    Json(json!({
        key: page.items,
        "limit": page.limit,
        "offset": page.offset,
        "more": page.more,
        "total": total,
    }))
    .into_response()
}

fn reference(kind: &str, id: &str, summary: &str) -> Value {
    json!({ "id": id, "type": format!("{kind}_reference"), "summary": summary })
}

fn user_json(user: &FakeUser) -> Value {
    json!({
        "id": user.id,
        "type": "user",
        "summary": user.name,
        "name": user.name,
        "email": user.email,
    })
}

fn service_json(state: &PagerDutyState, service: &FakeService) -> Value {
    let policy_name = state
        .policy(&service.escalation_policy_id)
        .map(|p| p.name.as_str())
        .unwrap_or_default();
    json!({
        "id": service.id,
        "type": "service",
        "summary": service.name,
        "name": service.name,
        "status": "active",
        "escalation_policy": reference("escalation_policy", &service.escalation_policy_id, policy_name),
    })
}

fn oncall_json(state: &PagerDutyState, oncall: &FakeOnCall) -> Value {
    let user_name = state
        .users
        .iter()
        .find(|u| u.id == oncall.user_id)
        .map(|u| u.name.as_str())
        .unwrap_or_default();
    let policy_name = state
        .policy(&oncall.escalation_policy_id)
        .map(|p| p.name.as_str())
        .unwrap_or_default();
    json!({
        "escalation_policy": reference("escalation_policy", &oncall.escalation_policy_id, policy_name),
        "escalation_level": oncall.escalation_level,
        "schedule": oncall.schedule.as_ref().map(|s| reference("schedule", &s.id, &s.name)),
        "user": reference("user", &oncall.user_id, user_name),
        "start": null,
        "end": null,
    })
}

fn incident_json(state: &PagerDutyState, incident: &FakeIncident) -> Value {
    let service_name = state
        .service(&incident.service_id)
        .map(|s| s.name.as_str())
        .unwrap_or_default();
    json!({
        "id": incident.id,
        "type": "incident",
        "summary": format!("[#{}] {}", incident.number, incident.title),
        "incident_number": incident.number,
        "title": incident.title,
        "status": incident.status,
        "incident_key": incident.incident_key,
        "service": reference("service", &incident.service_id, service_name),
        "body": { "type": "incident_body", "details": incident.details },
    })
}

fn note_json(state: &PagerDutyState, note: &FakeNote) -> Value {
    let user = state.user_by_email(&note.from);
    json!({
        "id": note.id,
        "content": note.content,
        "user": user.map(|u| reference("user", &u.id, &u.name)),
    })
}

async fn abilities() -> Response {
    Json(json!({ "abilities": ["teams", "read_only_users", "urgencies"] })).into_response()
}

async fn list_users(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let params = Params::parse(raw);
    let items = shared
        .state()
        .users
        .iter()
        .filter(|u| params.query_matches(&[&u.name, &u.email]))
        .map(user_json)
        .collect();
    list_reply(&shared, &params, "users", items)
}

async fn get_user(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match shared.state().users.iter().find(|u| u.id == id) {
        Some(user) => Json(json!({ "user": user_json(user) })).into_response(),
        None => not_found().into_response(),
    }
}

async fn list_policies(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let params = Params::parse(raw);
    let items = shared
        .state()
        .policies
        .iter()
        .filter(|p| params.query_matches(&[&p.name]))
        .map(|p| json!({ "id": p.id, "type": "escalation_policy", "summary": p.name, "name": p.name }))
        .collect();
    list_reply(&shared, &params, "escalation_policies", items)
}

async fn get_policy(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match shared.state().policy(&id) {
        Some(p) => Json(json!({
            "escalation_policy": { "id": p.id, "type": "escalation_policy", "summary": p.name, "name": p.name }
        }))
        .into_response(),
        None => not_found().into_response(),
    }
}

async fn list_services(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let params = Params::parse(raw);
    let state = shared.state();
    let items = state
        .services
        .iter()
        .filter(|s| params.query_matches(&[&s.name]))
        .map(|s| service_json(&state, s))
        .collect();
    drop(state);
    list_reply(&shared, &params, "services", items)
}

async fn get_service(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let state = shared.state();
    match state.service(&id) {
        Some(s) => Json(json!({ "service": service_json(&state, s) })).into_response(),
        None => not_found().into_response(),
    }
}

async fn list_oncalls(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let params = Params::parse(raw);
    let users = params.all("user_ids");
    let policies = params.all("escalation_policy_ids");
    let schedules = params.all("schedule_ids");
    let state = shared.state();
    let items = state
        .oncalls
        .iter()
        .filter(|o| users.is_empty() || users.contains(&o.user_id.as_str()))
        .filter(|o| policies.is_empty() || policies.contains(&o.escalation_policy_id.as_str()))
        .filter(|o| {
            schedules.is_empty()
                || o.schedule
                    .as_ref()
                    .is_some_and(|s| schedules.contains(&s.id.as_str()))
        })
        .map(|o| oncall_json(&state, o))
        .collect();
    drop(state);
    list_reply(&shared, &params, "oncalls", items)
}

async fn list_incidents(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let params = Params::parse(raw);
    let key = params.one("incident_key");
    let services = params.all("service_ids");
    let statuses = params.all("statuses");
    let state = shared.state();
    let items = state
        .incidents
        .iter()
        .filter(|i| key.is_none() || i.incident_key.as_deref() == key)
        .filter(|i| services.is_empty() || services.contains(&i.service_id.as_str()))
        .filter(|i| statuses.is_empty() || statuses.contains(&i.status.as_str()))
        .map(|i| incident_json(&state, i))
        .collect();
    drop(state);
    list_reply(&shared, &params, "incidents", items)
}

async fn get_incident(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let state = shared.state();
    match state.incident(&id) {
        Some(i) => Json(json!({ "incident": incident_json(&state, i) })).into_response(),
        None => not_found().into_response(),
    }
}

/// The `From` header must name an existing user, as PagerDuty requires on these writes.
fn requester(state: &PagerDutyState, headers: &HeaderMap) -> Result<String, ApiError> {
    let from = header_str(headers, "from").unwrap_or_default();
    if from.is_empty() || state.user_by_email(from).is_none() {
        return Err(invalid_input(
            "The From header must be the e-mail address of a valid PagerDuty user",
        ));
    }
    Ok(from.to_owned())
}

fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|_| invalid_input("body is not JSON"))
}

async fn create_incident(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = store_incident(&shared, &headers, &body);
    shared.control.notify_changed();
    match outcome {
        Ok(incident) => {
            (StatusCode::CREATED, Json(json!({ "incident": incident }))).into_response()
        }
        Err(error) => error.into_response(),
    }
}

fn store_incident(shared: &Shared, headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    let body = json_body(body)?;
    let mut state = shared.state();
    let from = requester(&state, headers)?;
    let incident = body
        .get("incident")
        .ok_or_else(|| invalid_input("incident is required"))?;
    let title = incident
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if title.is_empty() {
        return Err(invalid_input("Title cannot be empty"));
    }
    let service_id = incident
        .pointer("/service/id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if state.service(&service_id).is_none() {
        return Err(invalid_input("Service not found"));
    }
    let incident_key = incident
        .get("incident_key")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    if let Some(key) = &incident_key
        && state.incidents.iter().any(|i| {
            i.is_open() && i.service_id == service_id && i.incident_key.as_ref() == Some(key)
        })
    {
        return Err(invalid_input(format!(
            "Open incident with key '{key}' already exists on this service"
        )));
    }
    let id = state.new_id("I");
    let number = state.incidents.len() as u64 + 1;
    let created = FakeIncident {
        id,
        number,
        title: title.to_owned(),
        status: "triggered".to_owned(),
        incident_key,
        service_id,
        details: incident
            .pointer("/body/details")
            .and_then(Value::as_str)
            .map(str::to_owned),
        created_by: from,
        notes: Vec::new(),
        status_changes: Vec::new(),
    };
    let json = incident_json(&state, &created);
    state.incidents.push(created);
    Ok(json)
}

async fn update_incident(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = (|| -> Result<Value, ApiError> {
        let body = json_body(&body)?;
        let mut state = shared.state();
        let from = requester(&state, &headers)?;
        let status = body
            .pointer("/incident/status")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !["acknowledged", "resolved"].contains(&status.as_str()) {
            return Err(invalid_input("Status must be acknowledged or resolved"));
        }
        let incident = state.incident_mut(&id).ok_or_else(not_found)?;
        incident.status = status.clone();
        incident.status_changes.push((status, from));
        let incident = incident.clone();
        Ok(incident_json(&state, &incident))
    })();
    shared.control.notify_changed();
    match outcome {
        Ok(incident) => Json(json!({ "incident": incident })).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn list_notes(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let state = shared.state();
    match state.incident(&id) {
        Some(i) => {
            let notes: Vec<Value> = i.notes.iter().map(|n| note_json(&state, n)).collect();
            Json(json!({ "notes": notes })).into_response()
        }
        None => not_found().into_response(),
    }
}

async fn create_note(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = (|| -> Result<Value, ApiError> {
        let body = json_body(&body)?;
        let mut state = shared.state();
        let from = requester(&state, &headers)?;
        let content = body
            .pointer("/note/content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if content.is_empty() {
            return Err(invalid_input("Content cannot be empty"));
        }
        let note_id = state.new_id("N");
        let incident = state.incident_mut(&id).ok_or_else(not_found)?;
        let note = FakeNote {
            id: note_id,
            content,
            from,
        };
        incident.notes.push(note.clone());
        Ok(note_json(&state, &note))
    })();
    shared.control.notify_changed();
    match outcome {
        Ok(note) => (StatusCode::CREATED, Json(json!({ "note": note }))).into_response(),
        Err(error) => error.into_response(),
    }
}
