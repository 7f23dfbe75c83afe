//! Where the plugin under test posts: a fake chat service of one kind (Slack, Mattermost,
//! Discord), its part of the plugin's config, its fault control, and what it shows — one
//! root message per post, as first posted and as it reads now — so the benchmarks and the
//! chaos run judge every chat plugin by the same rules.

use std::time::{Duration, Instant};

use teleport_fakes::discord::{FakeDiscord, FakeDiscordOptions};
use teleport_fakes::mattermost::{FakeMattermost, FakeMattermostOptions};
use teleport_fakes::{Control, FakeSlack, FakeSlackOptions};

/// The token each fake accepts (a secret the plugin must never log).
const TOKEN: &str = "xoxb-bench-token";
/// The channel every request is posted to, by ID.
const CHANNEL_ID: &str = "C0ACCESS";
/// The channel's name.
pub(crate) const CHANNEL_NAME: &str = "access-requests";
/// The Mattermost team holding the channel.
const MM_TEAM_ID: &str = "team00000000000000000000001";
const MM_TEAM_NAME: &str = "bench";
/// Mattermost and Discord IDs are 26 and 18 characters long; the fakes accept any.
const MM_CHANNEL_ID: &str = "chan00000000000000000000001";
const DISCORD_CHANNEL_ID: &str = "100000000000000001";

/// A chat plugin the harness can drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub(crate) enum DestinationKind {
    /// teleport-slack against a fake Slack.
    Slack,
    /// teleport-mattermost against a fake Mattermost.
    Mattermost,
    /// teleport-discord against a fake Discord.
    Discord,
}

/// A started fake of one kind.
pub(crate) enum Destination {
    Slack(FakeSlack),
    Mattermost(FakeMattermost),
    Discord(FakeDiscord),
}

/// One root message: the text it was posted with and the text it shows now (for Discord,
/// the content followed by the embeds' JSON), and when the fake received it.
pub(crate) struct RootMessage {
    pub first: String,
    pub current: String,
    pub received: Instant,
}

impl Destination {
    /// Starts the fake of `kind`, answering after `latency`.
    pub(crate) async fn start(kind: DestinationKind, latency: Duration) -> Self {
        let destination = match kind {
            DestinationKind::Slack => Self::Slack(
                FakeSlack::start(
                    FakeSlackOptions::default()
                        .token(TOKEN)
                        .channel(CHANNEL_ID, CHANNEL_NAME),
                )
                .await,
            ),
            DestinationKind::Mattermost => Self::Mattermost(
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
                .await,
            ),
            DestinationKind::Discord => Self::Discord(
                FakeDiscord::start(FakeDiscordOptions::default().token(TOKEN).channel(
                    DISCORD_CHANNEL_ID,
                    CHANNEL_NAME,
                    true,
                ))
                .await,
            ),
        };
        destination.control().set_latency(latency);
        destination
    }

    /// The fake's fault and latency control.
    pub(crate) fn control(&self) -> &Control {
        match self {
            Self::Slack(fake) => fake.control(),
            Self::Mattermost(fake) => fake.control(),
            Self::Discord(fake) => fake.control(),
        }
    }

    /// The fake's base URL.
    pub(crate) fn base_url(&self) -> String {
        match self {
            Self::Slack(fake) => fake.base_url(),
            Self::Mattermost(fake) => fake.base_url(),
            Self::Discord(fake) => fake.base_url(),
        }
    }

    /// The token the plugin is given.
    pub(crate) fn token(&self) -> &'static str {
        TOKEN
    }

    /// The plugin's service section and `[role_to_recipients]`, every request to the one
    /// channel.
    pub(crate) fn config_section(&self) -> String {
        let url = self.base_url();
        match self {
            Self::Slack(_) => format!(
                "[slack]\ntoken = \"{TOKEN}\"\napiurl = \"{url}\"\n\n\
                 [role_to_recipients]\n\"*\" = \"{CHANNEL_NAME}\"\n"
            ),
            Self::Mattermost(_) => format!(
                "[mattermost]\nurl = \"{url}\"\ntoken = \"{TOKEN}\"\n\n\
                 [role_to_recipients]\n\"*\" = \"{MM_TEAM_NAME}/{CHANNEL_NAME}\"\n"
            ),
            Self::Discord(_) => format!(
                "[discord]\ntoken = \"{TOKEN}\"\napiurl = \"{url}\"\n\n\
                 [role_to_recipients]\n\"*\" = \"{DISCORD_CHANNEL_ID}\"\n"
            ),
        }
    }

    /// Every root message (no thread replies), in posting order.
    pub(crate) fn root_messages(&self) -> Vec<RootMessage> {
        match self {
            Self::Slack(fake) => fake
                .root_messages()
                .into_iter()
                .map(|m| RootMessage {
                    current: m.current().text.clone().unwrap_or_default(),
                    first: m.posted.text.unwrap_or_default(),
                    received: m.received,
                })
                .collect(),
            Self::Mattermost(fake) => fake.with_state(|state| {
                state
                    .roots()
                    .map(|post| RootMessage {
                        first: post.message.clone(),
                        current: post.current().to_owned(),
                        received: post.received,
                    })
                    .collect()
            }),
            Self::Discord(fake) => fake.with_state(|state| {
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
            }),
        }
    }

    /// How many messages of any kind (roots and replies) the fake holds.
    pub(crate) fn message_count(&self) -> usize {
        match self {
            Self::Slack(fake) => fake.messages().len(),
            Self::Mattermost(fake) => fake.with_state(|state| state.posts.len()),
            Self::Discord(fake) => fake.with_state(|state| state.messages.len()),
        }
    }
}

/// The request ID a message names: the first hyphenated UUID in its text (every plugin's
/// message carries the request's ID, and the testkit's IDs are UUIDs).
pub(crate) fn request_id_in(text: &str) -> Option<&str> {
    const LEN: usize = 36;
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(LEN - 1))
        .find(|&start| uuid::Uuid::try_parse_ascii(&bytes[start..start + LEN]).is_ok())
        // A parsed window is ASCII, so its ends are character boundaries.
        .map(|start| &text[start..start + LEN])
}

/// Whether a message shows a final status: every chat plugin writes Go's status words in
/// capitals (Slack's fallback text `(APPROVED)`, Mattermost's `**Status**: ✅ APPROVED`).
pub(crate) fn shows_final_status(text: &str) -> bool {
    ["APPROVED", "DENIED", "EXPIRED"]
        .iter()
        .any(|status| text.contains(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0b7c6a2e-1f2e-4d3c-9a8b-7c6d5e4f3a2b";

    #[test]
    fn the_request_id_is_found_in_every_plugins_text() {
        let slack = format!("You have a new Role Request from a@example.com (PENDING): {ID}");
        let mattermost = format!("**Reason**: x\n**Request ID**: {ID}\n**Status**: ⏳ PENDING");
        assert_eq!(request_id_in(&slack), Some(ID));
        assert_eq!(request_id_in(&mattermost), Some(ID));
        assert_eq!(request_id_in("no id here: 1f2e-3d"), None);
        assert_eq!(request_id_in(""), None);
    }

    #[test]
    fn final_statuses_are_recognised() {
        assert!(shows_final_status("… (APPROVED): x"));
        assert!(shows_final_status("**Status**: ❌ DENIED"));
        assert!(shows_final_status("(EXPIRED)"));
        assert!(!shows_final_status("(PENDING): x"));
        assert!(!shows_final_status("chaos: approved"));
    }
}
