//! The fake Datadog as a chaos destination: a post is the incident opened for a request
//! (its summary's `ID: <id>` line); it is final once resolved with the resolution cell.

use teleport_fakes::{FakeDatadog, FakeDatadogOptions};

use super::{Post, request_id_in};

/// How the plugin's resolution timeline cell begins ("Access request is APPROVED").
const RESOLUTION_CELL: &str = "Access request is ";

/// Datadog's API and application keys (secrets the plugin must never log).
pub(super) const KEYS: [&str; 2] = ["dd-bench-api-key", "dd-bench-application-key"];

pub(super) async fn start() -> FakeDatadog {
    let [api, application] = KEYS;
    FakeDatadog::start(FakeDatadogOptions::default().keys(api, application).team(
        "Platform",
        "platform",
        &[],
    ))
    .await
}

pub(super) fn config_section(fake: &FakeDatadog) -> String {
    let [api, application] = KEYS;
    format!(
        "[datadog]\napi_endpoint = \"{}\"\napi_key = \"{api}\"\napplication_key = \"{application}\"\n\n\
         [role_to_recipients]\n\"*\" = [\"platform\"]\n",
        fake.base_url()
    )
}

pub(super) fn posts(fake: &FakeDatadog) -> Vec<Post> {
    fake.incidents()
        .iter()
        .map(|incident| Post {
            request_id: request_id_in(incident.field("summary")).map(str::to_owned),
            is_final: incident.state() == "resolved"
                && incident
                    .timeline
                    .iter()
                    .any(|cell| cell.contains(RESOLUTION_CELL)),
            received: None,
        })
        .collect()
}
