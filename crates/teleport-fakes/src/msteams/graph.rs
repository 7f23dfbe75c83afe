//! The Graph v1.0 calls the plugin makes: the app catalog, users by mail or ID, the app's
//! installations for a user (list, install, remove, the chat with the bot) and for a team;
//! the message listings are [`messages`](super::messages).
//! Graph's paths are case-insensitive; the Go plugin writes both `teamwork` and
//! `teamWork`, so both are served.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::api::{GRAPH_SCOPE, MsError, Shared, ms_error};
use super::messages;
use super::state::{Installation, MsApp};

type Reply = Result<Response, MsError>;
type Params = Query<HashMap<String, String>>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    let mut router = Router::new()
        .route("/appCatalogs/teamsApps", get(catalog))
        .route("/users", get(users))
        .route("/teams/{team}/installedApps", get(team_apps))
        .route("/chats/{chat}/messages", get(messages::chat_messages))
        .route(
            "/teams/{team}/channels/{channel}/messages",
            get(messages::channel_messages),
        );
    for teamwork in ["teamwork", "teamWork"] {
        router = router
            .route(
                &format!("/users/{{user}}/{teamwork}/installedApps"),
                get(user_apps).post(install),
            )
            .route(
                &format!("/users/{{user}}/{teamwork}/installedApps/{{installation}}"),
                axum::routing::delete(uninstall),
            )
            .route(
                &format!("/users/{{user}}/{teamwork}/installedApps/{{installation}}/chat"),
                get(chat),
            );
    }
    router
}

/// The value of `<field> eq '<value>'` in `$filter`, if the filter is on `field`.
fn filter_on<'a>(params: &'a HashMap<String, String>, field: &str) -> Option<&'a str> {
    let filter = params.get("$filter")?.trim();
    let rest = filter.strip_prefix(field)?.trim_start();
    let quoted = rest.strip_prefix("eq")?.trim();
    quoted.strip_prefix('\'')?.strip_suffix('\'')
}

fn collection(values: Vec<Value>) -> Response {
    Json(json!({ "@odata.context": "https://graph.microsoft.com/v1.0/$metadata", "value": values }))
        .into_response()
}

fn app_json(app: &MsApp) -> Value {
    json!({
        "id": app.id,
        "externalId": app.external_id,
        "displayName": app.display_name,
        "distributionMethod": "organization",
    })
}

fn bad_filter() -> MsError {
    ms_error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        "Invalid filter clause.",
    )
}

