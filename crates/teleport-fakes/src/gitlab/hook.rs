//! The `Issue Hook` webhook as GitLab delivers it: the JSON body built from the fake's state
//! and a change of labels, and the POST with GitLab's headers.

use serde_json::{Value, json};

use super::api::{label_json, timestamp};
use super::state::{GitlabState, GlIssue};

/// An issue's labels before and after a change (what `changes.labels` reports).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelChange {
    /// Label names before.
    pub previous: Vec<String>,
    /// Label names after.
    pub current: Vec<String>,
}

/// What GitLab sends with a hook besides the body.
pub const EVENT_HEADER: &str = "X-Gitlab-Event";
/// The hook's secret, as configured.
pub const TOKEN_HEADER: &str = "X-Gitlab-Token";
/// The `X-Gitlab-Event` value of issue events.
pub const ISSUE_HOOK: &str = "Issue Hook";

fn labels_json(state: &GitlabState, names: &[String]) -> Vec<Value> {
    names
        .iter()
        .filter_map(|name| state.label(name))
        .map(|label| {
            let mut json = label_json(label);
            // The hook names labels `title` and adds project fields.
            json["title"] = json!(label.name);
            json["project_id"] = json!(state.project_id);
            json["type"] = json!("ProjectLabel");
            json["group_id"] = Value::Null;
            json["template"] = json!(false);
            json
        })
        .collect()
}

/// The body of an `Issue Hook` for `issue` changed by `user_id` with `action` (`open`,
/// `update`, `close`, `reopen`); `change` fills `changes.labels` when given.
pub(crate) fn issue_hook_body(
    base: &str,
    state: &GitlabState,
    issue: &GlIssue,
    user_id: u64,
    action: &str,
    change: Option<&LabelChange>,
) -> Value {
    let user = state.user(user_id).map_or(Value::Null, |u| {
        json!({
            "id": u.id,
            "name": u.name,
            "username": u.username,
            "avatar_url": format!("{base}/uploads/-/system/user/avatar/{}/avatar.png", u.id),
            "email": u.email,
        })
    });
    let project_url = format!("{base}/{}", state.project_path);
    let name = state
        .project_path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let current = labels_json(state, &issue.labels);
    let mut changes = json!({
        "updated_by_id": { "previous": null, "current": user_id },
        "updated_at": { "previous": null, "current": timestamp(issue.updated_at) },
    });
    if let Some(change) = change {
        changes["labels"] = json!({
            "previous": labels_json(state, &change.previous),
            "current": labels_json(state, &change.current),
        });
    }
    json!({
        "object_kind": "issue",
        "event_type": "issue",
        "user": user,
        "project": {
            "id": state.project_id,
            "name": name,
            "description": "",
            "web_url": project_url,
            "avatar_url": null,
            "namespace": state.project_path.split('/').next().unwrap_or_default(),
            "visibility_level": 0,
            "path_with_namespace": state.project_path,
            "default_branch": "main",
            "url": format!("{project_url}.git"),
            "homepage": project_url,
        },
        "object_attributes": {
            "id": issue.id,
            "iid": issue.iid,
            "title": issue.title,
            "description": issue.description,
            "project_id": state.project_id,
            "author_id": issue.author_id,
            "assignee_ids": [],
            "created_at": timestamp(issue.created_at),
            "updated_at": timestamp(issue.updated_at),
            "updated_by_id": user_id,
            "state": issue.state,
            "state_id": if issue.state == "closed" { 2 } else { 1 },
            "confidential": false,
            "type": "Issue",
            "url": format!("{project_url}/-/issues/{}", issue.iid),
            "action": action,
            "labels": current.clone(),
        },
        "repository": { "name": name, "url": format!("{project_url}.git"), "homepage": project_url },
        "assignees": [],
        "labels": current,
        "changes": changes,
    })
}

/// POSTs `body` to `url` the way GitLab delivers a hook: JSON, `X-Gitlab-Event: Issue Hook`,
/// `X-Gitlab-Token` when `token` is given, instance and UUID headers. `client` decides TLS
/// (a test CA for an HTTPS receiver). Returns the receiver's status.
pub async fn send_issue_hook(
    client: &reqwest::Client,
    instance: &str,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> reqwest::Result<reqwest::StatusCode> {
    let delivery = format!("{:032x}", rand_u128());
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::USER_AGENT, "GitLab/17.5.0")
        .header(EVENT_HEADER, ISSUE_HOOK)
        .header("X-Gitlab-Instance", instance)
        .header("X-Gitlab-Event-UUID", &delivery)
        .header("X-Gitlab-Webhook-UUID", &delivery)
        .body(body.to_string());
    if let Some(token) = token {
        request = request.header(TOKEN_HEADER, token);
    }
    Ok(request.send().await?.status())
}

/// Enough randomness for delivery IDs without another dependency.
fn rand_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let mut high = state.build_hasher();
    high.write_u64(1);
    let mut low = state.build_hasher();
    low.write_u64(2);
    (u128::from(high.finish()) << 64) | u128::from(low.finish())
}
