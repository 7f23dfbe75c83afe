//! The fake Opsgenie as a chaos destination: a post is the alert opened for a request (by
//! its alias); it is final once closed with the resolution note (the close's own note).

use teleport_fakes::{FakeOpsgenie, FakeOpsgenieOptions};

use super::{KEY_PREFIX, Post, RESOLUTION_NOTE};

/// Opsgenie's API key (a secret the plugin must never log).
pub(super) const KEY: &str = "og-bench-api-key";
/// The annotation naming the schedule alerts go to.
pub(super) const ANNOTATIONS: &[(&str, &[&str])] =
    &[("teleport.dev/notify-services", &["Primary"])];

pub(super) async fn start() -> FakeOpsgenie {
    FakeOpsgenie::start(FakeOpsgenieOptions::default().api_key(KEY).schedule(
        "11111111-1111-4111-8111-111111111111",
        "Primary",
        &["oncall@example.com"],
    ))
    .await
}

pub(super) fn config_section(fake: &FakeOpsgenie) -> String {
    format!(
        "[opsgenie]\napi_key = \"{KEY}\"\napi_endpoint = \"{}\"\n",
        fake.base_url()
    )
}

pub(super) fn posts(fake: &FakeOpsgenie) -> Vec<Post> {
    fake.alerts()
        .iter()
        .map(|alert| Post {
            request_id: alert.alias.strip_prefix(KEY_PREFIX).map(str::to_owned),
            // Opsgenie's close call carries the resolution note itself.
            is_final: alert
                .closed
                .as_deref()
                .is_some_and(|note| note.starts_with(RESOLUTION_NOTE)),
            received: None,
        })
        .collect()
}
