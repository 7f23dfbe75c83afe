//! The fake ServiceNow's routes: incidents (create, update, the health check's listing),
//! users, and who is on call in a rota.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::state::{SnIncident, SnState};
use crate::control::{Control, Fault, FaultLayer, fault_layer};

/// State shared by the handlers and the [`FakeServiceNow`](super::FakeServiceNow) handle.
pub(crate) struct Shared {
    pub(crate) state: Mutex<SnState>,
    pub(crate) control: Arc<Control>,
    pub(crate) username: String,
    pub(crate) api_token: String,
    /// Creates still to be stored but answered 504, as when a proxy gives up on a slow
    /// instance after it processed the call.
    pub(crate) lost_answers: AtomicU32,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, SnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn authorize(&self, headers: &HeaderMap) -> Result<(), SnError> {
        let decoded = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok());
        let expected = format!("{}:{}", self.username, self.api_token);
        if decoded.as_deref() == Some(expected.as_str()) {
            Ok(())
        } else {
            Err(sn_error(
                StatusCode::UNAUTHORIZED,
                "User Not Authenticated",
                "Required to provide Auth information",
            ))
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
        .route("/api/now/table/incident", get(list_incidents))
        .route("/api/now/v1/table/incident", post(create_incident))
        .route(
            "/api/now/v1/table/incident/{sys_id}",
            patch(update_incident),
        )
        .route("/api/now/table/sys_user/{sys_id}", get(get_user))
        .route("/api/now/on_call_rota/whoisoncall", get(who_is_on_call))
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

/// A ServiceNow error answer: `{"error": {"message", "detail"}, "status": "failure"}`.
struct SnError {
    status: StatusCode,
    message: String,
    detail: String,
}

impl IntoResponse for SnError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({
                "error": { "message": self.message, "detail": self.detail },
                "status": "failure",
            })),
        )
            .into_response()
    }
}

fn sn_error(status: StatusCode, message: &str, detail: &str) -> SnError {
    SnError {
        status,
        message: message.to_owned(),
        detail: detail.to_owned(),
    }
}

fn render_fault(fault: &Fault) -> Response {
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            let mut response = sn_error(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit exceeded",
                "The rate limit for this user has been exceeded",
            )
            .into_response();
            let headers = response.headers_mut();
            headers.insert("X-RateLimit-Limit", HeaderValue::from(60));
            headers.insert("X-RateLimit-Remaining", HeaderValue::from(0));
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            response
        }
        Fault::ServerError { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            sn_error(status, "Internal Server Error", "").into_response()
        }
    }
}

type Reply = Result<Response, SnError>;

async fn not_found_route() -> SnError {
    sn_error(
        StatusCode::BAD_REQUEST,
        "Requested URI does not represent any resource",
        "",
    )
}

fn no_record() -> SnError {
    sn_error(
        StatusCode::NOT_FOUND,
        "No Record found",
        "Record doesn't exist or ACL restricts the record retrieval",
    )
}

/// The record as ServiceNow answers it (the fields the fake keeps).
fn incident_json(incident: &SnIncident) -> Value {
    json!({
        "sys_id": incident.sys_id,
        "number": incident.number,
        "short_description": incident.short_description,
        "description": incident.description,
        "caller_id": incident.caller_id,
        "correlation_id": incident.correlation_id,
        "assigned_to": incident.assigned_to,
        "incident_state": incident.incident_state,
        "close_code": incident.close_code,
        "close_notes": incident.close_notes,
    })
}

/// `GET /api/now/table/incident?sysparm_limit=N[&sysparm_query=correlation_id=…][&sysparm_fields=…]`:
/// incidents, oldest first.
async fn list_incidents(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Reply {
    shared.authorize(&headers)?;
    let limit = match query.get("sysparm_limit") {
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| sn_error(StatusCode::BAD_REQUEST, "Invalid sysparm_limit", text))?,
        None => 10_000,
    };
    // The one encoded query the plugin sends: `correlation_id=<value>`.
    let wanted = match query.get("sysparm_query") {
        None => None,
        Some(q) => Some(q.strip_prefix("correlation_id=").ok_or_else(|| {
            sn_error(
                StatusCode::BAD_REQUEST,
                "the fake reads correlation_id=<value> only",
                q,
            )
        })?),
    };
    let fields: Option<Vec<&str>> = query
        .get("sysparm_fields")
        .map(|f| f.split(',').map(str::trim).collect());
    let state = shared.state();
    let rows: Vec<Value> = state
        .incidents
        .iter()
        .filter(|i| wanted.is_none_or(|w| i.correlation_id == w))
        .take(limit)
        .map(|i| {
            let mut row = incident_json(i);
            if let (Some(fields), Value::Object(map)) = (&fields, &mut row) {
                map.retain(|k, _| fields.contains(&k.as_str()));
            }
            row
        })
        .collect();
    Ok(Json(json!({ "result": rows })).into_response())
}

