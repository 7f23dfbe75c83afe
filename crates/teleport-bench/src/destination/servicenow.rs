//! The fake ServiceNow as a chaos destination: a post is the incident opened for a request
//! (by its correlation ID); it is final once resolved (approved, expired) or closed (denied).

use teleport_fakes::{FakeServiceNow, FakeServiceNowOptions};

use super::{KEY_PREFIX, Post};

/// ServiceNow's API token (a secret the plugin must never log).
pub(super) const TOKEN: &str = "sn-bench-api-token";
const USER: &str = "teleport-plugin";
/// ServiceNow's incident states for resolved and closed.
const DONE: [&str; 2] = ["6", "7"];

pub(super) async fn start() -> FakeServiceNow {
    FakeServiceNow::start(FakeServiceNowOptions::default().credentials(USER, TOKEN)).await
}

pub(super) fn config_section(fake: &FakeServiceNow) -> String {
    format!(
        "[servicenow]\napi_endpoint = \"{}\"\nusername = \"{USER}\"\napi_token = \"{TOKEN}\"\n\
         close_code = \"Solution provided\"\n",
        fake.base_url()
    )
}

pub(super) fn posts(fake: &FakeServiceNow) -> Vec<Post> {
    fake.incidents()
        .iter()
        .map(|incident| Post {
            request_id: incident
                .correlation_id
                .strip_prefix(KEY_PREFIX)
                .map(str::to_owned),
            is_final: DONE.contains(&incident.incident_state.as_str()),
            received: None,
        })
        .collect()
}
