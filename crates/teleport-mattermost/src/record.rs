//! How Mattermost posts are kept in the request's record: the Go plugin's `channel/post`
//! list under `messages`, and its older single `channel_id` + `postID`.

use teleport_client::PluginDataMap;
use teleport_plugin_runtime::messaging::{ChannelMessage, MessageCodec};

use crate::bot::MattermostBot;

impl MessageCodec for MattermostBot {
    type Message = ChannelMessage;
    const MESSAGES_KEY: &'static str = ChannelMessage::MESSAGES_KEY;

    fn encode(message: &ChannelMessage) -> String {
        message.encode()
    }

    /// A reference with an empty channel or post ID could never be edited or
    /// replied to, so it is dropped.
    fn decode(text: &str) -> Option<ChannelMessage> {
        ChannelMessage::decode(text).filter(|m| !m.channel.is_empty() && !m.id.is_empty())
    }

    /// The Go plugin's single post: `channel_id` + `postID`.
    fn decode_legacy(data: &PluginDataMap) -> Option<ChannelMessage> {
        ChannelMessage::decode_legacy(data, "postID")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_references_in_go_form() {
        let message = ChannelMessage {
            channel: "chan1".into(),
            id: "post1".into(),
        };
        assert_eq!(MattermostBot::encode(&message), "chan1/post1");
        assert_eq!(MattermostBot::decode("chan1/post1"), Some(message.clone()));
        assert_eq!(MattermostBot::decode("chan1/"), None);
        assert_eq!(MattermostBot::decode("nothing"), None);

        let legacy: PluginDataMap = [
            ("channel_id".to_owned(), "chan1".to_owned()),
            ("postID".to_owned(), "post1".to_owned()),
        ]
        .into_iter()
        .collect();
        assert_eq!(MattermostBot::decode_legacy(&legacy), Some(message));
        assert_eq!(MattermostBot::decode_legacy(&PluginDataMap::new()), None);
    }
}
