//! How Teams messages are kept in the request's record, as Go's plugin keeps them (namespace
//! `msteams`, the generic request keys plus `messages`): each message is base64 of the JSON
//! `{"id": activity ID, "ts": when posted (RFC 822), "rid": the recipient as configured}`,
//! comma-joined. The older `id/ts/rid` form is read too.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use teleport_plugin_runtime::messaging::MessageCodec;

use crate::bot::TeamsBot;

/// One sent card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamsMessage {
    /// The activity ID the Bot Framework gave it.
    pub id: String,
    /// When it was posted, in Go's RFC 822 layout.
    #[serde(rename = "ts")]
    pub timestamp: String,
    /// The recipient as configured (e-mail, user ID or channel link): updates resolve it
    /// again to find the conversation, as Go's plugin does.
    #[serde(rename = "rid")]
    pub recipient: String,
}

impl TeamsMessage {
    /// Go's encoding: base64 (standard, padded) of the compact JSON.
    pub fn encode(&self) -> String {
        // Three string fields: serialising cannot fail.
        STANDARD.encode(teleport_plugin_runtime::go_json::to_string(self).unwrap_or_default())
    }

    /// Reads Go's encoding, or the older `id/ts/rid`.
    pub fn decode(text: &str) -> Option<Self> {
        let text = text.trim();
        match STANDARD.decode(text) {
            Ok(json) => serde_json::from_slice::<Self>(&json).ok(),
            Err(_) => match text.split('/').collect::<Vec<_>>().as_slice() {
                [id, ts, rid] => Some(Self {
                    id: (*id).to_owned(),
                    timestamp: (*ts).to_owned(),
                    recipient: (*rid).to_owned(),
                }),
                _ => None,
            },
        }
        .filter(|m| !m.id.is_empty() && !m.recipient.is_empty())
    }
}

impl MessageCodec for TeamsBot {
    type Message = TeamsMessage;
    const MESSAGES_KEY: &'static str = "messages";

    fn encode(message: &TeamsMessage) -> String {
        message.encode()
    }

    fn decode(text: &str) -> Option<TeamsMessage> {
        TeamsMessage::decode(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_in_go_form() {
        let message = TeamsMessage {
            id: "1700000000001".into(),
            timestamp: "02 Jan 26 15:04 UTC".into(),
            recipient: "alice@example.com".into(),
        };
        let encoded = message.encode();
        // base64 of Go's json.Marshal output, fields in declaration order.
        let json = STANDARD.decode(&encoded).expect("base64");
        assert_eq!(
            String::from_utf8(json).expect("utf-8"),
            r#"{"id":"1700000000001","ts":"02 Jan 26 15:04 UTC","rid":"alice@example.com"}"#
        );
        assert!(!encoded.contains(','));
        assert_eq!(TeamsMessage::decode(&encoded), Some(message));
    }

    #[test]
    fn the_older_form_is_read() {
        assert_eq!(
            TeamsMessage::decode("1700000000001/02 Jan 26 15:04 UTC/bob@example.com"),
            Some(TeamsMessage {
                id: "1700000000001".into(),
                timestamp: "02 Jan 26 15:04 UTC".into(),
                recipient: "bob@example.com".into(),
            })
        );
        assert_eq!(TeamsMessage::decode("nothing"), None);
        assert_eq!(TeamsMessage::decode(&STANDARD.encode("{}")), None);
    }
}
