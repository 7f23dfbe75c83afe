//! The per-request record in Teleport plugin data (namespace `opsgenie`), in the Go plugin's
//! keys and encodings: `alert_id`, `service_id`, `user`, `roles` (comma-joined), `created`
//! (Unix seconds or ""), `request_reason`, `reviews_count` ("" for 0), `resolution` (lower
//! case `approved|denied|expired`, and ours `promoted`), `resolve_reason`.
//! Our additions, which the Go plugin ignores: `claim` (the lease), `alert_request` (the
//! create's `requestId`, until the alert's ID is known), `auto_approval` (the on-call
//! decision, taken once) and `close_progress`.

use teleport_client::{AccessRequest, PluginDataMap};
pub use teleport_plugin_runtime::approval::ApprovalOutcome;
use teleport_plugin_runtime::incident::progress;
use teleport_plugin_runtime::record::{Lease, RequestData};

/// The record of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRecord {
    /// The alert opened for the request ("" when none yet).
    pub alert_id: String,
    /// Kept as the Go plugin writes it (always "" there too).
    pub service_id: String,
    /// The create's `requestId` while the alert's ID is not known yet.
    pub alert_request: String,
    /// The Go request keys (`user`, `roles`, ..., `resolution`).
    pub request: RequestData,
    /// The lease of the replica working on the request.
    pub claim: Option<Lease>,
    /// The on-call decision, once taken.
    pub auto_approval: Option<ApprovalOutcome>,
    /// The alert is closed (or there is none to close); meaningful once `resolution` is set.
    pub closed: bool,
}

/// The keys next to the runtime's `REQUEST_DATA_KEYS`.
const OWN_KEYS: [&str; 6] = [
    "alert_id",
    "service_id",
    "alert_request",
    "claim",
    "auto_approval",
    "close_progress",
];

impl AlertRecord {
    /// A fresh record for a request.
    pub fn new(request: &AccessRequest) -> Self {
        Self {
            alert_id: String::new(),
            service_id: String::new(),
            alert_request: String::new(),
            request: RequestData::of(request),
            claim: None,
            auto_approval: None,
            closed: false,
        }
    }

    /// The alias Opsgenie de-duplicates open alerts on (Go's).
    pub fn alias(request_id: &str) -> String {
        format!("teleport-access-request/{request_id}")
    }

    /// What closing involves once the resolution is recorded: an alert still being created
    /// is closed once its ID is known.
    fn plan_close(&mut self) {
        self.closed = self.alert_id.is_empty() && self.alert_request.is_empty();
    }

    fn is_closed(&self) -> bool {
        self.closed
    }

    /// Every key with "" for empty values, as the Go plugin writes them.
    pub fn encode(&self) -> PluginDataMap {
        let mut map = PluginDataMap::new();
        self.request.encode_into(&mut map);
        let mut put = |key: &str, value: String| {
            map.insert(key.to_owned(), value);
        };
        put("alert_id", self.alert_id.clone());
        put("service_id", self.service_id.clone());
        put("alert_request", self.alert_request.clone());
        put(
            "claim",
            self.claim.as_ref().map(Lease::encode).unwrap_or_default(),
        );
        put(
            "auto_approval",
            self.auto_approval
                .map(|a| a.as_str().to_owned())
                .unwrap_or_default(),
        );
        put(
            progress::CLOSE_PROGRESS,
            progress::encode(self.request.resolution, self.closed),
        );
        map
    }

    /// Reads stored data, the Go plugin's included.
    pub fn decode(data: &PluginDataMap) -> Self {
        let get = |key: &str| data.get(key).map(String::as_str).unwrap_or_default();
        Self {
            alert_id: get("alert_id").to_owned(),
            service_id: get("service_id").to_owned(),
            alert_request: get("alert_request").to_owned(),
            request: RequestData::decode(data),
            claim: Lease::decode(get("claim")),
            auto_approval: ApprovalOutcome::parse(get("auto_approval")),
            closed: progress::decode_closed(get(progress::CLOSE_PROGRESS)),
        }
    }
}

teleport_plugin_runtime::request_data_record!(AlertRecord, incident: alert_id, own_keys: OWN_KEYS);

#[cfg(test)]
mod tests {
    use super::*;
    use teleport_plugin_runtime::record::{RecordCodec, Resolution};

    #[test]
    fn reads_a_go_record_and_round_trips_ours() {
        let data: PluginDataMap = [
            ("alert_id", "A1"),
            ("service_id", ""),
            ("user", "alice@example.com"),
            ("roles", "dev,ops"),
            ("created", "1700000000"),
            ("request_reason", "deploy"),
            ("reviews_count", "2"),
            ("resolution", "approved"),
            ("resolve_reason", "ok"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let record = AlertRecord::decode(&data);
        assert_eq!(record.alert_id, "A1");
        assert_eq!(record.request.roles, ["dev", "ops"]);
        assert_eq!(record.request.reviews_count, 2);
        assert_eq!(record.request.resolution, Some(Resolution::Approved));
        assert!(record.closed, "the Go plugin closes in one go");

        let mut ours = record.clone();
        ours.closed = false;
        ours.auto_approval = Some(ApprovalOutcome::DryRun);
        ours.request.reviews_count = 0;
        let encoded = ours.encode();
        assert_eq!(encoded["resolution"], "approved");
        assert_eq!(encoded["reviews_count"], "");
        assert_eq!(encoded["close_progress"], "pending");
        assert_eq!(AlertRecord::decode(&encoded), ours);
        let mut keys: Vec<_> = encoded.into_keys().collect();
        keys.sort();
        let mut empty: Vec<_> = AlertRecord::empty_record().into_keys().collect();
        empty.sort();
        assert_eq!(keys, empty);
    }
}
