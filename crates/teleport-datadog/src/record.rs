//! The per-request record in Teleport plugin data (namespace `datadog`), in the keys and
//! encodings of Go's `teleport-datadog`, which is one of Go's access-request messaging apps:
//! `user`, `roles`, `request_reason`, `reviews_count` ("" for 0), `resolution` (upper case,
//! `APPROVED|DENIED|EXPIRED|PROMOTED`), `resolve_reason`, the newer `resources`,
//! `system_annotations`, `suggested_reviewers`, `logins_by_role`, `max_duration`, and
//! `messages` = `<incident id>/<incident id>` (Go records the incident as a message sent to a
//! channel of the same ID). These are the runtime's messaging codec, so a Go record is read
//! and continued and ours is read by Go.
//!
//! Next to them the runtime's progress keys (`claim`, `recipients`, `sent_to`, `failed_to`
//! for the incident's creation, `synced` once the incident shows the resolution;
//! `review_cursor` and `requester_notified` stay empty: one incident, nobody to notify;
//! `post_unsure_since` is set while a create may have opened an incident that no record
//! names, so that the next attempt on any replica searches first) and ours:
//! `auto_approval` (the on-call decision, taken once) and `resolution_noted` (the resolution
//! cell is in the timeline, the `PATCH` may still be missing). Go ignores all of them.

use teleport_client::{AccessRequest, PluginDataMap};
use teleport_plugin_runtime::approval::ApprovalOutcome;
use teleport_plugin_runtime::incident::IncidentProgress;
use teleport_plugin_runtime::incident::uncertain::UnsureCreate;
use teleport_plugin_runtime::messaging::{
    ChannelMessage, GoRequestData, MessageCodec, MessageState, StateCodec,
};
use teleport_plugin_runtime::record::{Lease, RecordCodec, Resolution};

/// How Go stores the incident: as a message whose channel and ID are both the incident's ID.
pub struct IncidentMessages;

impl MessageCodec for IncidentMessages {
    type Message = ChannelMessage;
    const MESSAGES_KEY: &'static str = ChannelMessage::MESSAGES_KEY;

    fn encode(message: &ChannelMessage) -> String {
        message.encode()
    }

    fn decode(text: &str) -> Option<ChannelMessage> {
        ChannelMessage::decode(text)
    }

    fn decode_legacy(data: &PluginDataMap) -> Option<ChannelMessage> {
        ChannelMessage::decode_legacy(data, "timestamp")
    }
}

/// The record of one request.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentRecord {
    /// Go's keys and the runtime's progress keys.
    pub state: MessageState<ChannelMessage>,
    /// The on-call decision, once taken.
    pub auto_approval: Option<ApprovalOutcome>,
    /// The resolution's timeline cell has been posted.
    pub resolution_noted: bool,
}

const AUTO_APPROVAL: &str = "auto_approval";
const RESOLUTION_NOTED: &str = "resolution_noted";

impl IncidentRecord {
    /// A fresh record for a request.
    pub fn new(request: &AccessRequest) -> Self {
        let mut state = MessageState::new(&request.user, &request.roles, &request.request_reason);
        state.go = GoRequestData::of(request);
        Self {
            state,
            auto_approval: None,
            resolution_noted: false,
        }
    }

    /// The request's incident, once created.
    pub fn incident_id(&self) -> Option<&str> {
        self.state.messages.first().map(|m| m.id.as_str())
    }

    /// Records the created incident the way Go does (`<id>/<id>`).
    pub fn set_incident(&mut self, id: &str) {
        self.state.messages = vec![ChannelMessage {
            channel: id.to_owned(),
            id: id.to_owned(),
        }];
    }

    /// Whether creating the incident is behind us: it exists, or Datadog refused it for good.
    pub fn incident_settled(&self) -> bool {
        self.state.broadcast_done()
    }

    /// Whether the on-call check is still to be made.
    pub fn approval_due(&self) -> bool {
        self.auto_approval.is_none()
    }

    /// Every key, "" for empty values.
    pub fn encode(&self) -> PluginDataMap {
        let mut map = StateCodec::<IncidentMessages>::encode(&self.state);
        map.insert(
            AUTO_APPROVAL.to_owned(),
            self.auto_approval
                .map(|a| a.as_str().to_owned())
                .unwrap_or_default(),
        );
        map.insert(
            RESOLUTION_NOTED.to_owned(),
            if self.resolution_noted {
                "true".to_owned()
            } else {
                String::new()
            },
        );
        map
    }

    /// Reads stored data, the Go plugin's included.
    pub fn decode(data: &PluginDataMap) -> Self {
        let get = |key: &str| data.get(key).map(String::as_str).unwrap_or_default();
        let state = StateCodec::<IncidentMessages>::decode(data);
        // A Go record (an incident without our recipient progress) took its one chance at
        // auto-approval when Go created it.
        let go_record = state.recipients.is_none() && !state.messages.is_empty();
        Self {
            auto_approval: ApprovalOutcome::parse(get(AUTO_APPROVAL))
                .or(go_record.then_some(ApprovalOutcome::ByGo)),
            resolution_noted: get(RESOLUTION_NOTED) == "true",
            state,
        }
    }
}

