//! Encoding and decoding a request's message state as plugin data: done for every
//! read and every compare-and-swap write (several per request).

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use teleport_plugin_runtime::messaging::{ChannelMessage, MessageCodec, MessageState, StateCodec};
use teleport_plugin_runtime::record::Lease;

/// Slack's reference format: `channel/ts`.
struct Channels;

impl MessageCodec for Channels {
    type Message = ChannelMessage;
    const MESSAGES_KEY: &'static str = "messages";

    fn encode(message: &ChannelMessage) -> String {
        format!("{}/{}", message.channel, message.id)
    }

    fn decode(text: &str) -> Option<ChannelMessage> {
        let (channel, id) = text.split_once('/')?;
        Some(ChannelMessage {
            channel: channel.to_owned(),
            id: id.to_owned(),
        })
    }
}

/// A request broadcast to two channels, claimed by a replica.
fn state() -> MessageState<ChannelMessage> {
    let mut state = MessageState::new(
        "alice@example.com",
        &["editor".to_owned(), "dba".to_owned()],
        "rotate the production database keys after the incident",
    );
    state.recipients = Some(vec!["C0ACCESS".into(), "C0DBA".into()]);
    state.sent_to = vec!["C0ACCESS".into(), "C0DBA".into()];
    state.messages = vec![
        ChannelMessage {
            channel: "C0ACCESS".into(),
            id: "1700000000.000100".into(),
        },
        ChannelMessage {
            channel: "C0DBA".into(),
            id: "1700000000.000200".into(),
        },
    ];
    state.claim = Some(Lease {
        owner: "plugin-host-4242-0a1b2c3d".into(),
        until: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_030),
    });
    state
}

fn plugin_data(c: &mut Criterion) {
    let state = state();
    let encoded = StateCodec::<Channels>::encode(&state);
    let mut group = c.benchmark_group("plugin data");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode message state", |b| {
        b.iter(|| StateCodec::<Channels>::encode(black_box(&state)))
    });
    group.bench_function("decode message state", |b| {
        b.iter(|| StateCodec::<Channels>::decode(black_box(&encoded)))
    });
    group.finish();
}

criterion_group!(benches, plugin_data);
criterion_main!(benches);
