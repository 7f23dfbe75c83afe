//! The per-request record in Teleport plugin data (namespace `gitlab`), in the Go plugin's
//! keys and encodings so that a record the Go plugin wrote is continued: the runtime's
//! tracker record with GitLab's issue keys.
//!
//! Go keys: `project_id`, `issue_iid`, `issue_id` (decimal, "" for none), `user`, `roles`
//! (comma-joined), `created` (Unix seconds or ""), `request_reason`, `reviews_count` (""
//! for 0), `resolution` (lower case `approved|denied|expired`), `resolve_reason`.
//! Ours, which the Go plugin ignores: `claim` (the lease of the replica working on the
//! request) and `close_progress` (how far closing the issue got: `pending`, `noted`, `done`).

use std::fmt;

use teleport_client::PluginDataMap;
use teleport_plugin_runtime::tracker::{self, IssueKeys, stored};

use crate::client::Issue;

/// The record of one request.
pub type IssueRecord = tracker::IssueRecord<GitlabIssue>;

/// A GitLab issue as the record names it (0 for none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GitlabIssue {
    /// The project the issue is in.
    pub project_id: u64,
    /// The issue's number in the project.
    pub iid: u64,
    /// The issue's global ID.
    pub id: u64,
}

impl From<&Issue> for GitlabIssue {
    fn from(issue: &Issue) -> Self {
        Self {
            project_id: issue.project_id,
            iid: issue.iid,
            id: issue.id,
        }
    }
}

impl fmt::Display for GitlabIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.iid)
    }
}

fn number(value: u64) -> String {
    if value == 0 {
        String::new()
    } else {
        value.to_string()
    }
}

impl IssueKeys for GitlabIssue {
    const KEYS: &'static [&'static str] = &["project_id", "issue_iid", "issue_id"];
    const NOTED: &'static str = "noted";

    fn encode_into(&self, map: &mut PluginDataMap) {
        map.insert("project_id".to_owned(), number(self.project_id));
        map.insert("issue_iid".to_owned(), number(self.iid));
        map.insert("issue_id".to_owned(), number(self.id));
    }

    fn decode(data: &PluginDataMap) -> Self {
        let id = |key: &str| stored(data, key).parse::<u64>().unwrap_or(0);
        Self {
            project_id: id("project_id"),
            iid: id("issue_iid"),
            id: id("issue_id"),
        }
    }

    fn exists(&self) -> bool {
        self.iid != 0 && self.project_id != 0
    }
}

#[cfg(test)]
mod tests {
    use teleport_plugin_runtime::record::Resolution;
    use teleport_plugin_runtime::tracker::CloseProgress;

    use super::*;

    /// A record as the Go plugin writes it, after it closed the issue.
    fn go_record() -> PluginDataMap {
        let pairs = [
            ("project_id", "1812345"),
            ("issue_iid", "7"),
            ("issue_id", "90001"),
            ("user", "alice@example.com"),
            ("roles", "dev,ops"),
            ("created", "1700000000"),
            ("request_reason", "deploy"),
            ("reviews_count", "2"),
            ("resolution", "denied"),
            ("resolve_reason", "no"),
        ];
        PluginDataMap::from(pairs.map(|(key, value)| (key.to_owned(), value.to_owned())))
    }

    #[test]
    fn reads_a_go_record_and_writes_it_back_as_go_did() {
        let stored = go_record();
        let record = IssueRecord::decode(&stored);
        let issue = GitlabIssue {
            project_id: 1_812_345,
            iid: 7,
            id: 90_001,
        };
        assert_eq!(record.issue, issue);
        assert_eq!(record.request.roles, ["dev", "ops"]);
        assert_eq!(record.request.reviews_count, 2);
        assert_eq!(record.request.resolution, Some(Resolution::Denied));
        assert_eq!(
            record.close_progress,
            CloseProgress::Done,
            "Go closed in one go"
        );
        assert!(record.has_issue() && !record.fresh);
        let written = record.encode();
        assert!(stored.iter().all(|(key, value)| &written[key] == value));
    }

    #[test]
    fn zero_is_written_as_nothing_and_progress_as_noted() {
        let mut record = IssueRecord::decode(&go_record());
        record.issue.id = 0;
        record.request.reviews_count = 0;
        record.close_progress = CloseProgress::Noted;
        let written = record.encode();
        assert_eq!(written["issue_id"], "", "Go writes \"\" for 0");
        assert_eq!(written["reviews_count"], "");
        assert_eq!(written["close_progress"], "noted");
        assert_eq!(IssueRecord::decode(&written), record);
    }
}
