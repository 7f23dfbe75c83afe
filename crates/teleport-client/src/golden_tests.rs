//! Golden wire test: bytes laid out by hand the way Teleport's Go code encodes
//! them, decoded through our protos. A wrong field number fails here.

use prost::Message;

use crate::model::{RequestState, WatchEvent};
use crate::watch::to_watch_event;
use crate::wire::proto;

/// A length-delimited field: tag byte(s), length varint, payload.
fn ld(tag: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = tag.to_vec();
    let mut len = payload.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(payload);
    out
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// Go's zero time.Time: seconds = -62135596800 as a 10-byte two's-complement varint.
const YEAR_ONE_SECONDS_VARINT: [u8; 10] =
    [0x80, 0x92, 0xb8, 0xc3, 0x98, 0xfe, 0xff, 0xff, 0xff, 0x01];

fn put_event_bytes() -> Vec<u8> {
    let metadata = cat(&[
        ld(&[0x0a], b"0b1e2f3a-1111-4222-8333-944445555666"), // 1 Name
        ld(&[0x12], b"default"),                              // 2 Namespace
        ld(&[0x32], &[0x08, 0x80, 0xbc, 0xa8, 0xd0, 0x06]),   // 6 Expires {seconds=1779047936}
    ]);
    let created_year_one = cat(&[vec![0x08], YEAR_ONE_SECONDS_VARINT.to_vec()]);
    let label_values = ld(
        &[0x0a], // 1 Values (map entry)
        &cat(&[
            ld(&[0x0a], b"pagerduty_services"), // key
            ld(
                &[0x12],
                &cat(&[ld(&[0x0a], b"svc-a"), ld(&[0x0a], b"svc-b")]),
            ), // value StringValues
        ]),
    );
    let review = cat(&[
        ld(&[0x0a], b"bob"),                                            // 1 Author
        vec![0x18, 0x02],           // 3 ProposedState = APPROVED
        ld(&[0x22], b"looks fine"), // 4 Reason
        ld(&[0x2a], &[0x08, 0x80, 0xbc, 0xa8, 0xd0, 0x06, 0x10, 0x05]), // 5 Created
    ]);
    let resource = cat(&[
        ld(&[0x0a], b"example.com"), // 1 ClusterName
        ld(&[0x12], b"node"),        // 2 Kind
        ld(&[0x1a], b"web-1"),       // 3 Name
    ]);
    let spec = cat(&[
        ld(&[0x0a], b"alice@example.com"), // 1 User
        ld(&[0x12], b"editor"),            // 2 Roles
        ld(&[0x12], b"dba"),
        vec![0x18, 0x01],                                   // 3 State = PENDING
        ld(&[0x22], &created_year_one),                     // 4 Created = year 1 (Go zero time)
        ld(&[0x2a], &[0x08, 0x80, 0xbc, 0xa8, 0xd0, 0x06]), // 5 Expires
        ld(&[0x32], b"need `prod` access"),                 // 6 RequestReason
        ld(&[0x4a], &label_values),                         // 9 SystemAnnotations
        ld(&[0x62], &review),                               // 12 Reviews
        ld(&[0x6a], b"carol@example.com"),                  // 13 SuggestedReviewers
        ld(&[0x72], &resource),                             // 14 RequestedResourceIDs
        ld(&[0x8a, 0x01], &[0x08, 0x80, 0xbc, 0xa8, 0xd0, 0x06]), // 17 MaxDuration
        ld(&[0x9a, 0x06], b"from a future Teleport"),       // 99: unknown, must be skipped
    ]);
    let request = cat(&[
        ld(&[0x0a], b"access_request"), // 1 Kind
        ld(&[0x1a], b"v3"),             // 3 Version
        ld(&[0x22], &metadata),         // 4 Metadata
        ld(&[0x2a], &spec),             // 5 Spec
    ]);
    cat(&[
        vec![0x08, 0x01],      // 1 Type = PUT
        ld(&[0x72], &request), // 14 AccessRequest (oneof Resource)
    ])
}

#[test]
fn put_event_decodes_every_field() {
    let event = proto::Event::decode(put_event_bytes().as_slice()).expect("decodes");
    let Some(WatchEvent::Put(request)) = to_watch_event(event) else {
        panic!("expected a PUT of an access request");
    };
    assert_eq!(request.id, "0b1e2f3a-1111-4222-8333-944445555666");
    assert_eq!(request.user, "alice@example.com");
    assert_eq!(request.roles, ["editor", "dba"]);
    assert_eq!(request.state, RequestState::Pending);
    assert_eq!(request.created, None, "Go's zero time must read as unset");
    let expected = time::OffsetDateTime::from_unix_timestamp(1_779_047_936).unwrap();
    assert_eq!(request.access_expires, Some(expected));
    assert_eq!(request.resource_expires, Some(expected));
    assert_eq!(request.max_duration, Some(expected));
    assert_eq!(request.request_reason, "need `prod` access");
    assert_eq!(
        request
            .system_annotations
            .get("pagerduty_services")
            .map(Vec::as_slice),
        Some(["svc-a".to_owned(), "svc-b".to_owned()].as_slice())
    );
    assert_eq!(request.reviews.len(), 1);
    let review = &request.reviews[0];
    assert_eq!(review.author, "bob");
    assert_eq!(review.proposed_state, RequestState::Approved);
    assert_eq!(review.reason, "looks fine");
    assert_eq!(
        review.created,
        Some(expected + time::Duration::nanoseconds(5))
    );
    assert_eq!(request.suggested_reviewers, ["carol@example.com"]);
    assert_eq!(request.resources.len(), 1);
    assert_eq!(request.resources[0].to_string(), "/example.com/node/web-1");
}

#[test]
fn delete_event_carries_the_id_in_the_resource_header() {
    let metadata = cat(&[ld(&[0x0a], b"req-1"), ld(&[0x12], b"default")]);
    let header = cat(&[
        ld(&[0x0a], b"access_request"),
        ld(&[0x1a], b"v3"),
        ld(&[0x22], &metadata),
    ]);
    let bytes = cat(&[vec![0x08, 0x02], ld(&[0x12], &header)]); // Type = DELETE, 2 ResourceHeader
    let event = proto::Event::decode(bytes.as_slice()).expect("decodes");
    assert_eq!(
        to_watch_event(event),
        Some(WatchEvent::Delete("req-1".into()))
    );
}

#[test]
fn init_event_with_watch_status_and_unknown_resources_are_not_plugin_events() {
    // INIT (Type omitted = 0) with WatchStatus in field 43.
    let status = cat(&[ld(&[0x0a], b"watch_status")]);
    let init = ld(&[0xda, 0x02], &status);
    let event = proto::Event::decode(init.as_slice()).expect("decodes");
    assert_eq!(event.r#type, proto::Operation::Init as i32);
    assert!(matches!(
        event.resource,
        Some(proto::event::Resource::WatchStatus(_))
    ));
    // A PUT of a resource we do not model (field 45, an access list) is skipped.
    let other = cat(&[vec![0x08, 0x01], ld(&[0xea, 0x02], b"\x0a\x00")]);
    let event = proto::Event::decode(other.as_slice()).expect("decodes");
    assert_eq!(to_watch_event(event), None);
}

#[test]
fn our_encoding_matches_the_go_layout() {
    // Re-encoding the decoded request must place fields at Teleport's numbers:
    // decode → encode → decode is stable, and the AccessRequest sits at tag 0x72.
    let event = proto::Event::decode(put_event_bytes().as_slice()).expect("decodes");
    let bytes = event.encode_to_vec();
    assert_eq!(&bytes[..3], &[0x08, 0x01, 0x72]);
}
