//! The per-request record in Teleport plugin data (namespace `servicenow`), in the Go
//! plugin's keys and encodings: `incident_id`, the runtime's [`RequestData`] (`user`, `roles`,
//! `created`, `request_reason`, `reviews_count`, `resolve_reason`; its `resolution` is a key
//! the Go ServiceNow plugin does not write, and ignores), and `state`, the incident state the
//! incident was resolved with (`6` resolved, `7` closed; "" while open), from which a Go
//! record's resolution is read.
//! Our additions, which the Go plugin ignores: `resolution`, `claim` (the lease),
//! `auto_approval` (the on-call decision, taken once; `pending` until then),
//! `close_progress` and `create_unsure` (`true` while a create may have opened an incident
//! that no record names: looked up by `correlation_id` before creating again).
//!
//! A record without `auto_approval` is the Go plugin's: Go tries the auto-approval only in
//! the handling that creates its record, so that record's on-call decision counts as taken
//! ([`ApprovalOutcome::ByGo`]).

use teleport_client::{AccessRequest, PluginDataMap};
pub use teleport_plugin_runtime::approval::ApprovalOutcome;
use teleport_plugin_runtime::incident::progress;
use teleport_plugin_runtime::incident::uncertain::UnsureCreate;
use teleport_plugin_runtime::record::{Lease, RequestData, Resolution};

/// ServiceNow's incident state for a resolved incident (approved, expired, promoted).
pub const STATE_RESOLVED: &str = "6";
/// ServiceNow's incident state for a closed incident (denied).
pub const STATE_CLOSED: &str = "7";

/// The incident state a resolution closes the incident with (Go's: denied → closed, every
/// other outcome → resolved).
pub fn incident_state(resolution: Resolution) -> &'static str {
    match resolution {
        Resolution::Denied => STATE_CLOSED,
        Resolution::Approved | Resolution::Expired | Resolution::Promoted => STATE_RESOLVED,
    }
}

/// The record of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentRecord {
    /// The incident's `sys_id` ("" when none yet).
    pub incident_id: String,
    /// What the request was, how many reviews were noted, how it ended.
    pub request: RequestData,
    /// The lease of the replica working on the request.
    pub claim: Option<Lease>,
    /// The on-call decision, once taken.
    pub auto_approval: Option<ApprovalOutcome>,
    /// The incident is resolved (or there is none to resolve); meaningful once the
    /// resolution is recorded.
    pub closed: bool,
    /// A create may have opened an incident no record names (see [`UnsureCreate`]).
    pub create_unsure: bool,
}

/// The keys next to the runtime's `REQUEST_DATA_KEYS`.
const OWN_KEYS: [&str; 6] = [
    "incident_id",
    "state",
    "claim",
    "auto_approval",
    "close_progress",
    CREATE_UNSURE,
];

const CREATE_UNSURE: &str = "create_unsure";

impl IncidentRecord {
    /// A fresh record for a request.
    pub fn new(request: &AccessRequest) -> Self {
        Self {
            incident_id: String::new(),
            request: RequestData::of(request),
            claim: None,
            auto_approval: None,
            closed: false,
            create_unsure: false,
        }
    }

    /// The `correlation_id` the request's incident carries.
    pub fn correlation_id(request_id: &str) -> String {
        format!("teleport-access-request/{request_id}")
    }

    /// What closing involves once the resolution is recorded.
    fn plan_close(&mut self) {
        self.closed = self.incident_id.is_empty();
    }

    fn is_closed(&self) -> bool {
        self.closed
    }

    /// Every key with "" for empty values, as the Go plugin writes them.
    pub fn encode(&self) -> PluginDataMap {
        let request = &self.request;
        let mut map = PluginDataMap::new();
        request.encode_into(&mut map);
        let mut put = |key: &str, value: String| {
            map.insert(key.to_owned(), value);
        };
        put("incident_id", self.incident_id.clone());
        put(
            "state",
            request
                .resolution
                .map(|r| incident_state(r).to_owned())
                .unwrap_or_default(),
        );
        put(
            progress::CLOSE_PROGRESS,
            progress::encode(request.resolution, self.closed),
        );
        put(
            CREATE_UNSURE,
            if self.create_unsure { "true" } else { "" }.to_owned(),
        );
        progress::put_lease_and_approval(&mut map, self.claim.as_ref(), self.auto_approval);
        map
    }

