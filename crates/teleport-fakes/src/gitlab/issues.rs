//! The fake GitLab's issue routes: issues (create, get, list with filters, update), notes
//! and resource label events.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::api::{
    GlError, Params, Reply, Shared, base_of, check_project, invalid, json_body, label_json,
    message, missing, names_field, paged, text_field, timestamp, user_json,
};
use super::project::add_label;
use super::state::{GitlabState, GlIssue, GlLabel, GlNote, access};

/// The colour GitLab gives labels it creates on the fly (issue `labels` naming a new one).
const NEW_LABEL_COLOR: &str = "#6699cc";

pub(crate) fn routes() -> axum::Router<Arc<Shared>> {
    Router::new()
        .route(
            "/api/v4/projects/{project}/issues",
            get(list_issues).post(create_issue),
        )
        .route(
            "/api/v4/projects/{project}/issues/{iid}",
            get(get_issue).put(update_issue),
        )
        .route(
            "/api/v4/projects/{project}/issues/{iid}/notes",
            get(list_notes).post(create_note),
        )
        .route(
            "/api/v4/projects/{project}/issues/{iid}/resource_label_events",
            get(list_label_events),
        )
}

pub(crate) fn issue_json(base: &str, state: &GitlabState, issue: &GlIssue) -> Value {
    let user = |id: u64| state.user(id).map_or(Value::Null, |u| user_json(base, u));
    let closed_at = (issue.state == "closed").then(|| timestamp(issue.updated_at));
    json!({
        "id": issue.id,
        "iid": issue.iid,
        "project_id": state.project_id,
        "title": issue.title,
        "description": issue.description,
        "state": issue.state,
        "created_at": timestamp(issue.created_at),
        "updated_at": timestamp(issue.updated_at),
        "closed_at": closed_at,
        "closed_by": issue.closed_by.map_or(Value::Null, user),
        "labels": issue.labels,
        "author": user(issue.author_id),
        "assignees": [],
        "type": "ISSUE",
        "issue_type": "issue",
        "confidential": false,
        "user_notes_count": issue.user_notes().count(),
        "web_url": format!("{base}/{}/-/issues/{}", state.project_path, issue.iid),
        "references": {
            "short": format!("#{}", issue.iid),
            "relative": format!("#{}", issue.iid),
            "full": format!("{}#{}", state.project_path, issue.iid),
        },
    })
}

fn note_json(base: &str, state: &GitlabState, issue: &GlIssue, note: &GlNote) -> Value {
    json!({
        "id": note.id,
        "type": null,
        "body": note.body,
        "attachment": null,
        "author": state.user(note.author_id).map_or(Value::Null, |u| user_json(base, u)),
        "created_at": timestamp(note.created_at),
        "updated_at": timestamp(note.created_at),
        "system": note.system,
        "noteable_id": issue.id,
        "noteable_type": "Issue",
        "noteable_iid": issue.iid,
        "project_id": state.project_id,
        "resolvable": false,
        "confidential": false,
        "internal": false,
    })
}

fn iid_of(text: &str) -> Result<u64, GlError> {
    text.parse().map_err(|_| not_found_issue())
}

fn not_found_issue() -> GlError {
    message(StatusCode::NOT_FOUND, "404 Not found")
}

/// Creates the labels in `names` that do not exist yet, as GitLab does for issue labels.
fn ensure_labels(state: &mut GitlabState, names: &[String]) {
    for name in names {
        if state.label(name).is_none() {
            let _: Result<GlLabel, GlError> = add_label(state, name, NEW_LABEL_COLOR, "");
        }
    }
}

fn parse_time(params: &Params, key: &str) -> Result<Option<OffsetDateTime>, GlError> {
    match params.one(key) {
        None | Some("") => Ok(None),
        Some(text) => OffsetDateTime::parse(text, &Rfc3339)
            .map(Some)
            .map_err(|_| invalid(key)),
    }
}

/// Whether `issue` passes the list filters GitLab documents and the plugin uses.
struct IssueFilter {
    state: Option<String>,
    labels: Vec<String>,
    updated_after: Option<OffsetDateTime>,
    updated_before: Option<OffsetDateTime>,
    search: Option<String>,
    search_title: bool,
    search_description: bool,
    iids: Vec<u64>,
}

