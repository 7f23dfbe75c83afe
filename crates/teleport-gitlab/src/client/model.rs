//! What the GitLab client sends and reads: the fields of GitLab's JSON the plugin uses.

use reqwest::Url;
use serde::Deserialize;
use serde_json::{Value, json};

/// A project.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Project {
    /// Numeric ID.
    pub id: u64,
    /// `group/project`.
    #[serde(default)]
    pub path_with_namespace: String,
    /// The project's page.
    #[serde(default)]
    pub web_url: String,
}

/// A user as other objects show them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct User {
    /// User ID.
    pub id: u64,
    /// Login name.
    #[serde(default)]
    pub username: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
}

/// A label.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Label {
    /// Label ID.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// `#RRGGBB`.
    #[serde(default)]
    pub color: String,
}

/// A label as a label event shows it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct LabelRef {
    /// Label ID.
    pub id: u64,
    /// Its name.
    #[serde(default)]
    pub name: String,
}

/// A project hook (GitLab never shows its secret).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Hook {
    /// Hook ID.
    pub id: u64,
    /// Where GitLab posts.
    pub url: String,
    /// Subscribed to issue events.
    #[serde(default)]
    pub issues_events: bool,
}

/// What the plugin's hook is set to, on create and on every start.
#[derive(Clone, PartialEq, Eq)]
pub struct HookSpec {
    /// `<public_addr>/webhook`.
    pub url: String,
    /// Sent back as `X-Gitlab-Token`.
    pub token: String,
}

impl std::fmt::Debug for HookSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookSpec").finish_non_exhaustive()
    }
}

impl HookSpec {
    /// Issue events only: GitLab subscribes a new hook to pushes unless told otherwise.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "url": self.url,
            "token": self.token,
            "issues_events": true,
            "push_events": false,
            "enable_ssl_verification": true,
        })
    }
}

/// An issue.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Issue {
    /// Global ID.
    pub id: u64,
    /// Number in the project.
    pub iid: u64,
    /// The project.
    pub project_id: u64,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Markdown description (null when empty).
    #[serde(default)]
    pub description: Option<String>,
    /// `opened` or `closed`.
    #[serde(default)]
    pub state: String,
    /// Label names.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Last change, RFC 3339.
    #[serde(default)]
    pub updated_at: String,
    /// The issue's page.
    #[serde(default)]
    pub web_url: String,
}

impl Issue {
    /// The description, "" when there is none.
    pub fn description(&self) -> &str {
        self.description.as_deref().unwrap_or_default()
    }
}

/// What an issue is opened with.
#[derive(Clone, Debug)]
pub struct NewIssue {
    /// Title.
    pub title: String,
    /// Markdown description.
    pub description: String,
    /// Label names.
    pub labels: Vec<String>,
}

/// Filters for listing issues.
#[derive(Clone, Debug, Default)]
pub struct IssueQuery {
    /// `opened`, `closed`; `None` for all.
    pub state: Option<&'static str>,
    /// Text to look for (`search`).
    pub search: Option<String>,
    /// Where to look for it (`in`: `title`, `description`, or both comma-joined).
    pub search_in: Option<&'static str>,
    /// Only issues changed at or after this RFC 3339 time.
    pub updated_after: Option<String>,
    /// Oldest change first (`order_by=updated_at&sort=asc`) instead of GitLab's default.
    pub oldest_change_first: bool,
}

impl IssueQuery {
    pub(crate) fn append_to(&self, url: &mut Url) {
        let mut pairs = url.query_pairs_mut();
        if let Some(state) = self.state {
            pairs.append_pair("state", state);
        }
        if let Some(search) = &self.search {
            pairs.append_pair("search", search);
        }
        if let Some(scope) = self.search_in {
            pairs.append_pair("in", scope);
        }
        if let Some(after) = &self.updated_after {
            pairs.append_pair("updated_after", after);
        }
        if self.oldest_change_first {
            pairs.append_pair("order_by", "updated_at");
            pairs.append_pair("sort", "asc");
        }
    }
}

/// A change to an issue.
#[derive(Clone, Debug, Default)]
pub struct IssueUpdate {
    /// `close` or `reopen`.
    pub state_event: Option<&'static str>,
    /// Labels to add.
    pub add_labels: Vec<String>,
    /// Labels to remove.
    pub remove_labels: Vec<String>,
}

impl IssueUpdate {
    pub(crate) fn to_json(&self) -> Value {
        let mut body = serde_json::Map::new();
        if let Some(event) = self.state_event {
            body.insert("state_event".into(), json!(event));
        }
        if !self.add_labels.is_empty() {
            body.insert("add_labels".into(), json!(self.add_labels.join(",")));
        }
        if !self.remove_labels.is_empty() {
            body.insert("remove_labels".into(), json!(self.remove_labels.join(",")));
        }
        Value::Object(body)
    }
}

/// A note on an issue.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Note {
    /// Note ID (grows with time).
    pub id: u64,
    /// Markdown text.
    #[serde(default)]
    pub body: String,
    /// Who wrote it.
    #[serde(default)]
    pub author: User,
    /// Written by GitLab itself (label and state changes).
    #[serde(default)]
    pub system: bool,
    /// When, RFC 3339.
    #[serde(default)]
    pub created_at: String,
}

/// Who added or removed a label, and when.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct LabelEvent {
    /// Event ID (grows with time).
    pub id: u64,
    /// Who did it (null for a deleted user).
    #[serde(default)]
    pub user: Option<User>,
    /// When, RFC 3339.
    #[serde(default)]
    pub created_at: String,
    /// The label (null when it was deleted since).
    #[serde(default)]
    pub label: Option<LabelRef>,
    /// `add` or `remove`.
    #[serde(default)]
    pub action: String,
}

/// A project member.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Member {
    /// User ID.
    pub id: u64,
    /// Login name.
    #[serde(default)]
    pub username: String,
    /// 10 guest … 50 owner.
    #[serde(default)]
    pub access_level: u8,
}
