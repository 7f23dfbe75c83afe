//! The fake GitLab's routes for the current user, the project, its labels, hooks and
//! members.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::api::{
    GlError, Params, Reply, Shared, base_of, bool_field, check_project, json_body, label_json,
    message, missing, paged, text_field, user_json, validation,
};
use super::state::{GitlabState, GlHook, GlLabel, access};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v4/user", get(current_user))
        .route("/api/v4/projects/{project}", get(get_project))
        .route(
            "/api/v4/projects/{project}/labels",
            get(list_labels).post(create_label),
        )
        .route(
            "/api/v4/projects/{project}/hooks",
            get(list_hooks).post(create_hook),
        )
        .route(
            "/api/v4/projects/{project}/hooks/{hook}",
            get(get_hook).put(update_hook).delete(delete_hook),
        )
        .route(
            "/api/v4/projects/{project}/members/all/{user}",
            get(member_all),
        )
        .route(
            "/api/v4/projects/{project}/members/{user}",
            get(member_direct),
        )
}

fn hook_json(project_id: u64, hook: &GlHook) -> Value {
    json!({
        "id": hook.id,
        "url": hook.url,
        "project_id": project_id,
        "push_events": hook.push_events,
        "issues_events": hook.issues_events,
        "confidential_issues_events": false,
        "merge_requests_events": false,
        "tag_push_events": false,
        "note_events": false,
        "job_events": false,
        "pipeline_events": false,
        "wiki_page_events": false,
        "enable_ssl_verification": hook.enable_ssl_verification,
        "alert_status": "executable",
        "created_at": "2024-01-01T00:00:00.000Z",
    })
}

