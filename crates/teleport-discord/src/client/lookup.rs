//! Request messages that can be found again: Discord has no metadata on a bot's message,
//! but the request message's content always carries its `*ID*: <request ID>` line, and
//! `GET channels/{id}/messages?after=<snowflake>` lists what was posted since a time (a
//! snowflake's top bits are its creation time), so a replica that takes over, or retries a
//! post whose answer was lost, finds the one already made.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde::Deserialize;

use super::{DiscordApi, DiscordError};

/// Discord's largest page of messages.
pub const MESSAGES_PAGE: usize = 100;

/// The first second of 2015, where Discord's snowflake clock starts, in Unix milliseconds.
const DISCORD_EPOCH_MILLIS: u64 = 1_420_070_400_000;

/// A listed message: what the lookup needs of it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct FoundMessage {
    /// Message ID (a snowflake).
    pub id: String,
    /// The channel it is in.
    pub channel_id: String,
    /// Its text.
    #[serde(default)]
    pub content: String,
}

impl FoundMessage {
    /// When Discord created it, read from its snowflake.
    pub fn created(&self) -> Option<SystemTime> {
        let id: u64 = self.id.parse().ok()?;
        Some(UNIX_EPOCH + Duration::from_millis((id >> 22) + DISCORD_EPOCH_MILLIS))
    }
}

/// The smallest snowflake Discord could give a message created at `time` (earlier than its
/// epoch: 0).
pub fn snowflake_at(time: SystemTime) -> u64 {
    let millis = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let millis = u64::try_from(millis).unwrap_or(u64::MAX);
    millis.saturating_sub(DISCORD_EPOCH_MILLIS) << 22
}

impl DiscordApi {
    /// `GET channels/{id}/messages?after=&limit=100`: up to a page of the channel's messages
    /// with IDs above `after`.
    pub async fn messages_after(
        &self,
        channel_id: &str,
        after: u64,
    ) -> Result<Vec<FoundMessage>, DiscordError> {
        let (after, limit) = (after.to_string(), MESSAGES_PAGE.to_string());
        self.call_with_query(
            Method::GET,
            &["channels", channel_id, "messages"],
            &[("after", &after), ("limit", &limit)],
            None,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snowflake_carries_its_creation_time() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let message = FoundMessage {
            id: (snowflake_at(at) | 0x3f_ffff).to_string(),
            channel_id: String::new(),
            content: String::new(),
        };
        assert_eq!(message.created(), Some(at));
        assert_eq!(snowflake_at(UNIX_EPOCH), 0);
    }
}
