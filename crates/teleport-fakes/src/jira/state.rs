//! What the fake Jira holds: users, one project with its statuses and transitions, issues
//! with properties, comments and a changelog, and the JQL queries it was asked.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

/// The four permissions the plugin checks.
pub const PERMISSIONS: [&str; 4] = [
    "BROWSE_PROJECTS",
    "CREATE_ISSUES",
    "TRANSITION_ISSUES",
    "ADD_COMMENTS",
];

/// Jira Cloud (accounts have IDs, classic search is gone) or Data Center (user names,
/// only the classic search).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// `rest/api/2/search` answers 410 Gone; search with `rest/api/2/search/jql`.
    Cloud,
    /// `rest/api/2/search/jql` does not exist (404); the classic search works.
    DataCenter,
}

/// A Jira user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeJiraUser {
    /// Cloud account ID (also used as the Data Center user key).
    pub account_id: String,
    /// Data Center user name.
    pub name: String,
    /// E-mail address; empty when the user hides it (Cloud privacy settings).
    pub email: String,
    /// Display name.
    pub display_name: String,
}

/// A comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeComment {
    /// Comment ID.
    pub id: String,
    /// Who wrote it.
    pub author: FakeJiraUser,
    /// The text.
    pub body: String,
    /// When, in the fake's order (strictly increasing).
    pub created: SystemTime,
}

/// One changelog entry: a status change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeChange {
    /// Entry ID.
    pub id: String,
    /// Who made it.
    pub author: FakeJiraUser,
    /// When.
    pub created: SystemTime,
    /// The status before.
    pub from: String,
    /// The status after.
    pub to: String,
}

/// An issue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeIssue {
    /// Numeric ID as a string, e.g. `10001`.
    pub id: String,
    /// `<PROJECT>-<n>`.
    pub key: String,
    /// The project key.
    pub project: String,
    /// The issue type name.
    pub issue_type: String,
    /// The summary.
    pub summary: String,
    /// The description (wiki markup).
    pub description: String,
    /// The status name.
    pub status: String,
    /// Entity properties (`teleportAccessRequestId`, ...).
    pub properties: BTreeMap<String, Value>,
    /// Comments, oldest first.
    pub comments: Vec<FakeComment>,
    /// Status changes, oldest first.
    pub changelog: Vec<FakeChange>,
    /// Last change.
    pub updated: SystemTime,
}

/// The project's workflow: statuses and which transition leads to each.
#[derive(Clone, Debug)]
pub struct Workflow {
    /// (transition ID, transition name, target status), offered from every other status.
    pub transitions: Vec<(String, String, String)>,
}

impl Default for Workflow {
    fn default() -> Self {
        let t = |id: &str, status: &str| {
            (
                id.to_owned(),
                format!("Move to {status}"),
                status.to_owned(),
            )
        };
        Self {
            transitions: vec![
                t("11", "Pending"),
                t("21", "Approved"),
                t("31", "Denied"),
                t("41", "Expired"),
            ],
        }
    }
}

/// Everything the fake holds.
#[derive(Debug)]
pub struct JiraState {
    /// The project key.
    pub project: String,
    /// Issue types the project accepts.
    pub issue_types: Vec<String>,
    /// The plugin's own user (the one the API token belongs to).
    pub bot: FakeJiraUser,
    /// Users by account ID.
    pub users: BTreeMap<String, FakeJiraUser>,
    /// Permission key → granted.
    pub permissions: BTreeMap<String, bool>,
    /// Issues in creation order.
    pub issues: Vec<FakeIssue>,
    /// The workflow.
    pub workflow: Workflow,
    /// Every JQL query received, oldest first.
    pub queries: Vec<String>,
    next_id: u64,
    clock: SystemTime,
}

impl JiraState {
    pub(crate) fn new(project: &str, bot: FakeJiraUser) -> Self {
        Self {
            project: project.to_owned(),
            issue_types: vec!["Task".into(), "Access Request".into()],
            users: BTreeMap::from([(bot.account_id.clone(), bot.clone())]),
            bot,
            permissions: PERMISSIONS
                .iter()
                .map(|p| ((*p).to_owned(), true))
                .collect(),
            issues: Vec::new(),
            workflow: Workflow::default(),
            queries: Vec::new(),
            next_id: 10_000,
            clock: SystemTime::UNIX_EPOCH,
        }
    }

    pub(crate) fn next_id(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }

    /// Now, but strictly after anything recorded before, so orders are stable.
    pub(crate) fn tick(&mut self) -> SystemTime {
        let now = SystemTime::now();
        self.clock = if now > self.clock {
            now
        } else {
            self.clock + Duration::from_millis(1)
        };
        self.clock
    }

    /// An issue by ID or key.
    pub fn issue(&self, id_or_key: &str) -> Option<&FakeIssue> {
        self.issues
            .iter()
            .find(|i| i.id == id_or_key || i.key.eq_ignore_ascii_case(id_or_key))
    }

    pub(crate) fn issue_mut(&mut self, id_or_key: &str) -> Option<&mut FakeIssue> {
        self.issues
            .iter_mut()
            .find(|i| i.id == id_or_key || i.key.eq_ignore_ascii_case(id_or_key))
    }

    /// Moves an issue to `status` as `author`, recording the change.
    pub(crate) fn move_issue(&mut self, id: &str, status: &str, author: &FakeJiraUser) -> bool {
        let now = self.tick();
        let change_id = self.next_id();
        let Some(issue) = self.issue_mut(id) else {
            return false;
        };
        let from = std::mem::replace(&mut issue.status, status.to_owned());
        issue.changelog.push(FakeChange {
            id: change_id,
            author: author.clone(),
            created: now,
            from,
            to: status.to_owned(),
        });
        issue.updated = now;
        true
    }

