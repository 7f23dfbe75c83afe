//! The Slack `MessagingBot`: what each runtime action means in Slack's Web API.

use teleport_client::{AccessReview, RequestState};
use teleport_plugin_runtime::config::is_plain_email;
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::messaging::{self, ChannelMessage, MessagingBot, Recipient};
use teleport_plugin_runtime::record::Resolution;
use teleport_plugin_runtime::service_error::ServiceError;

use crate::client::{HttpsSlackConnector, MessageRef, SlackApi};
use crate::render;

/// Posts to Slack.
pub struct SlackBot {
    api: SlackApi<HttpsSlackConnector>,
    review_buttons: bool,
}

impl SlackBot {
    /// A bot over an API client.
    pub fn new(api: SlackApi<HttpsSlackConnector>) -> Self {
        Self {
            api,
            review_buttons: false,
        }
    }

    /// Put Approve/Deny buttons on pending requests' messages (`[review] enabled`).
    pub fn with_review_buttons(mut self, enabled: bool) -> Self {
        self.review_buttons = enabled;
        self
    }

    /// The request message, with the review buttons while it is pending and they are on.
    fn request_message(&self, view: &messaging::RequestView) -> render::RenderedMessage {
        let mut message = render::request_message(&request_view(view));
        if self.review_buttons && view.status == messaging::Status::Pending {
            message
                .blocks
                .push(render::review_buttons(&view.request.id));
        }
        message
    }
}

impl HealthCheck for SlackBot {
    fn service_name(&self) -> &'static str {
        "Slack API"
    }

    async fn check_health(&self) -> Result<(), ServiceError> {
        let identity = self.api.auth_test().await?;
        tracing::info!(team = %identity.team, bot_user = %identity.user_id, "Slack token works");
        Ok(())
    }
}

impl MessagingBot for SlackBot {
    async fn resolve_recipient(&self, raw: &str) -> Result<Option<Recipient>, ServiceError> {
        if !is_plain_email(raw) {
            // A channel name or ID, used as is (Slack reports unknown ones on post).
            return Ok(Some(Recipient { id: raw.to_owned() }));
        }
        let user = self
            .api
            .lookup_user_by_email(raw)
            .await
            .map_err(ServiceError::from)?;
        Ok(user.map(|user| Recipient { id: user.0 }))
    }

    async fn send_request(
        &self,
        recipient: &Recipient,
        view: &messaging::RequestView,
    ) -> Result<ChannelMessage, ServiceError> {
        let message = self.request_message(view);
        let posted = self
            .api
            .post_message(&recipient.id, &message.blocks, &message.text)
            .await
            .map_err(ServiceError::from)?;
        Ok(ChannelMessage {
            channel: posted.channel,
            id: posted.ts,
        })
    }

    async fn send_review(
        &self,
        message: &ChannelMessage,
        _view: &messaging::RequestView,
        review: &AccessReview,
    ) -> Result<(), ServiceError> {
        let text = render::review_reply(&review_view(review));
        self.api
            .post_thread_reply(&message_ref(message), &text)
            .await
            .map(drop)
            .map_err(ServiceError::from)
    }

    async fn update_message(
        &self,
        message: &ChannelMessage,
        view: &messaging::RequestView,
    ) -> Result<(), ServiceError> {
        let rendered = self.request_message(view);
        self.api
            .update_message(&message_ref(message), &rendered.blocks, &rendered.text)
            .await
            .map_err(ServiceError::from)
    }

    /// Go's Slack plugin is the one that sends access-list review reminders.
    /// Go's Slack plugin shows each role's logins.
    fn shows_logins(&self) -> bool {
        true
    }

    fn sends_reminders(&self) -> bool {
        true
    }

    async fn send_reminder(&self, recipient: &Recipient, text: &str) -> Result<(), ServiceError> {
        let message = render::reminder(text);
        self.api
            .post_message(&recipient.id, &message.blocks, &message.text)
            .await
            .map(drop)
            .map_err(ServiceError::from)
    }

    async fn notify_requester(&self, view: &messaging::RequestView) -> Result<bool, ServiceError> {
        let requester = &view.request.user;
        if !is_plain_email(requester) {
            return Ok(false);
        }
        let Some(user) = self
            .api
            .lookup_user_by_email(requester)
            .await
            .map_err(ServiceError::from)?
        else {
            return Ok(false);
        };
        let message =
            render::requester_update(&view.request.id, status(view.status), &view.resolve_reason);
        self.api
            .post_message(&user.0, &message.blocks, &message.text)
            .await
            .map_err(ServiceError::from)?;
        Ok(true)
    }
}

fn message_ref(message: &ChannelMessage) -> MessageRef {
    MessageRef {
        channel: message.channel.clone(),
        ts: message.id.clone(),
    }
}

fn status(status: messaging::Status) -> render::Status {
    match status {
        messaging::Status::Pending => render::Status::Pending,
        messaging::Status::Resolved(Resolution::Approved) => render::Status::Approved,
        messaging::Status::Resolved(Resolution::Denied) => render::Status::Denied,
        messaging::Status::Resolved(Resolution::Expired) => render::Status::Expired,
        messaging::Status::Resolved(Resolution::Promoted) => render::Status::Promoted,
    }
}

fn request_view(view: &messaging::RequestView) -> render::RequestView {
    render::RequestView {
        id: view.request.id.clone(),
        cluster: view.cluster.clone(),
        user: view.request.user.clone(),
        roles: view.request.roles.clone(),
        reason: view.request.request_reason.clone(),
        resources: view.resources.clone(),
        logins_by_role: view.logins_by_role.clone(),
        link_base: view.web_base.clone(),
        status: status(view.status),
        resolve_reason: view.resolve_reason.clone(),
    }
}

fn review_view(review: &AccessReview) -> render::ReviewView {
    render::ReviewView {
        author: review.author.clone(),
        proposed_state: match review.proposed_state {
            RequestState::Denied => render::Status::Denied,
            _ => render::Status::Approved,
        },
        reason: review.reason.clone(),
        created: review.created.unwrap_or_else(time::OffsetDateTime::now_utc),
    }
}
