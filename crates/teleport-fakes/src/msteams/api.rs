//! The fake's router, the OAuth token endpoint (client credentials), bearer checks and
//! faults in Microsoft's shapes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::rejection::FormRejection;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::state::{IssuedToken, MsState};
use super::{bot, graph};
use crate::control::{Control, Fault, FaultLayer, fault_layer};

/// The Graph scope the plugin asks for.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
/// The Bot Framework scope the plugin asks for.
pub const BOT_SCOPE: &str = "https://api.botframework.com/.default";

/// State shared by the handlers and the [`FakeMsTeams`](super::FakeMsTeams) handle.
pub(crate) struct Shared {
    pub(crate) state: Mutex<MsState>,
    pub(crate) control: Arc<Control>,
    pub(crate) tenant_id: String,
    pub(crate) app_id: String,
    pub(crate) app_secret: Mutex<String>,
    pub(crate) token_lifetime: Mutex<Duration>,
    /// Installs answered 409 `Conflict` (the app installed anyway), as when two
    /// installations race.
    pub(crate) install_conflicts: Mutex<u32>,
    /// After an install, this many lookups of the user's apps still find nothing (Graph's
    /// replication delay).
    pub(crate) install_lag: Mutex<u32>,
    /// The most messages a page of a message listing holds.
    pub(crate) message_page_size: usize,
    /// Message listings answered 403, as for an app without the read permission.
    pub(crate) message_reads_denied: AtomicBool,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, MsState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether message listings are refused (403).
    pub(crate) fn message_reads_denied(&self) -> bool {
        self.message_reads_denied.load(Ordering::SeqCst)
    }

    /// Checks `Authorization: Bearer <token>` for a live token of `scope`.
    pub(crate) fn authorize(&self, headers: &HeaderMap, scope: &str) -> Result<(), MsError> {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let mut state = self.state();
        let Some(token) = state.tokens.iter().find(|t| t.token == given).cloned() else {
            return Err(ms_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token is empty or invalid.",
            ));
        };
        if token.scope != scope {
            return Err(ms_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token validation failure. Invalid audience.",
            ));
        }
        if Instant::now() >= token.expires {
            state.expired_token_uses += 1;
            return Err(ms_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            ));
        }
        Ok(())
    }
}

/// The router: `/login` (the identity platform), `/graph/v1.0` (Graph), `/bot` (the Bot
/// Framework's service URL), with fault injection in front of every route.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let layer = FaultLayer {
        control: shared.control.clone(),
        method_of: route_name,
        render: render_fault,
    };
    let graph_routes = graph::routes();
    Router::new()
        .route("/login/{tenant}/oauth2/v2.0/token", post(token))
        .nest("/graph/v1.0", graph_routes)
        .route(
            "/bot/{region}/v3/conversations/{conversation}/activities/",
            post(bot::post_activity),
        )
        .route(
            "/bot/{region}/v3/conversations/{conversation}/activities",
            post(bot::post_activity),
        )
        .route(
            "/bot/{region}/v3/conversations/{conversation}/activities/{activity}",
            put(bot::update_activity),
        )
        .route("/health", get(|| async { "ok" }))
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

/// A Graph / Bot Framework error answer: `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub(crate) struct MsError {
    status: StatusCode,
    code: String,
    message: String,
}

impl IntoResponse for MsError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": { "code": self.code, "message": self.message } })),
        )
            .into_response()
    }
}

pub(crate) fn ms_error(status: StatusCode, code: &str, message: &str) -> MsError {
    MsError {
        status,
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

fn render_fault(fault: &Fault) -> Response {
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            let mut response = ms_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests.",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, (*retry_after_secs).into());
            response
        }
        Fault::ServerError { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            ms_error(status, "ServiceUnavailable", "Injected server error.").into_response()
        }
    }
}

async fn not_found_route() -> MsError {
    ms_error(
        StatusCode::NOT_FOUND,
        "UnknownError",
        "No route for this request.",
    )
}

/// The client-credentials form.
#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

/// `POST /{tenant}/oauth2/v2.0/token`: an app-only token for one scope, with the identity
/// platform's error shape (`{error, error_description}`) when refused.
async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let refuse = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            Json(json!({ "error": error, "error_description": description })),
        )
            .into_response()
    };
    let Ok(Form(form)) = form else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request body must be a form.",
        );
    };
    if tenant != shared.tenant_id {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS90002: Tenant not found.",
        );
    }
    if form.grant_type.as_deref() != Some("client_credentials") {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: unsupported grant type.",
        );
    }
    let secret = shared
        .app_secret
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if form.client_id.as_deref() != Some(shared.app_id.as_str())
        || form.client_secret.as_deref() != Some(secret.as_str())
    {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    let scope = form.scope.unwrap_or_default();
    if scope != GRAPH_SCOPE && scope != BOT_SCOPE {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS70011: The provided value for the input parameter 'scope' is not valid.",
        );
    }
    let lifetime = *shared
        .token_lifetime
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut state = shared.state();
    let token = state.new_id("fake-access-token-");
    state.tokens.push(IssuedToken {
        token: token.clone(),
        scope,
        expires: Instant::now() + lifetime,
    });
    drop(state);
    shared.control.notify_changed();
    let seconds = lifetime.as_secs();
    Json(json!({
        "token_type": "Bearer",
        "expires_in": seconds,
        "ext_expires_in": seconds,
        "access_token": token,
    }))
    .into_response()
}
