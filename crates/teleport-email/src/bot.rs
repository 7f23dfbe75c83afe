//! The e-mail messaging bot: one thread per recipient, replies for reviews and the resolution.
//!
//! A thread's first mail carries a `Message-ID` derived from the request and the recipient
//! ([`root_message_id`]), the same on every replica; replies and the requester's notice get
//! fresh ones. With Mailgun the bot finds a first mail by that ID ([`MessagingBot::find_posted`],
//! through Mailgun's events API), so a replica that takes over from one killed between the
//! send and its record records the mail instead of sending it again. SMTP cannot be asked;
//! there the copy carries the same ID, which mail clients can fold.

use std::time::{SystemTime, UNIX_EPOCH};

use lettre::message::Mailbox;
use teleport_client::AccessReview;
use teleport_plugin_runtime::config::is_plain_email;
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::messaging::{
    MessagingBot, PostWindow, Recipient, RequestView, Status,
};
use teleport_plugin_runtime::service_error::ServiceError;

use crate::client::{Mailer, OutgoingMail, new_message_id, root_message_id};
use crate::record::EmailThread;
use crate::render::{self, Body};

/// Sends access requests by e-mail.
#[derive(Debug)]
pub struct EmailBot {
    mailer: Mailer,
    sender: Mailbox,
    /// The host name fresh Message-IDs (replies, the requester's notice) end with.
    host: String,
}

impl EmailBot {
    /// A bot sending from `sender` through `mailer`.
    pub fn new(mailer: Mailer, sender: Mailbox) -> Self {
        // Go's mail library names the sending host in Message-IDs; the sender's domain
        // stands in where the host has no name.
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_owned())
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| sender.email.domain().to_owned());
        Self {
            mailer,
            sender,
            host,
        }
    }

    /// The first mail of `request_id`'s thread to `recipient` carries this `Message-ID`, at
    /// the sender's domain (the same on every replica, unlike the host name).
    fn root_message_id(&self, request_id: &str, recipient: &str) -> String {
        root_message_id(request_id, recipient, self.sender.email.domain())
    }

    /// Sends a mail with a fresh `Message-ID`, or `message_id` when given.
    async fn send(
        &self,
        to: &str,
        view: &RequestView,
        body: Body,
        in_reply_to: Option<&str>,
        message_id: Option<String>,
    ) -> Result<String, ServiceError> {
        let mail = OutgoingMail {
            to: to.to_owned(),
            subject: render::subject(&view.cluster, &view.request.id),
            text: body.text,
            html: body.html,
            message_id: message_id.unwrap_or_else(|| new_message_id(&self.host)),
            in_reply_to: in_reply_to.map(str::to_owned),
        };
        self.mailer.send(&self.sender, &mail).await
    }
}

impl HealthCheck for EmailBot {
    fn service_name(&self) -> &'static str {
        self.mailer.service_name()
    }

    async fn check_health(&self) -> Result<(), ServiceError> {
        self.mailer.check().await
    }
}

impl MessagingBot for EmailBot {
    /// The Go e-mail plugin knows no PROMOTED: such a request gets its resolution mail
    /// (EXPIRED) when it is deleted.
    fn shows_promoted(&self) -> bool {
        false
    }

    /// The Go e-mail plugin shows no resources and looks none up: no `ListResources` call.
    fn names_resources(&self) -> bool {
        false
    }

    async fn resolve_recipient(&self, raw: &str) -> Result<Option<Recipient>, ServiceError> {
        Ok(is_plain_email(raw).then(|| Recipient { id: raw.to_owned() }))
    }

    async fn send_request(
        &self,
        recipient: &Recipient,
        view: &RequestView,
    ) -> Result<EmailThread, ServiceError> {
        let body = render::request_body(view, render::NEW_REQUEST);
        let root = self.root_message_id(&view.request.id, &recipient.id);
        let message_id = self
            .send(&recipient.id, view, body, None, Some(root))
            .await?;
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

    /// With Mailgun, which reports the mails it accepted under the key that sends.
    fn finds_posted(&self) -> bool {
        self.mailer.finds_sent()
    }

    /// The thread's first mail to `recipient`, found by its [`root_message_id`] among the
    /// mails Mailgun accepted within `window`; recorded as [`send_request`](Self::send_request)
    /// records a mail sent (Mailgun's time of acceptance as the thread's timestamp). Mailgun's
    /// events may lag a few seconds behind (see
    /// [`MailgunMailer::find_accepted`](crate::client::mailgun::MailgunMailer::find_accepted)).
    async fn find_posted(
        &self,
        recipient: &Recipient,
        request_id: &str,
        window: &PostWindow,
    ) -> Result<Option<EmailThread>, ServiceError> {
        let root = self.root_message_id(request_id, &recipient.id);
        let found = self.mailer.find_sent(&root, window).await?;
        Ok(found.map(|mail| EmailThread {
            email: recipient.id.clone(),
            timestamp: mail.accepted_at.to_string(),
            message_id: mail.message_id,
        }))
    }

    async fn send_review(
        &self,
        thread: &EmailThread,
        view: &RequestView,
        review: &AccessReview,
    ) -> Result<(), ServiceError> {
        let body = render::review_body(review);
        self.send(&thread.email, view, body, Some(&thread.message_id), None)
            .await
            .map(|_| ())
    }

    async fn update_message(
        &self,
        thread: &EmailThread,
        view: &RequestView,
    ) -> Result<(), ServiceError> {
        let body = render::request_body(view, render::RESOLVED);
        self.send(&thread.email, view, body, Some(&thread.message_id), None)
            .await
            .map(|_| ())
    }

    async fn notify_requester(&self, view: &RequestView) -> Result<bool, ServiceError> {
        let user = &view.request.user;
        if !is_plain_email(user) || view.status == Status::Pending {
            return Ok(false);
        }
        let body = render::request_body(view, render::YOUR_REQUEST_RESOLVED);
        self.send(user, view, body, None, None).await?;
        Ok(true)
    }
}
