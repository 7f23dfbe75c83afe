//! The per-request record in Teleport plugin data (namespace `pagerduty`), in the Go
//! plugin's keys and encodings so that a record written by the Go plugin is continued after
//! an upgrade, and the other way round.
//!
//! Go keys: `incident_id`, `service_id`, `user`, `roles` (comma-joined), `created` (Unix
//! seconds or ""), `request_reason`, `reviews_count` ("" for 0), `resolution` (lower case
//! `approved|denied|expired|promoted`), `resolve_reason`.
//! Our additions, which the Go plugin ignores: `claim` (the lease of the replica working on
//! the request, as in the messaging plugins), `auto_approval` (the on-call decision, taken
//! once; `pending` until then) and `close_progress` (how far closing the incident got).
//!
//! A record without `auto_approval` is the Go plugin's: Go tries the auto-approval only in
//! the handling that creates its record (it opens the incident then) and never again, so
//! that record's on-call decision counts as taken ([`ApprovalOutcome::ByGo`]).

use teleport_client::{AccessRequest, PluginDataMap};
pub use teleport_plugin_runtime::approval::ApprovalOutcome;
use teleport_plugin_runtime::incident::progress;
use teleport_plugin_runtime::record::{Lease, RequestData};

/// How far closing the incident got after the resolution was recorded: the issue trackers'
/// steps (the resolution note, then the closing call), stored with the same words.
pub use teleport_plugin_runtime::tracker::CloseProgress;

/// The stored `close_progress` once the resolution note is posted.
const NOTED: &str = "noted";

/// The record of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentRecord {
    /// The incident opened for the request ("" when none yet).
    pub incident_id: String,
    /// The service it is (being) opened on ("" when none). Set before the incident is
    /// created, so a record with a service and no incident may have an open incident.
    pub service_id: String,
    /// The Go request keys (`user`, `roles`, ..., `resolution`).
    pub request: RequestData,
    /// The lease of the replica working on the request.
    pub claim: Option<Lease>,
    /// The on-call decision, once taken.
    pub auto_approval: Option<ApprovalOutcome>,
    /// Closing progress; meaningful once `resolution` is set.
    pub close_progress: CloseProgress,
}

/// Every key the codec writes.
const OWN_KEYS: [&str; 5] = [
    "incident_id",
    "service_id",
    "claim",
    "auto_approval",
    "close_progress",
];

impl IncidentRecord {
    /// A fresh record for a request.
    pub fn new(request: &AccessRequest) -> Self {
        Self {
            incident_id: String::new(),
            service_id: String::new(),
            request: RequestData::of(request),
            claim: None,
            auto_approval: None,
            close_progress: CloseProgress::Pending,
        }
    }

    /// What closing involves once the resolution is recorded: a chosen service may have an
    /// incident whose ID was never recorded.
    fn plan_close(&mut self) {
        self.close_progress = if self.incident_id.is_empty() && self.service_id.is_empty() {
            CloseProgress::Done
        } else {
            CloseProgress::Pending
        };
    }

    fn is_closed(&self) -> bool {
        self.close_progress == CloseProgress::Done
    }

    /// Every key with "" for empty values, as the Go plugin writes them: as `set` it
    /// describes the whole record.
    pub fn encode(&self) -> PluginDataMap {
        let mut map = PluginDataMap::new();
        self.request.encode_into(&mut map);
        let mut put = |key: &str, value: String| {
            map.insert(key.to_owned(), value);
        };
        put("incident_id", self.incident_id.clone());
        put("service_id", self.service_id.clone());
        put(
            "close_progress",
            self.close_progress
                .encode(self.request.resolution, NOTED)
                .to_owned(),
        );
        progress::put_lease_and_approval(&mut map, self.claim.as_ref(), self.auto_approval);
        map
    }

    /// Reads a stored record (ours or the Go plugin's).
    pub fn decode(data: &PluginDataMap) -> Self {
        let get = |key: &str| data.get(key).map(String::as_str).unwrap_or("").trim();
        let request = RequestData::decode(data);
        let (claim, auto_approval) = progress::lease_and_approval(data);
        Self {
            incident_id: get("incident_id").to_owned(),
            service_id: get("service_id").to_owned(),
            claim,
            auto_approval,
            // A resolution without progress is the Go plugin's, which closed in one go.
            close_progress: CloseProgress::decode(get("close_progress"), request.resolution, NOTED),
            request,
        }
    }

    /// The incident key PagerDuty de-duplicates on.
    pub fn incident_key(request_id: &str) -> String {
        format!("teleport-access-request/{request_id}")
    }
}

teleport_plugin_runtime::request_data_record!(IncidentRecord, incident: incident_id, own_keys: OWN_KEYS);

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use teleport_plugin_runtime::record::{RecordCodec, Resolution};

    use super::*;

    use teleport_plugin_testsupport::plugin_data as map;

    #[test]
    fn reads_a_go_record_as_finished_when_resolved() {
        let data = map(&[
            ("incident_id", "PINC1"),
            ("service_id", "PSVC1"),
            ("user", "alice@example.com"),
            ("roles", "dev,ops"),
            ("created", "1700000000"),
            ("request_reason", "deploy"),
            ("reviews_count", "2"),
            ("resolution", "approved"),
            ("resolve_reason", "ok"),
        ]);
        let record = IncidentRecord::decode(&data);
        assert_eq!(record.incident_id, "PINC1");
        assert_eq!(record.request.roles, ["dev", "ops"]);
        assert_eq!(record.request.created, Some(1_700_000_000));
        assert_eq!(record.request.reviews_count, 2);
        assert_eq!(record.request.resolution, Some(Resolution::Approved));
        assert_eq!(record.close_progress, CloseProgress::Done);
        assert!(record.claim.is_none());
        assert_eq!(
            record.auto_approval,
            Some(ApprovalOutcome::ByGo),
            "Go tried the auto-approval when it created the record"
        );
    }

    #[test]
    fn writes_go_encodings_and_round_trips() {
        let mut record = IncidentRecord {
            incident_id: "PINC1".into(),
            service_id: "PSVC1".into(),
            request: RequestData {
                user: "bob".into(),
                roles: vec!["dba".into()],
                created: None,
                request_reason: "why, because".into(),
                reviews_count: 0,
                resolution: Some(Resolution::Denied),
                resolve_reason: "no".into(),
            },
            claim: Some(Lease {
                owner: "host-1 abc".into(),
                until: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            }),
            auto_approval: Some(ApprovalOutcome::DryRun),
            close_progress: CloseProgress::Noted,
        };
        let encoded = record.encode();
        assert_eq!(encoded["resolution"], "denied", "Go writes lower case");
        assert_eq!(
            encoded["reviews_count"], "",
            "Go writes an empty string for zero"
        );
        assert_eq!(encoded["created"], "");
        assert_eq!(encoded["claim"], "host-1 abc 1700000000123");
        assert_eq!(IncidentRecord::decode(&encoded), record);

        record.request.resolution = None;
        record.close_progress = CloseProgress::Pending;
        assert_eq!(IncidentRecord::decode(&record.encode()), record);
    }

    #[test]
    fn empty_record_covers_every_written_key() {
        let record = IncidentRecord::decode(&PluginDataMap::new());
        let mut written: Vec<_> = record.encode().into_keys().collect();
        written.sort();
        let mut empty: Vec<_> = IncidentRecord::empty_record().into_keys().collect();
        empty.sort();
        assert_eq!(written, empty);
    }
}
