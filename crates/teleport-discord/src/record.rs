//! How Discord messages are kept in the request's record: the Go plugin's
//! `channelID/messageID` list under `messages` (its generic messaging format).

use teleport_plugin_runtime::messaging::{ChannelMessage, MessageCodec};

use crate::bot::DiscordBot;

impl MessageCodec for DiscordBot {
    type Message = ChannelMessage;
    const MESSAGES_KEY: &'static str = ChannelMessage::MESSAGES_KEY;

    fn encode(message: &ChannelMessage) -> String {
        message.encode()
    }

    /// A reference with an empty channel or message ID could never be edited, so it is
    /// dropped.
    fn decode(text: &str) -> Option<ChannelMessage> {
        ChannelMessage::decode(text).filter(|m| !m.channel.is_empty() && !m.id.is_empty())
    }
}

#[cfg(test)]
mod tests {
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
