//! The fake Discord as a chaos and benchmark destination: its start-up, the plugin's
//! `[discord]` section, and its messages (content and embeds read as one text).

use teleport_fakes::discord::{FakeDiscord, FakeDiscordOptions};

use super::{CHANNEL_NAME, RootMessage, TOKEN};

/// Discord IDs are 18 characters long; the fake accepts any.
const DISCORD_CHANNEL_ID: &str = "100000000000000001";

pub(super) async fn start() -> FakeDiscord {
    FakeDiscord::start(FakeDiscordOptions::default().token(TOKEN).channel(
        DISCORD_CHANNEL_ID,
        CHANNEL_NAME,
        true,
    ))
    .await
}

pub(super) fn config_section(url: &str) -> String {
    format!(
        "[discord]\ntoken = \"{TOKEN}\"\napiurl = \"{url}\"\n\n\
         [role_to_recipients]\n\"*\" = \"{DISCORD_CHANNEL_ID}\"\n"
    )
}

pub(super) fn root_messages(fake: &FakeDiscord) -> Vec<RootMessage> {
    fake.with_state(|state| {
        let text = |content: &teleport_fakes::discord::DcContent| {
            let embeds = serde_json::to_string(&content.embeds).unwrap_or_default();
            format!("{}\n{embeds}", content.content)
        };
        state
            .messages
            .iter()
            .map(|message| RootMessage {
                first: text(&message.posted),
                current: text(message.current()),
                received: message.received,
            })
            .collect()
    })
}

pub(super) fn message_count(fake: &FakeDiscord) -> usize {
    fake.with_state(|state| state.messages.len())
}
