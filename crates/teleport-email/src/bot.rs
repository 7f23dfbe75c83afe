//! The e-mail messaging bot: one thread per recipient, replies for reviews and the resolution.

use std::time::{SystemTime, UNIX_EPOCH};

use lettre::message::Mailbox;
use teleport_client::{AccessReview, PluginDataMap};
use teleport_plugin_runtime::config::is_plain_email;
use teleport_plugin_runtime::messaging::{MessagingBot, Recipient, RequestView, SendError, Status};
use teleport_plugin_runtime::state::MessageCodec;

use crate::mailer::{Mailer, OutgoingMail, new_message_id, strip_brackets};
use crate::render::{self, Body};

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

/// Sends access requests by e-mail.
#[derive(Debug)]
pub struct EmailBot {
    mailer: Mailer,
    sender: Mailbox,
}

impl EmailBot {
    /// A bot sending from `sender` through `mailer`.
    pub fn new(mailer: Mailer, sender: Mailbox) -> Self {
        Self { mailer, sender }
    }

    async fn send(
        &self,
        to: &str,
        view: &RequestView,
        body: Body,
        in_reply_to: Option<&str>,
    ) -> Result<String, SendError> {
        let mail = OutgoingMail {
            to: to.to_owned(),
            subject: render::subject(&view.cluster, &view.request.id),
            text: body.text,
            html: body.html,
            message_id: new_message_id(self.sender.email.domain()),
            in_reply_to: in_reply_to.map(str::to_owned),
        };
        self.mailer.send(&self.sender, &mail).await
    }
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

impl MessagingBot for EmailBot {
    async fn resolve_recipient(&self, raw: &str) -> Result<Option<Recipient>, SendError> {
        Ok(is_plain_email(raw).then(|| Recipient { id: raw.to_owned() }))
    }

    async fn send_request(
        &self,
        recipient: &Recipient,
        view: &RequestView,
    ) -> Result<EmailThread, SendError> {
        let body = render::request_body(view, render::NEW_REQUEST);
        let message_id = self.send(&recipient.id, view, body, None).await?;
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        Ok(EmailThread {
            email: recipient.id.clone(),
            timestamp: timestamp.to_string(),
            message_id,
        })
    }

    async fn send_review(
        &self,
        thread: &EmailThread,
        view: &RequestView,
        review: &AccessReview,
    ) -> Result<(), SendError> {
        let body = render::review_body(review);
        self.send(&thread.email, view, body, Some(&thread.message_id))
            .await
            .map(|_| ())
    }

    async fn update_message(
        &self,
        thread: &EmailThread,
        view: &RequestView,
    ) -> Result<(), SendError> {
        let body = render::request_body(view, render::RESOLVED);
        self.send(&thread.email, view, body, Some(&thread.message_id))
            .await
            .map(|_| ())
    }

    async fn notify_requester(&self, view: &RequestView) -> Result<bool, SendError> {
        let user = &view.request.user;
        if !is_plain_email(user) || view.status == Status::Pending {
            return Ok(false);
        }
        let body = render::request_body(view, render::YOUR_REQUEST_RESOLVED);
        self.send(user, view, body, None).await?;
        Ok(true)
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
