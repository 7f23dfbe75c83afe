//! The per-request record in Teleport plugin data (namespace `gitlab`), in the Go plugin's
//! keys and encodings so that a record the Go plugin wrote is continued.
//!
//! Go keys: `project_id`, `issue_iid`, `issue_id` (decimal, "" for none), `user`, `roles`
//! (comma-joined), `created` (Unix seconds or ""), `request_reason`, `reviews_count` (""
//! for 0), `resolution` (lower case `approved|denied|expired`), `resolve_reason`.
//! Ours, which the Go plugin ignores: `claim` (the lease of the replica working on the
//! request) and `close_progress` (how far closing the issue got).

use teleport_client::{AccessRequest, PluginDataMap};
use teleport_plugin_runtime::record::{Lease, REQUEST_DATA_KEYS, RecordCodec, RequestData};

/// How far closing the issue got after the resolution was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseProgress {
    /// The resolution note is still to be posted.
    Pending,
    /// The note is posted; the issue is still to be relabelled and closed.
    Noted,
    /// Nothing left to do (also a Go record with a resolution: Go closed in one go).
    Done,
}

impl CloseProgress {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Noted => "noted",
            Self::Done => "done",
        }
    }
}

/// The record of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueRecord {
    /// The project the issue is in (0 while there is no issue).
    pub project_id: u64,
    /// The issue's number in the project (0 while there is none).
    pub issue_iid: u64,
    /// The issue's global ID (0 while there is none).
    pub issue_id: u64,
    /// The Go request keys (`user`, `roles`, ..., `resolution`).
    pub request: RequestData,
    /// The lease of the replica working on the request.
    pub claim: Option<Lease>,
    /// Closing progress; meaningful once `resolution` is set.
    pub close_progress: CloseProgress,
    /// Made by this process for this step, not read from Teleport (never stored): an
    /// issue may only exist unrecorded for a record that was stored before.
    pub fresh: bool,
}

/// Every key the codec writes.
const OWN_KEYS: [&str; 5] = [
    "project_id",
    "issue_iid",
    "issue_id",
    "claim",
    "close_progress",
];

fn number(value: u64) -> String {
    if value == 0 {
        String::new()
    } else {
        value.to_string()
    }
}

impl IssueRecord {
    /// A fresh record for a request.
    pub fn new(request: &AccessRequest) -> Self {
        Self {
            project_id: 0,
            issue_iid: 0,
            issue_id: 0,
            request: RequestData::of(request),
            claim: None,
            close_progress: CloseProgress::Pending,
            fresh: true,
        }
    }

    /// Whether an issue is recorded.
    pub fn has_issue(&self) -> bool {
        self.issue_iid != 0 && self.project_id != 0
    }

    /// Every key with "" for empty values, as the Go plugin writes them.
    pub fn encode(&self) -> PluginDataMap {
        let mut map = PluginDataMap::new();
        self.request.encode_into(&mut map);
        let mut put = |key: &str, value: String| {
            map.insert(key.to_owned(), value);
        };
        put("project_id", number(self.project_id));
        put("issue_iid", number(self.issue_iid));
        put("issue_id", number(self.issue_id));
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

    /// The encoding of "no record": as `expect`, an update succeeds only if nothing is stored.
    pub fn empty_record() -> PluginDataMap {
        REQUEST_DATA_KEYS
            .iter()
            .chain(&OWN_KEYS)
            .map(|k| ((*k).to_owned(), String::new()))
            .collect()
    }

    /// Reads a stored record (ours or the Go plugin's).
    pub fn decode(data: &PluginDataMap) -> Self {
        let get = |key: &str| data.get(key).map(String::as_str).unwrap_or("").trim();
        let id = |key: &str| get(key).parse::<u64>().unwrap_or(0);
        let request = RequestData::decode(data);
        Self {
            project_id: id("project_id"),
            issue_iid: id("issue_iid"),
            issue_id: id("issue_id"),
            claim: Lease::decode(get("claim")),
            close_progress: match get("close_progress") {
                "pending" => CloseProgress::Pending,
                "noted" => CloseProgress::Noted,
                _ if request.resolution.is_some() => CloseProgress::Done,
                _ => CloseProgress::Pending,
            },
            request,
            fresh: false,
        }
    }
}

// The inherent methods above, for the runtime's leased-record helper.
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
        ]));
        assert_eq!(
            (record.project_id, record.issue_iid, record.issue_id),
            (1_812_345, 7, 90_001)
        );
        assert_eq!(record.request.roles, ["dev", "ops"]);
        assert_eq!(record.request.reviews_count, 2);
        assert_eq!(record.request.resolution, Some(Resolution::Denied));
        assert_eq!(
            record.close_progress,
            CloseProgress::Done,
            "Go closed in one go"
        );
        assert!(record.has_issue() && !record.fresh);
    }

    #[test]
    fn writes_go_encodings_and_round_trips() {
        let record = IssueRecord {
            project_id: 5,
            issue_iid: 3,
            issue_id: 0,
            request: RequestData {
                user: "bob".into(),
                roles: vec!["dba".into()],
                created: None,
                request_reason: "why, because".into(),
                reviews_count: 0,
                resolution: Some(Resolution::Approved),
                resolve_reason: "ok".into(),
            },
            claim: Some(Lease {
                owner: "host-1 abc".into(),
                until: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            }),
            close_progress: CloseProgress::Noted,
            fresh: false,
        };
        let encoded = record.encode();
        assert_eq!(encoded["resolution"], "approved", "Go writes lower case");
        assert_eq!(encoded["issue_id"], "", "Go writes \"\" for 0");
        assert_eq!(encoded["reviews_count"], "");
        assert_eq!(encoded["close_progress"], "noted");
        assert_eq!(IssueRecord::decode(&encoded), record);
    }

    #[test]
    fn empty_record_covers_every_written_key() {
        let mut written: Vec<_> = IssueRecord::decode(&PluginDataMap::new())
            .encode()
            .into_keys()
            .collect();
        written.sort();
        let mut empty: Vec<_> = IssueRecord::empty_record().into_keys().collect();
        empty.sort();
        assert_eq!(written, empty);
    }
}
