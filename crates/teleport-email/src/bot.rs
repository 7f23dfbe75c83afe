//! The e-mail messaging bot: one thread per recipient, replies for reviews and the resolution.

use std::time::{SystemTime, UNIX_EPOCH};

use lettre::message::Mailbox;
use teleport_client::AccessReview;
use teleport_plugin_runtime::config::is_plain_email;
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::messaging::{MessagingBot, Recipient, RequestView, Status};
use teleport_plugin_runtime::service_error::ServiceError;

use crate::client::{Mailer, OutgoingMail, new_message_id};
use crate::record::EmailThread;
use crate::render::{self, Body};

/// Sends access requests by e-mail.
#[derive(Debug)]
pub struct EmailBot {
    mailer: Mailer,
    sender: Mailbox,
    /// The host name Message-IDs end with.
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

    async fn send(
        &self,
        to: &str,
        view: &RequestView,
        body: Body,
        in_reply_to: Option<&str>,
    ) -> Result<String, ServiceError> {
        let mail = OutgoingMail {
            to: to.to_owned(),
            subject: render::subject(&view.cluster, &view.request.id),
            text: body.text,
            html: body.html,
            message_id: new_message_id(&self.host),
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
    ) -> Result<(), ServiceError> {
        let body = render::review_body(review);
        self.send(&thread.email, view, body, Some(&thread.message_id))
            .await
            .map(|_| ())
    }

    async fn update_message(
        &self,
        thread: &EmailThread,
        view: &RequestView,
    ) -> Result<(), ServiceError> {
        let body = render::request_body(view, render::RESOLVED);
        self.send(&thread.email, view, body, Some(&thread.message_id))
            .await
            .map(|_| ())
    }

    async fn notify_requester(&self, view: &RequestView) -> Result<bool, ServiceError> {
        let user = &view.request.user;
        if !is_plain_email(user) || view.status == Status::Pending {
            return Ok(false);
        }
        let body = render::request_body(view, render::YOUR_REQUEST_RESOLVED);
        self.send(user, view, body, None).await?;
        Ok(true)
    }
}
