//! Decoding one watch PUT event: the protobuf bytes to `proto::Event`, and on to the
//! plugin-facing `AccessRequest` (what the watcher does for every event).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use prost_types::Timestamp;
use teleport_client::convert;
use teleport_client::wire::proto::{self, event::Resource};
use teleport_client::wire::types;

/// A pending request as Teleport sends it: metadata, two roles, a reason, a suggested
/// reviewer, Go-zero timestamps where unset, one review already in.
fn put_event() -> proto::Event {
    let at = |seconds| Some(Timestamp { seconds, nanos: 0 });
    let request = types::AccessRequestV3 {
        kind: "access_request".into(),
        version: "v3".into(),
        metadata: Some(types::Metadata {
            name: "0b6f1ad4-54a4-4b1c-9d6e-1f0c8f3f5a17".into(),
            namespace: "default".into(),
            expires: at(1_900_000_000),
            ..Default::default()
        }),
        spec: Some(types::AccessRequestSpecV3 {
            user: "alice@example.com".into(),
            roles: vec!["editor".into(), "dba".into()],
            state: types::RequestState::Pending as i32,
            created: at(1_800_000_000),
            expires: at(1_800_003_600),
            request_reason: "rotate the production database keys after the incident".into(),
            suggested_reviewers: vec!["lead@example.com".into()],
            reviews: vec![types::AccessReview {
                author: "bob@example.com".into(),
                roles: vec!["reviewer".into()],
                proposed_state: types::RequestState::Approved as i32,
                reason: "looks fine".into(),
                created: at(1_800_000_100),
                ..Default::default()
            }],
            max_duration: at(-62_135_596_800),
            session_ttl: at(-62_135_596_800),
            ..Default::default()
        }),
        ..Default::default()
    };
    proto::Event {
        r#type: proto::Operation::Put as i32,
        resource: Some(Resource::AccessRequest(request)),
    }
}

fn event_decode(c: &mut Criterion) {
    let bytes = put_event().encode_to_vec();
    let mut group = c.benchmark_group("watch event");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode protobuf", |b| {
        b.iter(|| proto::Event::decode(black_box(bytes.as_slice())))
    });
    group.bench_function("decode protobuf + convert to AccessRequest", |b| {
        b.iter(|| {
            let event = proto::Event::decode(black_box(bytes.as_slice())).ok()?;
            match event.resource? {
                Resource::AccessRequest(request) => Some(convert::access_request(request)),
                _ => None,
            }
        })
    });
    group.finish();
}

criterion_group!(benches, event_decode);
criterion_main!(benches);
