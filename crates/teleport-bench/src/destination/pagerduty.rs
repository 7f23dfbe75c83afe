//! The fake PagerDuty as a chaos destination: a post is the incident opened for a request
//! (by its incident key); it is final once resolved with the resolution note.

use teleport_fakes::{FakePagerDuty, FakePagerDutyOptions};

use super::{KEY_PREFIX, Post, RESOLUTION_NOTE};

/// PagerDuty's REST key (a secret the plugin must never log).
pub(super) const KEY: &str = "pd-bench-api-key";
const BOT: &str = "teleport-bot@example.com";
const SERVICE: &str = "Teleport Notifications";
/// The annotation naming the service to open incidents in.
pub(super) const ANNOTATIONS: &[(&str, &[&str])] = &[("pagerduty_notify_service", &[SERVICE])];

pub(super) async fn start() -> FakePagerDuty {
    let fake =
        FakePagerDuty::start(FakePagerDutyOptions::default().api_key(KEY).page_size(25)).await;
    fake.add_user("Teleport Bot", BOT);
    let policy = fake.add_escalation_policy("bench");
    fake.add_service(SERVICE, &policy);
    fake
}

pub(super) fn config_section(fake: &FakePagerDuty) -> String {
    format!(
        "[pagerduty]\napi_key = \"{KEY}\"\nuser_email = \"{BOT}\"\napi_endpoint = \"{}\"\n\n\
         [pagerduty.RequestAnnotations]\nnotify_service = \"pagerduty_notify_service\"\n\
         services = \"pagerduty_services\"\n",
        fake.base_url()
    )
}

pub(super) fn posts(fake: &FakePagerDuty) -> Vec<Post> {
    fake.incidents()
        .iter()
        .map(|incident| Post {
            request_id: incident
                .incident_key
                .as_deref()
                .and_then(|key| key.strip_prefix(KEY_PREFIX))
                .map(str::to_owned),
            is_final: !incident.is_open()
                && incident
                    .notes
                    .iter()
                    .any(|note| note.content.starts_with(RESOLUTION_NOTE)),
            received: None,
        })
        .collect()
}