/// A JSON object body whose values are strings (what the Table API reads).
fn fields(body: Option<Json<Value>>) -> Result<Map<String, Value>, SnError> {
    let invalid = || {
        sn_error(
            StatusCode::BAD_REQUEST,
            "Exception while reading request",
            "The payload is not valid JSON.",
        )
    };
    let Some(Json(Value::Object(map))) = body else {
        return Err(invalid());
    };
    if map.values().any(|v| !v.is_string()) {
        return Err(invalid());
    }
    Ok(map)
}

fn text(map: &Map<String, Value>, key: &str) -> String {
    map.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

async fn create_incident(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Reply {
    shared.authorize(&headers)?;
    let map = fields(body)?;
    let mut state = shared.state();
    let sys_id = state.new_id();
    let incident = SnIncident {
        number: format!("INC{:07}", 10_001 + state.incidents.len()),
        sys_id,
        short_description: text(&map, "short_description"),
        description: text(&map, "description"),
        caller_id: text(&map, "caller_id"),
        correlation_id: text(&map, "correlation_id"),
        assigned_to: text(&map, "assigned_to"),
        incident_state: "1".to_owned(),
        ..SnIncident::default()
    };
    let answer = incident_json(&incident);
    state.incidents.push(incident);
    drop(state);
    shared.control.notify_changed();
    let lost = shared
        .lost_answers
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if lost {
        return Err(sn_error(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout", ""));
    }
    Ok((StatusCode::CREATED, Json(json!({ "result": answer }))).into_response())
}

async fn update_incident(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(sys_id): Path<String>,
    body: Option<Json<Value>>,
) -> Reply {
    shared.authorize(&headers)?;
    let map = fields(body)?;
    let mut state = shared.state();
    let incident = state
        .incidents
        .iter_mut()
        .find(|i| i.sys_id == sys_id)
        .ok_or_else(no_record)?;
    let new_state = text(&map, "incident_state");
    // ServiceNow's data policy: resolving or closing needs the close code and notes.
    if matches!(new_state.as_str(), "6" | "7")
        && (text(&map, "close_code").is_empty() || text(&map, "close_notes").is_empty())
    {
        return Err(sn_error(
            StatusCode::FORBIDDEN,
            "Operation Failed",
            "Data Policy Exception: \n\tThe following fields are mandatory: Resolution code, Resolution notes",
        ));
    }
    let work_note = text(&map, "work_notes");
    if !work_note.is_empty() {
        incident.work_notes.push(work_note);
    }
    for (key, field) in [
        ("incident_state", &mut incident.incident_state),
        ("close_code", &mut incident.close_code),
        ("close_notes", &mut incident.close_notes),
    ] {
        let value = text(&map, key);
        if !value.is_empty() {
            *field = value;
        }
    }
    incident.updates += 1;
    let answer = incident_json(incident);
    drop(state);
    shared.control.notify_changed();
    Ok(Json(json!({ "result": answer })).into_response())
}

async fn get_user(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(sys_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Reply {
    shared.authorize(&headers)?;
    let state = shared.state();
    let user_name = state.users.get(&sys_id).ok_or_else(no_record)?;
    let mut record = json!({ "user_name": user_name });
    if query.get("sysparm_fields").map(String::as_str) != Some("user_name") {
        record["sys_id"] = json!(sys_id);
    }
    Ok(Json(json!({ "result": record })).into_response())
}

/// `date_time` as the on-call API reads it: `YYYY-MM-DD HH:MM:SS`.
fn is_date_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 19
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b' ',
            13 | 16 => *b == b':',
            _ => b.is_ascii_digit(),
        })
}

async fn who_is_on_call(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Reply {
    shared.authorize(&headers)?;
    let rota = query.get("rota_ids").cloned().unwrap_or_default();
    if rota.is_empty() {
        return Err(sn_error(
            StatusCode::BAD_REQUEST,
            "rota_ids is required",
            "",
        ));
    }
    let date_time = query.get("date_time").cloned().unwrap_or_default();
    if !date_time.is_empty() && !is_date_time(&date_time) {
        return Err(sn_error(
            StatusCode::BAD_REQUEST,
            "Invalid date_time",
            "expected yyyy-MM-dd HH:mm:ss",
        ));
    }
    let mut state = shared.state();
    state.on_call_times.push(date_time);
    let rows: Vec<Value> = state
        .rotas
        .get(&rota)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(order, user)| {
            json!({ "userId": user, "rota": rota, "order": order + 1, "memberId": user })
        })
        .collect();
    Ok(Json(json!({ "result": rows })).into_response())
}
