//! Rendering a request message and serialising its blocks, as done once per post, and a
//! review reply.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use teleport_slack::render::{self, RequestView, ReviewView, Status};

fn request() -> RequestView {
    RequestView {
        id: "0b6f1ad4-54a4-4b1c-9d6e-1f0c8f3f5a17".into(),
        cluster: "teleport.example.com".into(),
        user: "alice@example.com".into(),
        roles: vec!["editor".into(), "dba".into()],
        reason: "rotate the production database keys after the `incident`".into(),
        resources: Vec::new(),
        logins_by_role: Default::default(),
        link_base: Some("teleport.example.com:443".into()),
        status: Status::Pending,
        resolve_reason: String::new(),
    }
}

fn message_render(c: &mut Criterion) {
    let view = request();
    let mut group = c.benchmark_group("slack render");
    group.throughput(Throughput::Elements(1));
    group.bench_function("request message", |b| {
        b.iter(|| render::request_message(black_box(&view)))
    });
    group.bench_function("request message + blocks JSON", |b| {
        b.iter(|| {
            let message = render::request_message(black_box(&view));
            serde_json::to_string(&message.blocks)
        })
    });
    let review = ReviewView {
        author: "lead@example.com".into(),
        proposed_state: Status::Approved,
        reason: "go ahead, one hour".into(),
        created: time::OffsetDateTime::from_unix_timestamp(1_800_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
    };
    group.bench_function("review reply", |b| {
        b.iter(|| render::review_reply(black_box(&review)))
    });
    group.finish();
}

criterion_group!(benches, message_render);
criterion_main!(benches);