    /// Reads stored data, the Go plugin's included.
    pub fn decode(data: &PluginDataMap) -> Self {
        let get = |key: &str| data.get(key).map(String::as_str).unwrap_or_default();
        let mut request = RequestData::decode(data);
        // Go records only the incident state; denied is the one outcome it closes with.
        if request.resolution.is_none() {
            request.resolution = match get("state").trim() {
                "" => None,
                STATE_CLOSED => Some(Resolution::Denied),
                _ => Some(Resolution::Approved),
            };
        }
        let (claim, auto_approval) = progress::lease_and_approval(data);
        Self {
            incident_id: get("incident_id").to_owned(),
            request,
            claim,
            auto_approval,
            closed: progress::decode_closed(get(progress::CLOSE_PROGRESS)),
            create_unsure: get(CREATE_UNSURE) == "true",
        }
    }
}

teleport_plugin_runtime::request_data_record!(IncidentRecord, incident: incident_id, own_keys: OWN_KEYS);

impl UnsureCreate for IncidentRecord {
    fn create_unsure(&self) -> bool {
        self.create_unsure
    }

    fn mark_create_unsure(&mut self) {
        self.create_unsure = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teleport_plugin_runtime::record::RecordCodec;

    use teleport_plugin_testsupport::plugin_data as map;

    #[test]
    fn reads_go_records() {
        let open = IncidentRecord::decode(&map(&[
            ("incident_id", "abc"),
            ("user", "alice"),
            ("roles", "dev,ops"),
            ("created", "1700000000"),
            ("request_reason", "deploy"),
            ("reviews_count", "2"),
            ("state", ""),
            ("resolve_reason", ""),
        ]));
        assert_eq!(open.incident_id, "abc");
        assert_eq!(open.request.roles, ["dev", "ops"]);
        assert_eq!(open.request.created, Some(1_700_000_000));
        assert_eq!(open.request.reviews_count, 2);
        assert_eq!(open.request.resolution, None);
        assert_eq!(open.auto_approval, Some(ApprovalOutcome::ByGo));

        let denied = IncidentRecord::decode(&map(&[("incident_id", "abc"), ("state", "7")]));
        assert_eq!(denied.request.resolution, Some(Resolution::Denied));
        assert!(denied.closed, "the Go plugin resolves in one go");
        let resolved = IncidentRecord::decode(&map(&[("state", "6")]));
        assert_eq!(resolved.request.resolution, Some(Resolution::Approved));
    }

    #[test]
    fn round_trips_ours_in_go_keys() {
        let mut record = IncidentRecord::decode(&map(&[("incident_id", "abc"), ("user", "bob")]));
        record.request.resolution = Some(Resolution::Expired);
        record.closed = false;
        record.auto_approval = Some(ApprovalOutcome::Declined);
        record.create_unsure = true;
        let encoded = record.encode();
        assert_eq!(encoded["create_unsure"], "true");
        assert_eq!(encoded["state"], "6");
        assert_eq!(encoded["resolution"], "expired");
        assert_eq!(encoded["reviews_count"], "");
        assert_eq!(encoded["close_progress"], "pending");
        assert_eq!(encoded["auto_approval"], "declined");
        let mut fresh = record.clone();
        fresh.auto_approval = None;
        assert_eq!(fresh.encode()["auto_approval"], "pending");
        assert_eq!(IncidentRecord::decode(&fresh.encode()), fresh);
        assert_eq!(IncidentRecord::decode(&encoded), record);
        let mut keys: Vec<_> = encoded.into_keys().collect();
        keys.sort();
        let mut empty: Vec<_> = IncidentRecord::empty_record().into_keys().collect();
        empty.sort();
        assert_eq!(keys, empty);
        assert_eq!(incident_state(Resolution::Denied), "7");
    }
}
