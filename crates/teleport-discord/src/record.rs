//! How Discord messages are kept in the request's record: the Go plugin's
//! `channelID/messageID` list under `messages` (its generic messaging format).

use teleport_plugin_runtime::messaging::ChannelMessageCodec;

use crate::bot::DiscordBot;

/// The defaults: `messages` only, and a reference with an empty channel or message ID,
/// which could never be edited, is dropped.
impl ChannelMessageCodec for DiscordBot {}

#[cfg(test)]
mod tests {
    use teleport_plugin_runtime::messaging::{ChannelMessage, MessageCodec};

    use super::*;

    #[test]
    fn message_references_in_go_form() {
        let message = ChannelMessage {
            channel: "1234567890".into(),
            id: "1100000000000000001".into(),
        };
        assert_eq!(
            DiscordBot::encode(&message),
            "1234567890/1100000000000000001"
        );
        assert_eq!(
            DiscordBot::decode("1234567890/1100000000000000001"),
            Some(message)
        );
        assert_eq!(DiscordBot::decode("1234567890/"), None);
        assert_eq!(DiscordBot::decode("nothing"), None);
    }
}
