//! Any plugin data (ours, a Go plugin's, or garbage) decoded by each record codec. Decoding
//! never panics, and what a decode gives survives an encode and a second decode unchanged,
//! so a record the plugin rewrites never drifts.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use teleport_plugin_runtime::messaging::StateCodec;
use teleport_plugin_runtime::record::RecordCodec;

fn stable<C: RecordCodec>(data: &BTreeMap<String, String>) {
    let once = C::encode(&C::decode(data));
    let twice = C::encode(&C::decode(&once));
    assert_eq!(once, twice, "encode(decode(x)) is a fixed point");
}

fuzz_target!(|data: BTreeMap<String, String>| {
    stable::<StateCodec<teleport_slack::bot::SlackBot>>(&data);
    stable::<teleport_jira::record::IssueRecord>(&data);
    stable::<teleport_pagerduty::record::IncidentRecord>(&data);
});
