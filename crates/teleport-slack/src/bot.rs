//! The Slack `MessagingBot`: what each runtime action means in Slack's Web API.

use teleport_client::{AccessReview, PluginDataMap, RequestState};
use teleport_plugin_runtime::config::is_plain_email;
use teleport_plugin_runtime::messaging::{self, MessagingBot, Recipient, SendError};
use teleport_plugin_runtime::state::{ChannelMessage, MessageCodec, Resolution};

use crate::render;
use crate::slack_api::{HttpsSlackConnector, MessageRef, SlackApi, SlackError};

/// Posts to Slack.
pub struct SlackBot {
    api: SlackApi<HttpsSlackConnector>,
}

impl SlackBot {
    /// A bot over an API client.
    pub fn new(api: SlackApi<HttpsSlackConnector>) -> Self {
        Self { api }
    }
}

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

impl MessagingBot for SlackBot {
    async fn resolve_recipient(&self, raw: &str) -> Result<Option<Recipient>, SendError> {
        if !is_plain_email(raw) {
            // A channel name or ID, used as is (Slack reports unknown ones on post).
            return Ok(Some(Recipient { id: raw.to_owned() }));
        }
        let user = self
            .api
            .lookup_user_by_email(raw)
            .await
            .map_err(send_error)?;
        Ok(user.map(|user| Recipient { id: user.0 }))
    }

    async fn send_request(
        &self,
        recipient: &Recipient,
        view: &messaging::RequestView,
    ) -> Result<ChannelMessage, SendError> {
        let message = render::request_message(&request_view(view));
        let posted = self
            .api
            .post_message(&recipient.id, &message.blocks, &message.text)
            .await
            .map_err(send_error)?;
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
    ) -> Result<(), SendError> {
        let text = render::review_reply(&review_view(review));
        self.api
            .post_thread_reply(&message_ref(message), &text)
            .await
            .map(drop)
            .map_err(send_error)
    }

    async fn update_message(
        &self,
        message: &ChannelMessage,
        view: &messaging::RequestView,
    ) -> Result<(), SendError> {
        let rendered = render::request_message(&request_view(view));
        self.api
            .update_message(&message_ref(message), &rendered.blocks, &rendered.text)
            .await
            .map_err(send_error)
    }

    async fn notify_requester(&self, view: &messaging::RequestView) -> Result<bool, SendError> {
        let requester = &view.request.user;
        if !is_plain_email(requester) {
            return Ok(false);
        }
        let Some(user) = self
            .api
            .lookup_user_by_email(requester)
            .await
            .map_err(send_error)?
        else {
            return Ok(false);
        };
        let message =
            render::requester_update(&view.request.id, status(view.status), &view.resolve_reason);
        self.api
            .post_message(&user.0, &message.blocks, &message.text)
            .await
            .map_err(send_error)?;
        Ok(true)
    }
}

fn message_ref(message: &ChannelMessage) -> MessageRef {
    MessageRef {
        channel: message.channel.clone(),
        ts: message.id.clone(),
    }
}

/// Rate limits, outages and token problems are retried (a fixed token then
/// delivers everything); refusals of this one call are not.
fn send_error(error: SlackError) -> SendError {
    match error {
        SlackError::RateLimited { retry_after } => SendError::Transient {
            message: error.to_string(),
            retry_after: Some(retry_after),
        },
        SlackError::Api { .. } => SendError::permanent(error.to_string()),
        SlackError::Auth { .. } | SlackError::Transient { .. } | SlackError::Unexpected { .. } => {
            SendError::transient(error.to_string())
        }
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
        resources: view
            .request
            .resources
            .iter()
            .map(ToString::to_string)
            .collect(),
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
