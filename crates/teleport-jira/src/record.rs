//! The per-request record in Teleport plugin data (namespace `jira`), in the Go plugin's
//! keys and encodings so that an issue the Go plugin opened is continued after an upgrade,
//! and the other way round: the runtime's tracker record with Jira's issue keys.
//!
//! Go keys: `issue_id`, `issue_key`, `user`, `roles` (comma-joined), `created` (Unix
//! seconds or ""), `request_reason`, `reviews_count` ("" for 0), `resolution` (lower case
//! `approved|denied|expired|promoted`), `resolve_reason`.
//! Ours, which Go ignores: `claim` (the lease of the replica working on the request) and
//! `close_progress` (how far resolving the issue got: `pending`, `commented`, `done`). The
//! inbound side's `decision` lease shares the namespace but is not part of this record.

use std::fmt;

use teleport_client::PluginDataMap;
use teleport_plugin_runtime::tracker::{self, IssueKeys, stored};

/// The plugin-data namespace, shared with the Go plugin.
pub const PLUGIN_NAME: &str = "jira";

/// The record of one request.
pub type IssueRecord = tracker::IssueRecord<JiraIssue>;

/// A Jira issue as the record names it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JiraIssue {
    /// The issue's numeric ID ("" before it exists).
    pub id: String,
    /// The issue's key, e.g. `ACC-12`.
    pub key: String,
}

impl fmt::Display for JiraIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.key, self.id)
    }
}

impl IssueKeys for JiraIssue {
    const KEYS: &'static [&'static str] = &["issue_id", "issue_key"];
    const NOTED: &'static str = "commented";

    fn encode_into(&self, map: &mut PluginDataMap) {
        map.insert("issue_id".to_owned(), self.id.clone());
        map.insert("issue_key".to_owned(), self.key.clone());
    }

    fn decode(data: &PluginDataMap) -> Self {
        Self {
            id: stored(data, "issue_id").to_owned(),
            key: stored(data, "issue_key").to_owned(),
        }
    }

    fn exists(&self) -> bool {
        !self.id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use teleport_plugin_runtime::record::Resolution;
    use teleport_plugin_runtime::tracker::CloseProgress;

    use super::*;

    #[test]
    fn a_go_record_is_continued_in_its_own_keys() {
        let mut go = PluginDataMap::new();
        for (key, value) in [
            ("issue_id", "10042"),
            ("issue_key", "TD2-7"),
            ("user", "alice@example.com"),
            ("roles", "dev,ops"),
            ("created", "1700000000"),
            ("request_reason", "deploy"),
            ("reviews_count", "1"),
            ("resolution", ""),
            ("resolve_reason", ""),
        ] {
            go.insert(key.into(), value.into());
        }
        let mut record = IssueRecord::decode(&go);
        assert_eq!(record.issue.id, "10042");
        assert_eq!(record.issue.key, "TD2-7");
        assert_eq!(record.request.created, Some(1_700_000_000));
        assert_eq!(record.request.reviews_count, 1);
        assert_eq!(record.close_progress, CloseProgress::Pending);
        let encoded = record.encode();
        for (key, value) in &go {
            assert_eq!(&encoded[key], value, "{key} as Go wrote it");
        }

        record.record_resolution(Resolution::Expired, String::new());
        record.close_progress = CloseProgress::Noted;
        let encoded = record.encode();
        assert_eq!(encoded["resolution"], "expired", "Go writes lower case");
        assert_eq!(encoded["close_progress"], "commented");
        assert_eq!(IssueRecord::decode(&encoded), record);

        go.insert("resolution".into(), "denied".into());
        let resolved = IssueRecord::decode(&go);
        assert_eq!(
            resolved.close_progress,
            CloseProgress::Done,
            "Go resolved at once"
        );
    }
}
