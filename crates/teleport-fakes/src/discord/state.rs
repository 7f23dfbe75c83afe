//! What the fake Discord remembers: channels the bot may or may not see, messages with their
//! embeds and every edit.

use std::time::Instant;

use serde_json::Value;

/// A text channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DcChannel {
    /// The channel's snowflake ID.
    pub id: String,
    /// Its name (what people see, without `#`).
    pub name: String,
    /// Whether the bot may read and post there; otherwise Discord answers 403 `Missing Access`.
    pub bot_access: bool,
}

/// One version of a message: its text and its embeds.
#[derive(Clone, Debug, PartialEq)]
pub struct DcContent {
    /// `content`.
    pub content: String,
    /// `embeds`, as sent.
    pub embeds: Vec<Value>,
}

impl DcContent {
    /// The embeds' `title`s, in order.
    pub fn embed_titles(&self) -> Vec<String> {
        self.embeds
            .iter()
            .map(|e| e["title"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// A stored message with its edit history.
#[derive(Clone, Debug, PartialEq)]
pub struct DcMessage {
    /// The message's snowflake ID.
    pub id: String,
    /// The channel it is in.
    pub channel_id: String,
    /// As first posted.
    pub posted: DcContent,
    /// Every later `PATCH`, oldest first.
    pub edits: Vec<DcContent>,
    /// When the message reached the fake.
    pub received: Instant,
}

impl DcMessage {
    /// The message after the latest edit.
    pub fn current(&self) -> &DcContent {
        self.edits.last().unwrap_or(&self.posted)
    }
}

/// Everything the fake remembers, for [`FakeDiscord::wait_for`](super::FakeDiscord::wait_for)
/// predicates.
#[derive(Debug, Default)]
pub struct DcState {
    /// Channels.
    pub channels: Vec<DcChannel>,
    /// Messages in posting order.
    pub messages: Vec<DcMessage>,
    next_id: u64,
}

impl DcState {
    /// A fresh snowflake (digits only, as Discord's): its top bits are the wall-clock
    /// milliseconds since Discord's epoch (2015), so `after=<snowflake of a time>` works as
    /// documented; always above the previous one.
    pub(crate) fn new_id(&mut self) -> String {
        const DISCORD_EPOCH_MILLIS: u64 = 1_420_070_400_000;
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let millis = u64::try_from(millis).unwrap_or(u64::MAX);
        let from_clock = millis.saturating_sub(DISCORD_EPOCH_MILLIS) << 22;
        self.next_id = from_clock.max(self.next_id + 1);
        self.next_id.to_string()
    }

    /// The message with this ID.
    pub fn message(&self, id: &str) -> Option<&DcMessage> {
        self.messages.iter().find(|m| m.id == id)
    }

    /// Messages in `channel_id`, in posting order.
    pub fn in_channel<'a>(&'a self, channel_id: &'a str) -> impl Iterator<Item = &'a DcMessage> {
        self.messages
            .iter()
            .filter(move |m| m.channel_id == channel_id)
    }
}
