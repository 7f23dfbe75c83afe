//! How Slack messages are kept in the request's record: the Go plugin's `channel/ts` list
//! under `messages`, and its older single `channel_id` + `timestamp`.

use teleport_client::PluginDataMap;
use teleport_plugin_runtime::messaging::{ChannelMessage, MessageCodec};

use crate::bot::SlackBot;

impl MessageCodec for SlackBot {
    type Message = ChannelMessage;
    const MESSAGES_KEY: &'static str = ChannelMessage::MESSAGES_KEY;

    fn encode(message: &ChannelMessage) -> String {
        message.encode()
    }

    fn decode(text: &str) -> Option<ChannelMessage> {
        ChannelMessage::decode(text)
    }

    /// The Go plugin's single message: `channel_id` + `timestamp`.
    fn decode_legacy(data: &PluginDataMap) -> Option<ChannelMessage> {
        ChannelMessage::decode_legacy(data, "timestamp")
    }
}
