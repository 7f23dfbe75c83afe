//! How Mattermost posts are kept in the request's record: the Go plugin's `channel/post`
//! list under `messages`, and its older single `channel_id` + `postID`.

use teleport_plugin_runtime::messaging::ChannelMessageCodec;

use crate::bot::MattermostBot;

/// A reference with an empty channel or post ID, which could never be edited or replied
/// to, is dropped (the default); the Go plugin's single post was `channel_id` + `postID`.
impl ChannelMessageCodec for MattermostBot {
    const LEGACY_ID_KEY: Option<&'static str> = Some("postID");
}

#[cfg(test)]
mod tests {
    use teleport_client::PluginDataMap;
    use teleport_plugin_runtime::messaging::{ChannelMessage, MessageCodec};

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
