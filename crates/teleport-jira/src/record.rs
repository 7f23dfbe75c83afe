//! The per-request record in Teleport plugin data (namespace `jira`), in the Go plugin's
//! keys and encodings so that an issue the Go plugin opened is continued after an upgrade,
//! and the other way round.
//!
//! Go keys: `issue_id`, `issue_key`, `user`, `roles` (comma-joined), `created` (Unix
//! seconds or ""), `request_reason`, `reviews_count` ("" for 0), `resolution` (lower case
//! `approved|denied|expired|promoted`), `resolve_reason`.
//! Ours, which Go ignores: `claim` (the lease of the replica working on the request) and
//! `close_progress` (how far resolving the issue got). The inbound side's `decision` lease
//! shares the namespace but is not part of this record.

use teleport_client::{AccessRequest, PluginDataMap};
use teleport_plugin_runtime::record::{Lease, REQUEST_DATA_KEYS, RecordCodec, RequestData};

/// The plugin-data namespace, shared with the Go plugin.
pub const PLUGIN_NAME: &str = "jira";

/// How far resolving the issue got after the resolution was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseProgress {
    /// The resolution comment is still to be posted.
    Pending,
    /// Commented; the transition is still to be made.
    Commented,
    /// Nothing left (also a Go record with a resolution: Go resolved in one go).
    Done,
}

impl CloseProgress {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Commented => "commented",
            Self::Done => "done",
        }
    }
}

/// The record of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueRecord {
    /// The issue's numeric ID ("" before it exists).
    pub issue_id: String,
    /// The issue's key, e.g. `ACC-12`.
    pub issue_key: String,
    /// The Go request keys (`user`, `roles`, ..., `resolution`).
    pub request: RequestData,
    /// The lease of the replica working on the request.
    pub claim: Option<Lease>,
    /// Resolving progress; meaningful once `resolution` is set.
    pub close_progress: CloseProgress,
}

/// Every key the codec writes.
const OWN_KEYS: [&str; 4] = ["issue_id", "issue_key", "claim", "close_progress"];

impl IssueRecord {
    /// A fresh record for a request.
    pub fn new(request: &AccessRequest) -> Self {
        Self {
            issue_id: String::new(),
            issue_key: String::new(),
            request: RequestData::of(request),
            claim: None,
            close_progress: CloseProgress::Pending,
        }
    }

    /// Every key with "" for empty values, as the Go plugin writes them.
    pub fn encode(&self) -> PluginDataMap {
        let mut map = PluginDataMap::new();
        self.request.encode_into(&mut map);
        let mut put = |key: &str, value: String| {
            map.insert(key.to_owned(), value);
        };
        put("issue_id", self.issue_id.clone());
        put("issue_key", self.issue_key.clone());
        put(
            "claim",
            self.claim.as_ref().map(Lease::encode).unwrap_or_default(),
        );
        put(
            "close_progress",
            if self.request.resolution.is_some() {
                self.close_progress.as_str().to_owned()
            } else {
                String::new()
            },
        );
        map
    }

    /// Reads a stored record (ours or the Go plugin's).
    pub fn decode(data: &PluginDataMap) -> Self {
        let get = |key: &str| data.get(key).map(String::as_str).unwrap_or("").trim();
        let request = RequestData::decode(data);
        Self {
            issue_id: get("issue_id").to_owned(),
            issue_key: get("issue_key").to_owned(),
            claim: Lease::decode(get("claim")),
            close_progress: match get("close_progress") {
                "pending" => CloseProgress::Pending,
                "commented" => CloseProgress::Commented,
                // A resolution without progress is the Go plugin's, which resolved at once.
                _ if request.resolution.is_some() => CloseProgress::Done,
                _ => CloseProgress::Pending,
            },
            request,
        }
    }

    /// The encoding of "no record": as `expect`, an update succeeds only if nothing is stored.
    pub fn empty_record() -> PluginDataMap {
        REQUEST_DATA_KEYS
            .iter()
            .chain(&OWN_KEYS)
            .map(|k| ((*k).to_owned(), String::new()))
            .collect()
    }
}

impl RecordCodec for IssueRecord {
    type Record = Self;

    fn encode(record: &Self) -> PluginDataMap {
        record.encode()
    }

    fn decode(data: &PluginDataMap) -> Self {
        IssueRecord::decode(data)
    }

    fn empty_record() -> PluginDataMap {
        IssueRecord::empty_record()
    }

    fn lease(record: &mut Self) -> &mut Option<Lease> {
        &mut record.claim
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use teleport_plugin_runtime::record::Resolution;

    use super::*;

    fn map(pairs: &[(&str, &str)]) -> PluginDataMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn reads_a_go_record() {
        let record = IssueRecord::decode(&map(&[
            ("issue_id", "10042"),
            ("issue_key", "TD2-7"),
            ("user", "alice@example.com"),
            ("roles", "dev,ops"),
            ("created", "1700000000"),
            ("request_reason", "deploy"),
            ("reviews_count", "1"),
            ("resolution", ""),
            ("resolve_reason", ""),
        ]));
        assert_eq!(record.issue_id, "10042");
        assert_eq!(record.issue_key, "TD2-7");
        assert_eq!(record.request.roles, ["dev", "ops"]);
        assert_eq!(record.request.created, Some(1_700_000_000));
        assert_eq!(record.request.reviews_count, 1);
        assert_eq!(record.request.resolution, None);
        assert_eq!(record.close_progress, CloseProgress::Pending);

        let resolved = IssueRecord::decode(&map(&[
            ("issue_id", "1"),
            ("user", "a"),
            ("resolution", "denied"),
        ]));
        assert_eq!(resolved.request.resolution, Some(Resolution::Denied));
        assert_eq!(
            resolved.close_progress,
            CloseProgress::Done,
            "Go resolved at once"
        );
    }

    #[test]
    fn writes_go_encodings_and_round_trips() {
        let record = IssueRecord {
            issue_id: "10042".into(),
            issue_key: "TD2-7".into(),
            request: RequestData {
                user: "bob".into(),
                roles: vec!["dba".into()],
                created: None,
                request_reason: "why, because".into(),
                reviews_count: 0,
                resolution: Some(Resolution::Expired),
                resolve_reason: String::new(),
            },
            claim: Some(Lease {
                owner: "host-1 abc".into(),
                until: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            }),
            close_progress: CloseProgress::Commented,
        };
        let encoded = record.encode();
        assert_eq!(encoded["resolution"], "expired", "Go writes lower case");
        assert_eq!(
            encoded["reviews_count"], "",
            "Go writes an empty string for zero"
        );
        assert_eq!(encoded["close_progress"], "commented");
        assert_eq!(IssueRecord::decode(&encoded), record);
        let mut keys: Vec<_> = encoded.into_keys().collect();
        keys.sort();
        let mut empty: Vec<_> = IssueRecord::empty_record().into_keys().collect();
        empty.sort();
        assert_eq!(keys, empty, "the empty record names every key written");
    }
}