/// The mark lives in the runtime's `post_unsure_since` key (the incident is Datadog's one
/// "post"): since when a create may have opened an incident no record names.
impl UnsureCreate for IncidentRecord {
    fn create_unsure(&self) -> bool {
        self.state.post_unsure_since.is_some()
    }

    fn mark_create_unsure(&mut self) {
        self.state.post_unsure_since = Some(std::time::SystemTime::now());
    }
}

impl RecordCodec for IncidentRecord {
    type Record = Self;

    fn encode(record: &Self) -> PluginDataMap {
        record.encode()
    }

    fn decode(data: &PluginDataMap) -> Self {
        IncidentRecord::decode(data)
    }

    fn empty_record() -> PluginDataMap {
        let mut map = StateCodec::<IncidentMessages>::empty_record();
        for key in [AUTO_APPROVAL, RESOLUTION_NOTED] {
            map.insert(key.to_owned(), String::new());
        }
        map
    }

    fn lease(record: &mut Self) -> &mut Option<Lease> {
        &mut record.state.claim
    }
}

impl IncidentProgress for IncidentRecord {
    fn start(request: &AccessRequest) -> Self {
        Self::new(request)
    }

    fn incident_id(&self) -> Option<&str> {
        IncidentRecord::incident_id(self)
    }

    fn reviews_count(&self) -> usize {
        self.state.reviews_count
    }

    fn count_review(&mut self) {
        self.state.reviews_count += 1;
    }

    fn auto_approval(&self) -> Option<ApprovalOutcome> {
        self.auto_approval
    }

    fn set_auto_approval(&mut self, outcome: ApprovalOutcome) {
        self.auto_approval = Some(outcome);
    }

    fn resolution(&self) -> Option<Resolution> {
        self.state.resolution
    }

    fn record_resolution(&mut self, resolution: Resolution, resolve_reason: String) {
        self.state.resolution = Some(resolution);
        self.state.resolve_reason = resolve_reason;
    }

    /// `synced`: the incident shows the resolution (or there is none to show it).
    fn closed(&self) -> bool {
        self.state.synced.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use teleport_plugin_testsupport::plugin_data as map;

    #[test]
    fn reads_a_go_record_and_round_trips_ours() {
        let go = map(&[
            ("user", "alice@example.com"),
            ("roles", "dev,ops"),
            ("request_reason", "deploy"),
            ("reviews_count", "2"),
            ("resolution", "APPROVED"),
            ("resolve_reason", "ok"),
            ("messages", "inc-1/inc-1"),
            (
                "system_annotations",
                r#"{"teleport.dev/schedules":["sre"]}"#,
            ),
        ]);
        let record = IncidentRecord::decode(&go);
        assert_eq!(record.incident_id(), Some("inc-1"));
        assert_eq!(record.state.roles, ["dev", "ops"]);
        assert_eq!(record.state.reviews_count, 2);
        assert_eq!(record.state.resolution, Some(Resolution::Approved));
        assert_eq!(
            record.state.synced,
            Some(Resolution::Approved),
            "Go resolves the incident when it records the resolution"
        );
        assert!(record.incident_settled());
        assert!(
            !record.approval_due(),
            "Go checked when it created its record"
        );
        let encoded = record.encode();
        for (key, value) in &go {
            assert_eq!(&encoded[key], value, "{key} is written back as Go wrote it");
        }
        assert_eq!(encoded["auto_approval"], "");

        let mut ours = record.clone();
        ours.state.synced = None;
        ours.resolution_noted = true;
        ours.auto_approval = Some(ApprovalOutcome::DryRun);
        ours.state.reviews_count = 0;
        let encoded = ours.encode();
        assert_eq!(encoded["reviews_count"], "");
        assert_eq!(encoded["resolution_noted"], "true");
        assert_eq!(IncidentRecord::decode(&encoded), ours);
        let mut keys: Vec<_> = encoded.into_keys().collect();
        keys.sort();
        let mut empty: Vec<_> = IncidentRecord::empty_record().into_keys().collect();
        empty.sort();
        assert_eq!(keys, empty);
    }

    #[test]
    fn a_fresh_record_has_no_incident_yet() {
        let request = AccessRequest {
            id: "r1".into(),
            user: "bob@example.com".into(),
            roles: vec!["dev".into()],
            ..Default::default()
        };
        let mut record = IncidentRecord::new(&request);
        assert!(!record.incident_settled());
        record.set_incident("abc");
        assert_eq!(record.encode()["messages"], "abc/abc");
        assert!(record.incident_settled());
    }
}
