//! Any bytes as a GitLab `Issue Hook` body (with the right token and event header, so the
//! body is what gets read): an issue to look at, ignored, or refused, never a panic (what it
//! names is only a trigger; the plugin reads the issue again with its own token).
#![no_main]

use libfuzzer_sys::fuzz_target;
use teleport_gitlab::webhook::{ISSUE_HOOK, read_delivery};
use teleport_plugin_runtime::config::Secret;

/// The secret the fuzzed deliveries carry.
const TOKEN: &str = "fuzz-webhook-secret";

fuzz_target!(|body: &[u8]| {
    let secret = Secret::new(TOKEN);
    let _ = read_delivery(
        &secret,
        Some(TOKEN.as_bytes()),
        Some(ISSUE_HOOK.as_bytes()),
        body,
    );
});
