//! Jira's JSON shapes as the plugin reads them: issues with their status, properties,
//! changelog and transitions; users; comments. Every field is optional on the wire, so
//! Cloud and Data Center answers (which differ in user fields) both read.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// An issue.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Issue {
    /// Numeric ID.
    pub id: String,
    /// `PROJ-123`.
    #[serde(default)]
    pub key: String,
    /// The fields asked for.
    #[serde(default)]
    pub fields: IssueFields,
    /// `expand=changelog`.
    #[serde(default)]
    pub changelog: Option<Changelog>,
    /// Entity properties asked for.
    #[serde(default)]
    pub properties: BTreeMap<String, Value>,
    /// `expand=transitions`.
    #[serde(default)]
    pub transitions: Vec<Transition>,
}

impl Issue {
    /// The status name, as shown on the board.
    pub fn status(&self) -> &str {
        self.fields.status.as_ref().map_or("", |s| s.name.as_str())
    }

    /// A string property (numbers read as text); `None` when absent or empty.
    pub fn property(&self, key: &str) -> Option<String> {
        let text = match self.properties.get(key)? {
            Value::String(text) => text.trim().to_owned(),
            Value::Number(number) => number.to_string(),
            _ => return None,
        };
        (!text.is_empty()).then_some(text)
    }

    /// Who last moved the issue into `status` (any case), by the changelog.
    pub fn moved_to_by(&self, status: &str) -> Option<&JiraUser> {
        self.changelog
            .as_ref()?
            .histories
            .iter()
            .rev()
            .find(|history| {
                history.items.iter().any(|item| {
                    item.field.eq_ignore_ascii_case("status")
                        && item
                            .to_string
                            .as_deref()
                            .is_some_and(|to| to.eq_ignore_ascii_case(status))
                })
            })
            .and_then(|history| history.author.as_ref())
    }

    /// Whether the changelog here may be missing older entries.
    pub fn changelog_truncated(&self) -> bool {
        self.changelog
            .as_ref()
            .is_some_and(|c| c.total.is_some_and(|total| total > c.histories.len()))
    }
}

/// The fields the plugin reads.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct IssueFields {
    /// The status.
    #[serde(default)]
    pub status: Option<Status>,
}

/// A status.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Status {
    /// Its name.
    #[serde(default)]
    pub name: String,
}

/// The issue's changelog.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Changelog {
    /// Entries, oldest first.
    #[serde(default)]
    pub histories: Vec<History>,
    /// How many entries there are in all.
    #[serde(default)]
    pub total: Option<usize>,
}

/// One changelog entry.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct History {
    /// Who made the change.
    #[serde(default)]
    pub author: Option<JiraUser>,
    /// The fields it changed.
    #[serde(default)]
    pub items: Vec<ChangeItem>,
}

/// One changed field.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ChangeItem {
    /// The field (`status`).
    #[serde(default)]
    pub field: String,
    /// The new value's display form.
    #[serde(default, rename = "toString")]
    pub to_string: Option<String>,
}

/// A transition the issue offers.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Transition {
    /// Its ID.
    #[serde(default)]
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// The status it leads to.
    #[serde(default)]
    pub to: Status,
}

/// A Jira user: Cloud has `accountId` (and hides `emailAddress` by privacy setting),
/// Data Center has `name` and `key`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct JiraUser {
    /// Cloud account ID.
    #[serde(default, rename = "accountId")]
    pub account_id: Option<String>,
    /// Data Center user name.
    #[serde(default)]
    pub name: Option<String>,
    /// Data Center user key.
    #[serde(default)]
    pub key: Option<String>,
    /// E-mail, when visible.
    #[serde(default, rename = "emailAddress")]
    pub email: Option<String>,
    /// Display name.
    #[serde(default, rename = "displayName")]
    pub display_name: Option<String>,
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

impl JiraUser {
    /// Whether `other` is the same person (account ID on Cloud, key or name on Data Center).
    pub fn same_person(&self, other: &JiraUser) -> bool {
        if let (Some(a), Some(b)) = (present(&self.account_id), present(&other.account_id)) {
            return a == b;
        }
        if let (Some(a), Some(b)) = (present(&self.key), present(&other.key)) {
            return a == b;
        }
        matches!((present(&self.name), present(&other.name)), (Some(a), Some(b)) if a == b)
    }

    /// How the audit log names them: the e-mail (as Go), else the account ID or user name.
    pub fn audit_name(&self) -> Option<&str> {
        present(&self.email)
            .or_else(|| present(&self.account_id))
            .or_else(|| present(&self.name))
    }
}

/// A comment.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Comment {
    /// Its ID.
    #[serde(default)]
    pub id: String,
    /// Who wrote it.
    #[serde(default)]
    pub author: Option<JiraUser>,
    /// The text (wiki markup in API v2).
    #[serde(default)]
    pub body: String,
}
