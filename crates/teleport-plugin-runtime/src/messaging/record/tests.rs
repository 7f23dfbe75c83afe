//! Unit tests of the messaging record: Go records read, ours round-trip.

use std::time::{Duration, UNIX_EPOCH};

use super::*;

struct Chat;
impl ChannelMessageCodec for Chat {
    const LEGACY_ID_KEY: Option<&'static str> = Some("timestamp");
    const DROPS_INCOMPLETE: bool = false;
}

fn map(pairs: &[(&str, &str)]) -> PluginDataMap {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

#[test]
fn reads_a_go_plugin_record() {
    let data = map(&[
        ("user", "alice"),
        ("roles", "dev,ops"),
        ("request_reason", "deploy"),
        ("reviews_count", "2"),
        ("resolution", "APPROVED"),
        ("resolve_reason", "ok"),
        ("messages", "C1/1700.1,D2/1700.2"),
    ]);
    let state = StateCodec::<Chat>::decode(&data);
    assert_eq!(state.user, "alice");
    assert_eq!(state.roles, ["dev", "ops"]);
    assert_eq!(state.reviews_count, 2);
    assert_eq!(state.resolution, Some(Resolution::Approved));
    assert_eq!(state.messages.len(), 2);
    assert_eq!(state.messages[1].channel, "D2");
    assert!(state.recipients.is_none());
    assert!(
        state.broadcast_done(),
        "a Go record with messages is a finished broadcast"
    );
    assert_eq!(
        state.synced,
        Some(Resolution::Approved),
        "Go updated its messages when it recorded the resolution"
    );
    assert!(state.requester_notified);
}

#[test]
fn a_resolution_we_recorded_stays_unsynced_until_every_message_shows_it() {
    let mut state = MessageState::<ChannelMessage>::new("bob", &[], "");
    state.recipients = Some(vec!["C1".into()]);
    state.resolution = Some(Resolution::Denied);
    let encoded = StateCodec::<Chat>::encode(&state);
    assert_eq!(encoded["synced"], UNSYNCED);
    let decoded = StateCodec::<Chat>::decode(&encoded);
    assert_eq!(decoded.synced, None);
    assert!(!decoded.requester_notified);
    assert_eq!(decoded, state);
}

#[test]
fn a_current_go_record_round_trips_unchanged() {
    let go = map(&[
        ("user", "user-foo"),
        ("roles", "role-foo,role-bar"),
        ("resources", r#"["cluster/node/foo", "cluster/node/bar"]"#),
        ("request_reason", "foo reason"),
        ("reviews_count", "3"),
        ("suggested_reviewers", "[\"foouser\"]"),
        (
            "logins_by_role",
            "{\"role-foo\":[\"login-foo\",\"login-bar\"]}",
        ),
        ("system_annotations", r#"{"pagerduty_services":["svc"]}"#),
        ("max_duration", "2026-12-04T10:00:00Z"),
        ("messages", "C1/1700.1,D2/1700.2"),
    ]);
    let encoded = StateCodec::<Chat>::encode(&StateCodec::<Chat>::decode(&go));
    // "" is no key at all in Teleport's plugin data.
    let stored: PluginDataMap = encoded.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    assert_eq!(stored, go);
    assert_eq!(
        StateCodec::<Chat>::decode(&go).go.resource_names(),
        ["cluster/node/foo", "cluster/node/bar"]
    );
}

#[test]
fn reads_legacy_single_message_keys() {
    let data = map(&[
        ("user", "alice"),
        ("channel_id", "C9"),
        ("timestamp", "1.2"),
    ]);
    let state = StateCodec::<Chat>::decode(&data);
    assert_eq!(
        state.messages,
        [ChannelMessage {
            channel: "C9".into(),
            id: "1.2".into()
        }]
    );
}

#[test]
fn round_trips_and_writes_go_encodings() {
    let mut state = MessageState::<ChannelMessage>::new("bob", &["dba".into()], "why");
    state.messages.push(ChannelMessage {
        channel: "C1".into(),
        id: "1.1".into(),
    });
    state.recipients = Some(vec!["C1".into(), "U2".into()]);
    state.sent_to = vec!["C1".into()];
    state.claim = Some(Lease {
        owner: "host-1 abc".into(),
        until: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
    });
    let encoded = StateCodec::<Chat>::encode(&state);
    assert_eq!(encoded["messages"], "C1/1.1");
    assert_eq!(
        encoded["reviews_count"], "",
        "Go writes an empty string for zero"
    );
    assert_eq!(encoded["resolution"], "");
    assert_eq!(StateCodec::<Chat>::decode(&encoded), state);
    assert_eq!(state.unsent_recipients(), ["U2"]);
    assert!(!state.broadcast_done());
}

#[test]
fn empty_recipient_list_survives_a_round_trip() {
    let mut state = MessageState::<ChannelMessage>::new("bob", &[], "");
    state.recipients = Some(Vec::new());
    let decoded = StateCodec::<Chat>::decode(&StateCodec::<Chat>::encode(&state));
    assert_eq!(decoded.recipients, Some(Vec::new()));
    assert!(decoded.broadcast_done());
}

#[test]
fn channel_message_round_trips_and_splits_at_the_first_slash() {
    let message = ChannelMessage {
        channel: "C1".into(),
        id: "1700.1".into(),
    };
    assert_eq!(message.encode(), "C1/1700.1");
    assert_eq!(ChannelMessage::decode("C1/1700.1"), Some(message));
    assert_eq!(
        ChannelMessage::decode("C1/a/b").map(|m| m.id),
        Some("a/b".to_owned())
    );
    assert_eq!(ChannelMessage::decode("no-slash"), None);
}

#[test]
fn legacy_keys_need_both_values() {
    let both = map(&[("channel_id", "C9"), ("postID", "p1")]);
    assert_eq!(
        ChannelMessage::decode_legacy(&both, "postID"),
        Some(ChannelMessage {
            channel: "C9".into(),
            id: "p1".into()
        })
    );
    let empty_id = map(&[("channel_id", "C9"), ("postID", "")]);
    assert_eq!(ChannelMessage::decode_legacy(&empty_id, "postID"), None);
    assert_eq!(ChannelMessage::decode_legacy(&both, "timestamp"), None);
}

#[test]
fn empty_record_covers_every_written_key() {
    let state = MessageState::<ChannelMessage>::new("bob", &[], "");
    let encoded = StateCodec::<Chat>::encode(&state);
    let empty = StateCodec::<Chat>::empty_record();
    let mut keys: Vec<_> = encoded.keys().collect();
    keys.sort();
    let mut empty_keys: Vec<_> = empty.keys().collect();
    empty_keys.sort();
    assert_eq!(keys, empty_keys);
}

#[test]
fn the_unsure_span_widens_and_stays_open_once_a_post_may_still_land() {
    let at = |millis: u64| UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + millis);
    let mut state = MessageState::<ChannelMessage>::new("bob", &[], "");
    state.mark_post_unsure(at(100), Some(at(200)));
    assert_eq!(
        (state.post_unsure_since, state.post_unsure_until),
        (Some(at(100)), Some(at(200)))
    );
    let encoded = StateCodec::<Chat>::encode(&state);
    assert_eq!(encoded["post_unsure_until"], "1700000000200");
    assert_eq!(StateCodec::<Chat>::decode(&encoded), state);

    state.mark_post_unsure(at(50), Some(at(300)));
    assert_eq!(
        (state.post_unsure_since, state.post_unsure_until),
        (Some(at(50)), Some(at(300))),
        "one span over both"
    );
    state.mark_post_unsure(at(400), None);
    assert_eq!(
        (state.post_unsure_since, state.post_unsure_until),
        (Some(at(50)), None),
        "a post that may still land leaves it open"
    );
    state.mark_post_unsure(at(500), Some(at(600)));
    assert_eq!(state.post_unsure_until, None, "and open it stays");

    state.clear_post_unsure();
    let encoded = StateCodec::<Chat>::encode(&state);
    assert_eq!(encoded["post_unsure_since"], "");
    assert_eq!(encoded["post_unsure_until"], "");
}

#[test]
fn an_end_without_its_start_is_ignored() {
    let data = map(&[("post_unsure_until", "1700000000200")]);
    let state = StateCodec::<Chat>::decode(&data);
    assert_eq!(
        (state.post_unsure_since, state.post_unsure_until),
        (None, None)
    );
}