/// `GET appCatalogs/teamsApps?$filter=externalId eq '<id>'`.
async fn catalog(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Reply {
    shared.authorize(&headers, GRAPH_SCOPE)?;
    let external = filter_on(&params, "externalId").ok_or_else(bad_filter)?;
    let state = shared.state();
    let apps = state
        .app
        .iter()
        .filter(|a| a.external_id == external)
        .map(app_json)
        .collect();
    Ok(collection(apps))
}

/// `GET users?$filter=mail eq '<mail>'` or `id eq '<id>'`.
async fn users(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Reply {
    shared.authorize(&headers, GRAPH_SCOPE)?;
    let state = shared.state();
    let found: Vec<Value> = if let Some(mail) = filter_on(&params, "mail") {
        state
            .users
            .iter()
            .filter(|u| u.mail.eq_ignore_ascii_case(mail))
            .map(|u| json!({ "id": u.id, "displayName": u.display_name, "mail": u.mail }))
            .collect()
    } else if let Some(id) = filter_on(&params, "id") {
        state
            .users
            .iter()
            .filter(|u| u.id == id)
            .map(|u| json!({ "id": u.id, "displayName": u.display_name, "mail": u.mail }))
            .collect()
    } else {
        return Err(bad_filter());
    };
    Ok(collection(found))
}

fn installation_json(id: &str, app: &MsApp) -> Value {
    json!({ "id": id, "teamsApp": app_json(app) })
}

fn no_user(user: &str) -> MsError {
    ms_error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!("Resource '{user}' does not exist."),
    )
}

/// `GET users/{id}/teamwork/installedApps?$expand=teamsApp&$filter=teamsApp/id eq '<id>'`.
async fn user_apps(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(user): Path<String>,
    Query(params): Params,
) -> Reply {
    shared.authorize(&headers, GRAPH_SCOPE)?;
    let app_id = filter_on(&params, "teamsApp/id").ok_or_else(bad_filter)?;
    let mut state = shared.state();
    if let Some(hidden) = state.hidden_lookups.get_mut(&user)
        && *hidden > 0
    {
        *hidden -= 1;
        return Ok(collection(Vec::new()));
    }
    let found = state
        .users
        .iter()
        .find(|u| u.id == user)
        .ok_or_else(|| no_user(&user))?;
    let apps = match (&state.app, &found.installation) {
        (Some(app), Some(installation)) if app.id == app_id => {
            vec![installation_json(&installation.id, app)]
        }
        _ => Vec::new(),
    };
    Ok(collection(apps))
}

/// `POST users/{id}/teamwork/installedApps` with `teamsApp@odata.bind`: 201, or 409
/// `Conflict` while a queued conflict lasts (the app is installed all the same).
async fn install(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(user): Path<String>,
    body: Option<Json<Value>>,
) -> Reply {
    shared.authorize(&headers, GRAPH_SCOPE)?;
    let bind = body
        .as_ref()
        .and_then(|Json(b)| b.get("teamsApp@odata.bind"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut state = shared.state();
    let app = state.app.clone().ok_or_else(|| {
        ms_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The app is not in the catalog.",
        )
    })?;
    if !bind.ends_with(&format!("/appCatalogs/teamsApps/{}", app.id)) {
        return Err(ms_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "teamsApp@odata.bind must name the app in the catalog.",
        ));
    }
    let installation_id = state.new_id("installation-");
    let chat_id = format!("19:{user}_{}@unq.gbl.spaces", app.id);
    let found = state
        .users
        .iter_mut()
        .find(|u| u.id == user)
        .ok_or_else(|| no_user(&user))?;
    let already = found.installation.is_some();
    if !already {
        found.installation = Some(Installation {
            id: installation_id,
            chat_id,
        });
        let lag = *shared.install_lag.lock().unwrap_or_else(|e| e.into_inner());
        if lag > 0 {
            state.hidden_lookups.insert(user.clone(), lag);
        }
    }
    drop(state);
    shared.control.notify_changed();
    let mut conflicts = shared
        .install_conflicts
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if already || *conflicts > 0 {
        *conflicts = conflicts.saturating_sub(1);
        return Err(ms_error(
            StatusCode::CONFLICT,
            "Conflict",
            "The app is already installed.",
        ));
    }
    Ok(StatusCode::CREATED.into_response())
}

/// `DELETE users/{id}/teamwork/installedApps/{installation}`: 204.
async fn uninstall(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((user, installation)): Path<(String, String)>,
) -> Reply {
    shared.authorize(&headers, GRAPH_SCOPE)?;
    let mut state = shared.state();
    let found = state
        .users
        .iter_mut()
        .find(|u| u.id == user)
        .ok_or_else(|| no_user(&user))?;
    if found.installation.as_ref().map(|i| i.id.as_str()) != Some(installation.as_str()) {
        return Err(ms_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "No such installation.",
        ));
    }
    found.installation = None;
    state.uninstalled.push(user);
    drop(state);
    shared.control.notify_changed();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET users/{id}/teamwork/installedApps/{installation}/chat`.
async fn chat(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((user, installation)): Path<(String, String)>,
) -> Reply {
    shared.authorize(&headers, GRAPH_SCOPE)?;
    let state = shared.state();
    let found = state
        .users
        .iter()
        .find(|u| u.id == user)
        .ok_or_else(|| no_user(&user))?;
    match &found.installation {
        Some(i) if i.id == installation => Ok(Json(json!({
            "id": i.chat_id,
            "tenantId": shared.tenant_id,
            "webUrl": format!("https://teams.microsoft.com/l/chat/{}/0", i.chat_id),
        }))
        .into_response()),
        _ => Err(ms_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "No such installation.",
        )),
    }
}

/// `GET teams/{group}/installedApps?$expand=teamsApp&$filter=teamsApp/id eq '<id>'`.
async fn team_apps(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(team): Path<String>,
    Query(params): Params,
) -> Reply {
    shared.authorize(&headers, GRAPH_SCOPE)?;
    let app_id = filter_on(&params, "teamsApp/id").ok_or_else(bad_filter)?;
    let state = shared.state();
    let found = state
        .teams
        .iter()
        .find(|t| t.group_id == team)
        .ok_or_else(|| {
            ms_error(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("No team found with Group Id {team}"),
            )
        })?;
    let apps = match (&state.app, &found.installation) {
        (Some(app), Some(installation)) if app.id == app_id => {
            vec![installation_json(installation, app)]
        }
        _ => Vec::new(),
    };
    Ok(collection(apps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_read_as_the_plugin_writes_them() {
        let params: HashMap<String, String> =
            [("$filter".to_owned(), "mail eq 'a@example.com'".to_owned())].into();
        assert_eq!(filter_on(&params, "mail"), Some("a@example.com"));
        assert_eq!(filter_on(&params, "id"), None);
    }
}
