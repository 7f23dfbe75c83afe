//! The fake Opsgenie's routes: alerts (create, request status, notes, close), schedules'
//! on-call participants, and the heartbeat ping.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::state::{OgAlert, OgRequest, OgState};
use crate::control::{Control, Fault, FaultLayer, fault_layer};

/// State shared by the handlers and the [`FakeOpsgenie`](super::FakeOpsgenie) handle.
pub(crate) struct Shared {
    pub(crate) state: Mutex<OgState>,
    pub(crate) control: Arc<Control>,
    pub(crate) api_key: String,
    pub(crate) processing_polls: u32,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, OgState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn authorize(&self, headers: &HeaderMap) -> Result<(), OgError> {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("GenieKey "));
        if given == Some(self.api_key.as_str()) {
            Ok(())
        } else {
            Err(og_error(StatusCode::UNAUTHORIZED, "Could not authenticate"))
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
        .route("/v2/heartbeats/{name}/ping", get(ping))
        .route("/v2/alerts", post(create_alert))
        .route("/v2/alerts/requests/{request}", get(alert_request))
        .route("/v2/alerts/{alert}/notes", post(add_note))
        .route("/v2/alerts/{alert}/close", post(close_alert))
        .route("/v2/schedules/{schedule}/on-calls", get(on_calls))
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

/// An Opsgenie error answer: `{message, took, requestId}`.
struct OgError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for OgError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "message": self.message, "took": 0.001, "requestId": "fake-error" })),
        )
            .into_response()
    }
}

fn og_error(status: StatusCode, message: &str) -> OgError {
    OgError {
        status,
        message: message.to_owned(),
    }
}

fn render_fault(fault: &Fault) -> Response {
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            let mut response = og_error(
                StatusCode::TOO_MANY_REQUESTS,
                "You are making too many requests! To avoid errors, we recommend you limit requests.",
            )
            .into_response();
            let headers = response.headers_mut();
            headers.insert("X-RateLimit-State", HeaderValue::from_static("THROTTLED"));
            headers.insert(
                "X-RateLimit-Reason",
                HeaderValue::from_static("INTEGRATION"),
            );
            headers.insert("X-RateLimit-Period-In-Sec", HeaderValue::from(60));
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            response
        }
        Fault::ServerError { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            og_error(status, "Internal Server Error").into_response()
        }
    }
}

/// Opsgenie's 202 for a write: processed later, looked up by `requestId`.
fn accepted(request_id: &str) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(json!({ "result": "Request will be processed", "took": 0.002, "requestId": request_id })),
    )
        .into_response()
}

type Reply = Result<Response, OgError>;

async fn not_found_route() -> OgError {
    og_error(StatusCode::NOT_FOUND, "Not Found")
}

async fn ping(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Reply {
    shared.authorize(&headers)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "result": "PONG - Heartbeat is updated successfully", "took": 0.001, "requestId": "fake-ping" })),
    )
        .into_response())
}

#[derive(Deserialize)]
struct NewAlert {
    #[serde(default)]
    message: String,
    #[serde(default)]
    alias: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    responders: Vec<Value>,
    #[serde(default)]
    priority: String,
}

async fn create_alert(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Option<Json<NewAlert>>,
) -> Reply {
    shared.authorize(&headers)?;
    let Some(Json(body)) = body else {
        return Err(og_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request body",
        ));
    };
    if body.message.trim().is_empty() {
        return Err(og_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Message can not be empty.",
        ));
    }
    if !body.priority.is_empty()
        && !matches!(body.priority.as_str(), "P1" | "P2" | "P3" | "P4" | "P5")
    {
        return Err(og_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Priority should be one of [P1, P2, P3, P4, P5]",
        ));
    }
    let mut state = shared.state();
    let request_id = state.new_id();
    // Opsgenie de-duplicates: an open alert with the same alias only counts the create again.
    let open = state
        .alerts
        .iter_mut()
        .find(|a| !body.alias.is_empty() && a.alias == body.alias && a.closed.is_none());
    let alert_id = match open {
        Some(alert) => {
            alert.count += 1;
            alert.id.clone()
        }
        None => {
            let id = state.new_id();
            state.alerts.push(OgAlert {
                id: id.clone(),
                alias: body.alias.clone(),
                message: body.message,
                description: body.description,
                responders: body.responders,
                priority: body.priority,
                notes: Vec::new(),
                closed: None,
                count: 1,
            });
            id
        }
    };
    state.requests.insert(
        request_id.clone(),
        OgRequest {
            alert_id,
            alias: body.alias,
            polls_left: shared.processing_polls,
        },
    );
    drop(state);
    shared.control.notify_changed();
    Ok(accepted(&request_id))
}

