//! The fake Mattermost as a chaos and benchmark destination: its start-up, the plugin's
//! `[mattermost]` section, and its root posts.

use teleport_fakes::mattermost::{FakeMattermost, FakeMattermostOptions};

use super::{CHANNEL_NAME, RootMessage, TOKEN};

/// The Mattermost team holding the channel.
const MM_TEAM_ID: &str = "team00000000000000000000001";
const MM_TEAM_NAME: &str = "bench";
/// Mattermost IDs are 26 characters long; the fake accepts any.
const MM_CHANNEL_ID: &str = "chan00000000000000000000001";

pub(super) async fn start() -> FakeMattermost {
    FakeMattermost::start(
        FakeMattermostOptions::default()
            .token(TOKEN)
            .team(MM_TEAM_ID, MM_TEAM_NAME, "Bench", true)
            .channel(
                MM_CHANNEL_ID,
                MM_TEAM_ID,
                CHANNEL_NAME,
                "Access Requests",
                true,
            ),
    )
    .await
}

pub(super) fn config_section(url: &str) -> String {
    format!(
        "[mattermost]\nurl = \"{url}\"\ntoken = \"{TOKEN}\"\n\n\
         [role_to_recipients]\n\"*\" = \"{MM_TEAM_NAME}/{CHANNEL_NAME}\"\n"
    )
}

pub(super) fn root_messages(fake: &FakeMattermost) -> Vec<RootMessage> {
    fake.with_state(|state| {
        state
            .roots()
            .map(|post| RootMessage {
                first: post.message.clone(),
                current: post.current().to_owned(),
                received: post.received,
            })
            .collect()
    })
}

pub(super) fn message_count(fake: &FakeMattermost) -> usize {
    fake.with_state(|state| state.posts.len())
}
