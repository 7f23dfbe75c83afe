//! Any text as an access monitoring rule's condition: parsed (bounded in tokens and depth) or
//! refused, and a parsed one evaluated against a request, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teleport_predicate::{AccessRequestEnv, Condition};

fuzz_target!(|text: &str| {
    if let Ok(condition) = Condition::parse(text) {
        let mut request = AccessRequestEnv::default();
        request.roles = vec!["dev".into(), "db-admin".into()];
        request.user = "alice@example.com".into();
        let _ = condition.evaluate(&request);
    }
});
