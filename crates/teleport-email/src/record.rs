//! How mail threads are kept in the request's record: the Go plugin's
//! `email/timestamp/messageID` list under `email_threads`, and its older single `email` +
//! `timestamp`.

use teleport_client::PluginDataMap;
use teleport_plugin_runtime::messaging::MessageCodec;

use crate::bot::EmailBot;
use crate::client::strip_brackets;

/// One mail thread: the recipient, when it started, and its first message's ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailThread {
    /// The recipient's address.
    pub email: String,
    /// When the first mail was sent: Unix seconds (Go wrote its own time format, kept as is).
    pub timestamp: String,
    /// The first mail's `Message-ID` without brackets (empty in Go's oldest records).
    pub message_id: String,
}

impl MessageCodec for EmailBot {
    type Message = EmailThread;
    const MESSAGES_KEY: &'static str = "email_threads";

    fn encode(thread: &EmailThread) -> String {
        format!(
            "{}/{}/{}",
            thread.email, thread.timestamp, thread.message_id
        )
    }

    /// `email/timestamp/messageID`; Go's timestamps hold spaces, never `/` or `,`.
    fn decode(text: &str) -> Option<EmailThread> {
        let (email, rest) = text.split_once('/')?;
        let (timestamp, message_id) = rest.rsplit_once('/')?;
        (!email.is_empty()).then(|| EmailThread {
            email: email.to_owned(),
            timestamp: timestamp.to_owned(),
            // Go kept Mailgun's ID with its brackets; ours are bare.
            message_id: strip_brackets(message_id).to_owned(),
        })
    }

    fn decode_legacy(data: &PluginDataMap) -> Option<EmailThread> {
        let email = data.get("email").filter(|e| !e.is_empty())?;
        let timestamp = data.get("timestamp").filter(|t| !t.is_empty())?;
        Some(EmailThread {
            email: email.clone(),
            timestamp: timestamp.clone(),
            message_id: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_round_trip_and_go_forms_decode() {
        let thread = EmailThread {
            email: "admin@example.com".into(),
            timestamp: "1700000000".into(),
            message_id: "ABC.DEF@example.com".into(),
        };
        let encoded = EmailBot::encode(&thread);
        assert_eq!(encoded, "admin@example.com/1700000000/ABC.DEF@example.com");
        assert_eq!(EmailBot::decode(&encoded), Some(thread));

        // Go wrote time.Now().String(), with spaces.
        let go = "root@example.com/2024-05-01 10:11:12.123456789 +0000 UTC m=+1.000000001/<1.2@mg.example.com>";
        let decoded = EmailBot::decode(go).expect("decodes");
        assert_eq!(decoded.email, "root@example.com");
        assert_eq!(
            decoded.timestamp,
            "2024-05-01 10:11:12.123456789 +0000 UTC m=+1.000000001"
        );
        assert_eq!(decoded.message_id, "1.2@mg.example.com");
        assert_eq!(EmailBot::decode("no-slashes"), None);

        let legacy: PluginDataMap = [
            ("email".to_owned(), "old@example.com".to_owned()),
            (
                "timestamp".to_owned(),
                "2021-01-01 00:00:00 +0000 UTC".to_owned(),
            ),
        ]
        .into_iter()
        .collect();
        let thread = EmailBot::decode_legacy(&legacy).expect("legacy");
        assert_eq!(thread.email, "old@example.com");
        assert_eq!(thread.message_id, "");
    }
}