    /// Adds a comment as `author`.
    pub(crate) fn add_comment(
        &mut self,
        id: &str,
        author: &FakeJiraUser,
        body: &str,
    ) -> Option<FakeComment> {
        let now = self.tick();
        let comment_id = self.next_id();
        let issue = self.issue_mut(id)?;
        let comment = FakeComment {
            id: comment_id,
            author: author.clone(),
            body: body.to_owned(),
            created: now,
        };
        issue.comments.push(comment.clone());
        issue.updated = now;
        Some(comment)
    }
}

/// Jira's timestamp form, `2024-05-01T12:00:00.000+0000`.
pub(crate) fn timestamp(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// A user as Jira shows it in each flavour.
pub(crate) fn user_json(user: &FakeJiraUser, flavour: Flavour) -> Value {
    let mut value = json!({ "displayName": user.display_name, "active": true });
    match flavour {
        Flavour::Cloud => value["accountId"] = json!(user.account_id),
        Flavour::DataCenter => {
            value["name"] = json!(user.name);
            value["key"] = json!(user.account_id);
        }
    }
    if !user.email.is_empty() {
        value["emailAddress"] = json!(user.email);
    }
    value
}

pub(crate) fn comment_json(comment: &FakeComment, flavour: Flavour) -> Value {
    json!({
        "id": comment.id,
        "author": user_json(&comment.author, flavour),
        "body": comment.body,
        "created": timestamp(comment.created),
    })
}

fn status_json(name: &str) -> Value {
    json!({ "name": name, "id": name.to_ascii_lowercase() })
}

/// What a GET of an issue (or a search hit) asked for.
#[derive(Debug, Default)]
pub(crate) struct IssueView {
    /// `fields=`; empty = all.
    pub fields: Vec<String>,
    /// `expand=changelog`.
    pub changelog: bool,
    /// `expand=transitions`.
    pub transitions: bool,
    /// `properties=`.
    pub properties: Vec<String>,
}

impl IssueView {
    pub(crate) fn from_query(query: &BTreeMap<String, String>) -> Self {
        let list = |key: &str| -> Vec<String> {
            query
                .get(key)
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let expand = list("expand");
        Self {
            fields: list("fields"),
            changelog: expand.iter().any(|e| e == "changelog"),
            transitions: expand.iter().any(|e| e == "transitions"),
            properties: list("properties"),
        }
    }

    fn wants(&self, field: &str) -> bool {
        self.fields.is_empty() || self.fields.iter().any(|f| f == field || f == "*all")
    }
}

pub(crate) fn issue_json(
    state: &JiraState,
    issue: &FakeIssue,
    view: &IssueView,
    base: &str,
    flavour: Flavour,
) -> Value {
    let mut fields = serde_json::Map::new();
    if view.wants("status") {
        fields.insert("status".into(), status_json(&issue.status));
    }
    if view.wants("summary") {
        fields.insert("summary".into(), json!(issue.summary));
    }
    if view.wants("description") {
        fields.insert("description".into(), json!(issue.description));
    }
    if view.wants("issuetype") {
        fields.insert("issuetype".into(), json!({ "name": issue.issue_type }));
    }
    if view.wants("project") {
        fields.insert("project".into(), json!({ "key": issue.project }));
    }
    if view.wants("updated") {
        fields.insert("updated".into(), json!(timestamp(issue.updated)));
    }
    if view.wants("comment") {
        let comments: Vec<Value> = issue
            .comments
            .iter()
            .map(|c| comment_json(c, flavour))
            .collect();
        fields.insert(
            "comment".into(),
            json!({ "comments": comments, "startAt": 0, "maxResults": comments.len(), "total": comments.len() }),
        );
    }
    let properties: serde_json::Map<String, Value> = view
        .properties
        .iter()
        .filter_map(|key| issue.properties.get(key).map(|v| (key.clone(), v.clone())))
        .collect();
    let mut value = json!({
        "id": issue.id,
        "key": issue.key,
        "self": format!("{base}/rest/api/2/issue/{}", issue.id),
        "fields": fields,
        "properties": properties,
    });
    if view.changelog {
        let histories: Vec<Value> = issue
            .changelog
            .iter()
            .map(|change| {
                json!({
                    "id": change.id,
                    "author": user_json(&change.author, flavour),
                    "created": timestamp(change.created),
                    "items": [{
                        "field": "status", "fieldtype": "jira", "fieldId": "status",
                        "from": change.from.to_ascii_lowercase(), "fromString": change.from,
                        "to": change.to.to_ascii_lowercase(), "toString": change.to,
                    }],
                })
            })
            .collect();
        value["changelog"] = json!({
            "startAt": 0, "maxResults": histories.len(), "total": histories.len(), "histories": histories,
        });
    }
    if view.transitions {
        value["transitions"] = transitions_json(state, issue);
    }
    value
}

pub(crate) fn transitions_json(state: &JiraState, issue: &FakeIssue) -> Value {
    Value::Array(
        state
            .workflow
            .transitions
            .iter()
            .filter(|(_, _, to)| !to.eq_ignore_ascii_case(&issue.status))
            .map(|(id, name, to)| json!({ "id": id, "name": name, "to": status_json(to) }))
            .collect(),
    )
}