async fn current_user(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Reply {
    shared.authorize(&headers)?;
    let state = shared.state();
    let me = state
        .user(shared.bot_id)
        .ok_or_else(|| message(StatusCode::UNAUTHORIZED, "401 Unauthorized"))?;
    let mut body = user_json(&base_of(&headers), me);
    body["email"] = json!(me.email);
    body["bot"] = json!(false);
    Ok(Json(body).into_response())
}

async fn get_project(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> Reply {
    shared.authorize(&headers)?;
    let state = shared.state();
    check_project(&state, &project)?;
    let base = base_of(&headers);
    let name = state
        .project_path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    Ok(Json(json!({
        "id": state.project_id,
        "name": name,
        "path": name,
        "path_with_namespace": state.project_path,
        "name_with_namespace": state.project_path.replace('/', " / "),
        "web_url": format!("{base}/{}", state.project_path),
        "issues_enabled": true,
        "default_branch": "main",
        "visibility": "private",
        "permissions": {
            "project_access": { "access_level": shared.bot_access(&state), "notification_level": 3 },
            "group_access": null,
        },
    }))
    .into_response())
}

async fn list_labels(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Reply {
    shared.authorize(&headers)?;
    let params = Params::parse(query.as_deref());
    let items: Vec<Value> = {
        let state = shared.state();
        check_project(&state, &project)?;
        let search = params.one("search").map(str::to_lowercase);
        state
            .labels
            .iter()
            .filter(|l| {
                search
                    .as_deref()
                    .is_none_or(|s| l.name.to_lowercase().contains(s))
            })
            .map(label_json)
            .collect()
    };
    paged(&shared, &uri, &headers, &params, items)
}

/// Creates a label unless one with that name exists: GitLab's `409 Label already exists`.
pub(crate) fn add_label(
    state: &mut GitlabState,
    name: &str,
    color: &str,
    description: &str,
) -> Result<GlLabel, GlError> {
    if state.label(name).is_some() {
        return Err(message(StatusCode::CONFLICT, "Label already exists"));
    }
    let label = GlLabel {
        id: state.new_id(),
        name: name.to_owned(),
        color: color.to_owned(),
        description: description.to_owned(),
    };
    state.labels.push(label.clone());
    Ok(label)
}

async fn create_label(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(project): Path<String>,
    body: axum::body::Bytes,
) -> Reply {
    shared.authorize(&headers)?;
    let body = json_body(&body)?;
    let name = text_field(&body, "name")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| missing("name"))?;
    let color = text_field(&body, "color").ok_or_else(|| missing("color"))?;
    let valid_color = color.len() == 7
        && color.starts_with('#')
        && color[1..].chars().all(|c| c.is_ascii_hexdigit());
    if !valid_color {
        return Err(validation(
            StatusCode::BAD_REQUEST,
            "color",
            "must be a valid color code",
        ));
    }
    let description = text_field(&body, "description").unwrap_or_default();
    let label = {
        let mut state = shared.state();
        check_project(&state, &project)?;
        shared.require(&state, access::REPORTER)?;
        add_label(&mut state, name.trim(), &color, &description)?
    };
    shared.control.notify_changed();
    Ok((StatusCode::CREATED, Json(label_json(&label))).into_response())
}

async fn list_hooks(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Reply {
    shared.authorize(&headers)?;
    let params = Params::parse(query.as_deref());
    let items: Vec<Value> = {
        let state = shared.state();
        check_project(&state, &project)?;
        shared.require(&state, access::MAINTAINER)?;
        state
            .hooks
            .iter()
            .map(|h| hook_json(state.project_id, h))
            .collect()
    };
    paged(&shared, &uri, &headers, &params, items)
}

/// The hook settings in a create or update body; `existing` supplies what is not given.
fn hook_from(body: &Map<String, Value>, existing: Option<&GlHook>) -> Result<GlHook, GlError> {
    let url = match (text_field(body, "url"), existing) {
        (Some(url), _) => url,
        (None, Some(hook)) => hook.url.clone(),
        (None, None) => return Err(missing("url")),
    };
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
    if !scheme_ok || url.contains(char::is_whitespace) {
        return Err(validation(
            StatusCode::UNPROCESSABLE_ENTITY,
            "url",
            "is blocked: Only allowed schemes are http, https",
        ));
    }
    let keep = |key: &str, from: fn(&GlHook) -> bool, default: bool| {
        bool_field(body, key, existing.map_or(default, from))
    };
    Ok(GlHook {
        id: existing.map_or(0, |h| h.id),
        url,
        token: text_field(body, "token")
            .or_else(|| existing.map(|h| h.token.clone()))
            .unwrap_or_default(),
        issues_events: keep("issues_events", |h| h.issues_events, false),
        push_events: keep("push_events", |h| h.push_events, true),
        enable_ssl_verification: keep(
            "enable_ssl_verification",
            |h| h.enable_ssl_verification,
            true,
        ),
        updates: existing.map_or(0, |h| h.updates),
    })
}

async fn create_hook(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(project): Path<String>,
    body: axum::body::Bytes,
) -> Reply {
    shared.authorize(&headers)?;
    let body = json_body(&body)?;
    let json = {
        let mut state = shared.state();
        check_project(&state, &project)?;
        shared.require(&state, access::MAINTAINER)?;
        let mut hook = hook_from(&body, None)?;
        hook.id = state.new_id();
        state.hooks.push(hook.clone());
        hook_json(state.project_id, &hook)
    };
    shared.control.notify_changed();
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

fn hook_id(text: &str) -> Result<u64, GlError> {
    text.parse()
        .map_err(|_| message(StatusCode::NOT_FOUND, "404 Not found"))
}

async fn get_hook(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((project, hook)): Path<(String, String)>,
) -> Reply {
    shared.authorize(&headers)?;
    let id = hook_id(&hook)?;
    let state = shared.state();
    check_project(&state, &project)?;
    shared.require(&state, access::MAINTAINER)?;
    let hook = state
        .hooks
        .iter()
        .find(|h| h.id == id)
        .ok_or_else(|| message(StatusCode::NOT_FOUND, "404 Not found"))?;
    Ok(Json(hook_json(state.project_id, hook)).into_response())
}

async fn update_hook(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((project, hook)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Reply {
    shared.authorize(&headers)?;
    let id = hook_id(&hook)?;
    let body = json_body(&body)?;
    let json = {
        let mut state = shared.state();
        check_project(&state, &project)?;
        shared.require(&state, access::MAINTAINER)?;
        let project_id = state.project_id;
        let stored = state
            .hooks
            .iter_mut()
            .find(|h| h.id == id)
            .ok_or_else(|| message(StatusCode::NOT_FOUND, "404 Not found"))?;
        let mut updated = hook_from(&body, Some(stored))?;
        updated.updates += 1;
        *stored = updated;
        hook_json(project_id, stored)
    };
    shared.control.notify_changed();
    Ok(Json(json).into_response())
}

async fn delete_hook(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((project, hook)): Path<(String, String)>,
) -> Reply {
    shared.authorize(&headers)?;
    let id = hook_id(&hook)?;
    {
        let mut state = shared.state();
        check_project(&state, &project)?;
        shared.require(&state, access::MAINTAINER)?;
        let before = state.hooks.len();
        state.hooks.retain(|h| h.id != id);
        if state.hooks.len() == before {
            return Err(message(StatusCode::NOT_FOUND, "404 Not found"));
        }
    }
    shared.control.notify_changed();
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn member_reply(
    shared: &Shared,
    headers: &HeaderMap,
    project: &str,
    user: &str,
    include_inherited: bool,
) -> Reply {
    shared.authorize(headers)?;
    let user_id: u64 = user
        .parse()
        .map_err(|_| message(StatusCode::NOT_FOUND, "404 Not found"))?;
    let state = shared.state();
    check_project(&state, project)?;
    let member = state
        .members
        .iter()
        .find(|m| m.user_id == user_id && (include_inherited || !m.inherited))
        .ok_or_else(|| message(StatusCode::NOT_FOUND, "404 Not found"))?;
    let user = state
        .user(user_id)
        .ok_or_else(|| message(StatusCode::NOT_FOUND, "404 Not found"))?;
    let mut body = user_json(&base_of(headers), user);
    body["access_level"] = json!(member.access_level);
    body["expires_at"] = Value::Null;
    body["membership_state"] = json!("active");
    body["created_at"] = json!("2024-01-01T00:00:00.000Z");
    Ok(Json(body).into_response())
}

async fn member_all(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((project, user)): Path<(String, String)>,
) -> Reply {
    member_reply(&shared, &headers, &project, &user, true)
}

async fn member_direct(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((project, user)): Path<(String, String)>,
) -> Reply {
    member_reply(&shared, &headers, &project, &user, false)
}
