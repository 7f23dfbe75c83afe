//! Any bytes as a Jira webhook body: read as Jira's event or refused, never a panic (what it
//! names is only a hint; the plugin reads the issue again with its own credentials).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = teleport_jira::webhook::parse_body(body);
});