async fn alert_request(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(request): Path<String>,
) -> Reply {
    shared.authorize(&headers)?;
    let mut state = shared.state();
    let not_yet = || {
        og_error(
            StatusCode::NOT_FOUND,
            "Request not found. It might not be processed, yet.",
        )
    };
    let entry = state.requests.get_mut(&request).ok_or_else(not_yet)?;
    if entry.polls_left > 0 {
        entry.polls_left -= 1;
        return Err(not_yet());
    }
    let data = json!({
        "success": true,
        "action": "Create",
        "processedAt": "2026-01-02T15:04:05.000Z",
        "integrationId": "fake-integration",
        "isSuccess": true,
        "status": "Created alert",
        "alertId": entry.alert_id,
        "alias": entry.alias,
    });
    Ok(Json(json!({ "data": data, "took": 0.001, "requestId": "fake-status" })).into_response())
}

#[derive(Deserialize)]
struct ById {
    #[serde(rename = "identifierType", default)]
    identifier_type: String,
}

#[derive(Deserialize, Default)]
struct NoteBody {
    #[serde(default)]
    note: String,
}

/// The alert `alert` names: by ID only, as the plugin asks (`identifierType=id`).
fn alert_mut<'a>(
    state: &'a mut OgState,
    alert: &str,
    by: &ById,
) -> Result<&'a mut OgAlert, OgError> {
    if by.identifier_type != "id" {
        return Err(og_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the fake looks alerts up by identifierType=id only",
        ));
    }
    state
        .alerts
        .iter_mut()
        .find(|a| a.id == alert)
        .ok_or_else(|| og_error(StatusCode::NOT_FOUND, "Alert does not exist"))
}

async fn add_note(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(alert): Path<String>,
    Query(by): Query<ById>,
    body: Option<Json<NoteBody>>,
) -> Reply {
    shared.authorize(&headers)?;
    let Json(body) = body.unwrap_or_default();
    if body.note.trim().is_empty() {
        return Err(og_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Note can not be empty.",
        ));
    }
    let mut state = shared.state();
    alert_mut(&mut state, &alert, &by)?.notes.push(body.note);
    let request_id = state.new_id();
    drop(state);
    shared.control.notify_changed();
    Ok(accepted(&request_id))
}

async fn close_alert(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(alert): Path<String>,
    Query(by): Query<ById>,
    body: Option<Json<NoteBody>>,
) -> Reply {
    shared.authorize(&headers)?;
    let Json(body) = body.unwrap_or_default();
    let mut state = shared.state();
    let found = alert_mut(&mut state, &alert, &by)?;
    // Closing a closed alert is accepted and changes nothing, as in Opsgenie.
    if found.closed.is_none() {
        found.closed = Some(body.note);
    }
    let request_id = state.new_id();
    drop(state);
    shared.control.notify_changed();
    Ok(accepted(&request_id))
}

#[derive(Deserialize)]
struct OnCallQuery {
    #[serde(rename = "scheduleIdentifierType", default)]
    identifier_type: String,
    #[serde(default)]
    flat: String,
}

async fn on_calls(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(schedule): Path<String>,
    Query(query): Query<OnCallQuery>,
) -> Reply {
    shared.authorize(&headers)?;
    let state = shared.state();
    let found = state
        .schedules
        .iter()
        .find(|s| match query.identifier_type.as_str() {
            "name" => s.name == schedule,
            _ => s.id == schedule,
        })
        .ok_or_else(|| {
            og_error(
                StatusCode::NOT_FOUND,
                &format!("No schedule exists with identifier [{schedule}]"),
            )
        })?;
    let parent = json!({ "id": found.id, "name": found.name, "enabled": true });
    let data = if query.flat == "true" {
        json!({ "_parent": parent, "onCallRecipients": found.on_call })
    } else {
        let participants: Vec<Value> = found
            .on_call
            .iter()
            .map(|email| json!({ "name": email, "type": "user" }))
            .collect();
        json!({ "_parent": parent, "onCallParticipants": participants })
    };
    Ok(Json(json!({ "data": data, "took": 0.001, "requestId": "fake-oncall" })).into_response())
}
