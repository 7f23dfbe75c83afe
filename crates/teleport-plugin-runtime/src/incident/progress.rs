//! Record parts the incident plugins store alike: the `close_progress` key of the records
//! that close in one call (Opsgenie, ServiceNow), the `auto_approval` key of the records Go
//! wrote without one (PagerDuty, ServiceNow), the full set of empty keys, and
//! [`request_data_record!`](crate::request_data_record), the codec and progress of a record
//! built on the runtime's [`RequestData`](crate::record::RequestData).

use teleport_client::PluginDataMap;

use crate::approval::ApprovalOutcome;
use crate::record::{Lease, REQUEST_DATA_KEYS, Resolution};

/// The `close_progress` key: "" while the request is open, `pending` until the incident is
/// closed, `done` after. A resolution without it is a Go plugin's, which closed in one go.
pub const CLOSE_PROGRESS: &str = "close_progress";

/// Stored under `auto_approval` until the on-call decision is taken.
const UNDECIDED: &str = "pending";

/// The stored `close_progress` for a record with `resolution` and `closed`.
pub fn encode(resolution: Option<Resolution>, closed: bool) -> String {
    match (resolution, closed) {
        (None, _) => String::new(),
        (Some(_), false) => "pending".into(),
        (Some(_), true) => "done".into(),
    }
}

/// Whether the stored `close_progress` says nothing is left to close.
pub fn decode_closed(text: &str) -> bool {
    text != "pending"
}

/// The stored `auto_approval` of a record whose Go plugin writes no such key: `pending`
/// until the decision is taken.
pub fn encode_approval(outcome: Option<ApprovalOutcome>) -> String {
    outcome
        .map_or(UNDECIDED, ApprovalOutcome::as_str)
        .to_owned()
}

/// Reads such an `auto_approval`: none is a Go record's, which had its one chance already
/// (Go tries the auto-approval only in the handling that creates its record).
pub fn decode_approval(text: &str) -> Option<ApprovalOutcome> {
    match text.trim() {
        "" => Some(ApprovalOutcome::ByGo),
        text => ApprovalOutcome::parse(text),
    }
}

/// Writes the lease and the on-call decision of a record whose Go plugin writes no
/// `auto_approval` into `map`: `claim`, and `auto_approval` as [`encode_approval`] words it.
pub fn put_lease_and_approval(
    map: &mut PluginDataMap,
    claim: Option<&Lease>,
    approval: Option<ApprovalOutcome>,
) {
    map.insert(
        "claim".to_owned(),
        claim.map(Lease::encode).unwrap_or_default(),
    );
    map.insert("auto_approval".to_owned(), encode_approval(approval));
}

/// Reads them back from `data` (a Go record's: no lease, the decision Go's).
pub fn lease_and_approval(data: &PluginDataMap) -> (Option<Lease>, Option<ApprovalOutcome>) {
    let get = |key: &str| data.get(key).map(String::as_str).unwrap_or_default();
    (
        Lease::decode(get("claim").trim()),
        decode_approval(get("auto_approval")),
    )
}

/// Every key of a record of [`REQUEST_DATA_KEYS`] and `own_keys`, each with "".
pub fn empty_record(own_keys: &[&str]) -> PluginDataMap {
    REQUEST_DATA_KEYS
        .iter()
        .chain(own_keys)
        .map(|k| ((*k).to_owned(), String::new()))
        .collect()
}

/// The `RecordCodec` and `IncidentProgress` of a record with the fields `request`
/// (`RequestData`), `claim`, `auto_approval` and the incident's ID in `$incident` (a
/// `String`, "" for none), and the inherent methods `new`, `encode`, `decode`, `plan_close` (what
/// closing involves, once the resolution is recorded) and `is_closed`; `$keys` are the keys
/// it writes next to the request's.
#[macro_export]
macro_rules! request_data_record {
    ($record:ty, incident: $incident:ident, own_keys: $keys:expr) => {
        impl $crate::record::RecordCodec for $record {
            type Record = Self;

            fn encode(record: &Self) -> ::teleport_client::PluginDataMap {
                record.encode()
            }

            fn decode(data: &::teleport_client::PluginDataMap) -> Self {
                <$record>::decode(data)
            }

            fn empty_record() -> ::teleport_client::PluginDataMap {
                $crate::incident::progress::empty_record(&$keys)
            }

            fn lease(record: &mut Self) -> &mut Option<$crate::record::Lease> {
                &mut record.claim
            }
        }

        impl $crate::incident::IncidentProgress for $record {
            fn start(request: &::teleport_client::AccessRequest) -> Self {
                <$record>::new(request)
            }

            fn incident_id(&self) -> Option<&str> {
                Some(self.$incident.as_str()).filter(|id| !id.is_empty())
            }

            fn reviews_count(&self) -> usize {
                self.request.reviews_count
            }

            fn count_review(&mut self) {
                self.request.reviews_count += 1;
            }

            fn auto_approval(&self) -> Option<$crate::approval::ApprovalOutcome> {
                self.auto_approval
            }

            fn set_auto_approval(&mut self, outcome: $crate::approval::ApprovalOutcome) {
                self.auto_approval = Some(outcome);
            }

            fn resolution(&self) -> Option<$crate::record::Resolution> {
                self.request.resolution
            }

            fn record_resolution(
                &mut self,
                resolution: $crate::record::Resolution,
                resolve_reason: String,
            ) {
                self.request.resolution = Some(resolution);
                self.request.resolve_reason = resolve_reason;
                self.plan_close();
            }

            fn closed(&self) -> bool {
                self.is_closed()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_progress_round_trips_and_reads_go_records_as_closed() {
        assert_eq!(encode(None, false), "");
        assert_eq!(encode(Some(Resolution::Denied), false), "pending");
        assert_eq!(encode(Some(Resolution::Denied), true), "done");
        assert!(!decode_closed("pending"));
        assert!(decode_closed("done"));
        assert!(decode_closed(""), "a Go record closed in one go");
    }

    #[test]
    fn approval_is_pending_until_decided_and_a_go_record_had_its_chance() {
        assert_eq!(encode_approval(None), "pending");
        assert_eq!(decode_approval("pending"), None);
        assert_eq!(
            decode_approval(&encode_approval(Some(ApprovalOutcome::DryRun))),
            Some(ApprovalOutcome::DryRun)
        );
        assert_eq!(decode_approval(""), Some(ApprovalOutcome::ByGo));
        let keys = empty_record(&["incident_id"]);
        assert_eq!(keys.len(), REQUEST_DATA_KEYS.len() + 1);
        assert!(keys.values().all(String::is_empty));
    }
}
