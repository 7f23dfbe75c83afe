//! Any text as a Teleport identity file (`tctl auth sign --format=file`): parsed or refused
//! with a reason, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use teleport_client::Identity;

fuzz_target!(|text: &str| {
    let _ = Identity::from_identity_file(Path::new("fuzz-identity"), text);
});