impl IssueFilter {
    fn from(params: &Params) -> Result<Self, GlError> {
        let state = match params.one("state") {
            None | Some("") | Some("all") => None,
            Some(s @ ("opened" | "closed")) => Some(s.to_owned()),
            Some(_) => return Err(invalid("state")),
        };
        let labels = params
            .one("labels")
            .map(|l| {
                l.split(',')
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let scope = params.one("in").unwrap_or("title,description");
        let iids = params
            .all("iids[]")
            .map(|v| v.parse().map_err(|_| invalid("iids")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            state,
            labels,
            updated_after: parse_time(params, "updated_after")?,
            updated_before: parse_time(params, "updated_before")?,
            search: params
                .one("search")
                .filter(|s| !s.is_empty())
                .map(str::to_lowercase),
            search_title: scope.contains("title"),
            search_description: scope.contains("description"),
            iids,
        })
    }

    fn accepts(&self, issue: &GlIssue) -> bool {
        let labels_ok = match self.labels.as_slice() {
            [one] if one.eq_ignore_ascii_case("none") => issue.labels.is_empty(),
            [one] if one.eq_ignore_ascii_case("any") => !issue.labels.is_empty(),
            wanted => wanted.iter().all(|l| issue.has_label(l)),
        };
        let search_ok = self.search.as_deref().is_none_or(|s| {
            (self.search_title && issue.title.to_lowercase().contains(s))
                || (self.search_description && issue.description.to_lowercase().contains(s))
        });
        self.state.as_deref().is_none_or(|s| issue.state == s)
            && labels_ok
            && search_ok
            && self.updated_after.is_none_or(|t| issue.updated_at >= t)
            && self.updated_before.is_none_or(|t| issue.updated_at <= t)
            && (self.iids.is_empty() || self.iids.contains(&issue.iid))
    }
}

async fn list_issues(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Reply {
    shared.authorize(&headers)?;
    let params = Params::parse(query.as_deref());
    let filter = IssueFilter::from(&params)?;
    let by_updated = match params.one("order_by") {
        None | Some("") | Some("created_at") => false,
        Some("updated_at") => true,
        Some(_) => return Err(invalid("order_by")),
    };
    let ascending = match params.one("sort") {
        None | Some("") | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(invalid("sort")),
    };
    let base = base_of(&headers);
    let items: Vec<Value> = {
        let state = shared.state();
        check_project(&state, &project)?;
        let mut found: Vec<&GlIssue> = state.issues.iter().filter(|i| filter.accepts(i)).collect();
        found.sort_by_key(|i| {
            (
                if by_updated {
                    i.updated_at
                } else {
                    i.created_at
                },
                i.id,
            )
        });
        if !ascending {
            found.reverse();
        }
        found
            .into_iter()
            .map(|i| issue_json(&base, &state, i))
            .collect()
    };
    paged(&shared, &uri, &headers, &params, items)
}

async fn create_issue(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(project): Path<String>,
    body: axum::body::Bytes,
) -> Reply {
    shared.authorize(&headers)?;
    let body = json_body(&body)?;
    let title = text_field(&body, "title")
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| missing("title"))?;
    let description = text_field(&body, "description").unwrap_or_default();
    let labels = names_field(&body, "labels").unwrap_or_default();
    let base = base_of(&headers);
    let json = {
        let mut state = shared.state();
        check_project(&state, &project)?;
        shared.require(&state, access::GUEST)?;
        let iid = new_issue(&mut state, shared.bot_id, &title, &description, &labels);
        let issue = state.issue(iid).ok_or_else(not_found_issue)?;
        issue_json(&base, &state, issue)
    };
    shared.control.notify_changed();
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// Opens an issue as `author_id` with `labels` (created when missing); returns its IID.
pub(crate) fn new_issue(
    state: &mut GitlabState,
    author_id: u64,
    title: &str,
    description: &str,
    labels: &[String],
) -> u64 {
    ensure_labels(state, labels);
    let now = OffsetDateTime::now_utc();
    let iid = state.issues.iter().map(|i| i.iid).max().unwrap_or(0) + 1;
    let id = state.new_id();
    state.issues.push(GlIssue {
        id,
        iid,
        title: title.to_owned(),
        description: description.to_owned(),
        state: "opened".to_owned(),
        labels: Vec::new(),
        author_id,
        closed_by: None,
        created_at: now,
        updated_at: now,
        notes: Vec::new(),
        label_events: Vec::new(),
    });
    state.change_labels(iid, author_id, labels, &[], now);
    // GitLab writes no system note for the labels an issue is opened with.
    if let Some(issue) = state.issue_mut(iid) {
        issue.notes.clear();
    }
    iid
}

async fn get_issue(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((project, iid)): Path<(String, String)>,
) -> Reply {
    shared.authorize(&headers)?;
    let iid = iid_of(&iid)?;
    let state = shared.state();
    check_project(&state, &project)?;
    let issue = state.issue(iid).ok_or_else(not_found_issue)?;
    Ok(Json(issue_json(&base_of(&headers), &state, issue)).into_response())
}

async fn update_issue(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((project, iid)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Reply {
    shared.authorize(&headers)?;
    let iid = iid_of(&iid)?;
    let body = json_body(&body)?;
    let state_event = text_field(&body, "state_event");
    if state_event
        .as_deref()
        .is_some_and(|e| e != "close" && e != "reopen")
    {
        return Err(invalid("state_event"));
    }
    let base = base_of(&headers);
    let json = {
        let mut state = shared.state();
        check_project(&state, &project)?;
        shared.require(&state, access::REPORTER)?;
        let current = state.issue(iid).ok_or_else(not_found_issue)?.labels.clone();
        update(&mut state, iid, shared.bot_id, &body, &current);
        if let Some(event) = state_event {
            state.change_state(iid, shared.bot_id, &event, OffsetDateTime::now_utc());
        }
        let issue = state.issue(iid).ok_or_else(not_found_issue)?;
        issue_json(&base, &state, issue)
    };
    shared.control.notify_changed();
    Ok(Json(json).into_response())
}

/// The label and text part of an issue update, done as `user_id`.
fn update(
    state: &mut GitlabState,
    iid: u64,
    user_id: u64,
    body: &Map<String, Value>,
    current: &[String],
) {
    let now = OffsetDateTime::now_utc();
    let mut add = names_field(body, "add_labels").unwrap_or_default();
    let mut remove = names_field(body, "remove_labels").unwrap_or_default();
    if let Some(replace) = names_field(body, "labels") {
        remove.extend(current.iter().filter(|l| !replace.contains(l)).cloned());
        add.extend(replace);
    }
    ensure_labels(state, &add);
    state.change_labels(iid, user_id, &add, &remove, now);
    if let Some(issue) = state.issue_mut(iid) {
        if let Some(title) = text_field(body, "title") {
            issue.title = title;
            issue.updated_at = now;
        }
        if let Some(description) = text_field(body, "description") {
            issue.description = description;
            issue.updated_at = now;
        }
    }
}

async fn list_notes(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((project, iid)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Reply {
    shared.authorize(&headers)?;
    let iid = iid_of(&iid)?;
    let params = Params::parse(query.as_deref());
    let ascending = match params.one("sort") {
        None | Some("") | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(invalid("sort")),
    };
    let base = base_of(&headers);
    let items: Vec<Value> = {
        let state = shared.state();
        check_project(&state, &project)?;
        let issue = state.issue(iid).ok_or_else(not_found_issue)?;
        let mut notes: Vec<&GlNote> = issue.notes.iter().collect();
        notes.sort_by_key(|n| (n.created_at, n.id));
        if !ascending {
            notes.reverse();
        }
        notes
            .into_iter()
            .map(|n| note_json(&base, &state, issue, n))
            .collect()
    };
    paged(&shared, &uri, &headers, &params, items)
}

async fn create_note(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((project, iid)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Reply {
    shared.authorize(&headers)?;
    let iid = iid_of(&iid)?;
    let body = json_body(&body)?;
    let text = text_field(&body, "body")
        .filter(|b| !b.trim().is_empty())
        .ok_or_else(|| missing("body"))?;
    let base = base_of(&headers);
    let json = {
        let mut state = shared.state();
        check_project(&state, &project)?;
        state.issue(iid).ok_or_else(not_found_issue)?;
        let id = add_note(&mut state, iid, shared.bot_id, &text);
        let issue = state.issue(iid).ok_or_else(not_found_issue)?;
        let note = issue
            .notes
            .iter()
            .find(|n| n.id == id)
            .ok_or_else(not_found_issue)?;
        note_json(&base, &state, issue, note)
    };
    shared.control.notify_changed();
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// Adds a user note as `author_id`; returns its ID (0 when the issue does not exist).
pub(crate) fn add_note(state: &mut GitlabState, iid: u64, author_id: u64, body: &str) -> u64 {
    let id = state.new_id();
    let now = OffsetDateTime::now_utc();
    let Some(issue) = state.issue_mut(iid) else {
        return 0;
    };
    issue.notes.push(GlNote {
        id,
        body: body.to_owned(),
        author_id,
        system: false,
        created_at: now,
    });
    issue.updated_at = now;
    id
}

async fn list_label_events(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((project, iid)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Reply {
    shared.authorize(&headers)?;
    let iid = iid_of(&iid)?;
    let params = Params::parse(query.as_deref());
    let base = base_of(&headers);
    let items: Vec<Value> = {
        let state = shared.state();
        check_project(&state, &project)?;
        let issue = state.issue(iid).ok_or_else(not_found_issue)?;
        issue
            .label_events
            .iter()
            .map(|e| {
                // A label deleted since shows as null, as in GitLab.
                let label = state
                    .labels
                    .iter()
                    .find(|l| l.id == e.label_id)
                    .map_or(Value::Null, label_json);
                json!({
                    "id": e.id,
                    "user": state.user(e.user_id).map_or(Value::Null, |u| user_json(&base, u)),
                    "created_at": timestamp(e.created_at),
                    "resource_type": "Issue",
                    "resource_id": issue.id,
                    "label": label,
                    "action": e.action,
                })
            })
            .collect()
    };
    paged(&shared, &uri, &headers, &params, items)
}
