//! The fake Slack as a chaos and benchmark destination: its start-up, the plugin's
//! `[slack]` section, and its root messages.

use teleport_fakes::{FakeSlack, FakeSlackOptions};

use super::{CHANNEL_NAME, RootMessage, TOKEN};

/// The channel every request is posted to, by ID.
const CHANNEL_ID: &str = "C0ACCESS";

pub(super) async fn start() -> FakeSlack {
    FakeSlack::start(
        FakeSlackOptions::default()
            .token(TOKEN)
            .channel(CHANNEL_ID, CHANNEL_NAME),
    )
    .await
}

pub(super) fn config_section(url: &str) -> String {
    format!(
        "[slack]\ntoken = \"{TOKEN}\"\napiurl = \"{url}\"\n\n\
         [role_to_recipients]\n\"*\" = \"{CHANNEL_NAME}\"\n"
    )
}

pub(super) fn root_messages(fake: &FakeSlack) -> Vec<RootMessage> {
    fake.root_messages()
        .into_iter()
        .map(|m| RootMessage {
            current: m.current().text.clone().unwrap_or_default(),
            first: m.posted.text.unwrap_or_default(),
            received: m.received,
        })
        .collect()
}

pub(super) fn message_count(fake: &FakeSlack) -> usize {
    fake.messages().len()
}
