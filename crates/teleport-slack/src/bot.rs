//! The Slack `MessagingBot`: what each runtime action means in Slack's Web API.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use teleport_client::{AccessReview, RequestState};
use teleport_plugin_runtime::config::is_plain_email;
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::messaging::{
    self, ChannelMessage, MessagingBot, PostWindow, Recipient,
};
use teleport_plugin_runtime::record::Resolution;
use teleport_plugin_runtime::service_error::ServiceError;

use crate::client::{HttpsSlackConnector, MessageRef, SlackApi, SlackError};
use crate::render;

/// History pages read per lookup (of 200 messages each) before giving up and posting.
const MAX_HISTORY_PAGES: usize = 25;

/// `conversations.list` pages read to find a channel by name.
const MAX_CHANNEL_PAGES: usize = 50;

/// Posts to Slack.
pub struct SlackBot {
    api: SlackApi<HttpsSlackConnector>,
    review_buttons: bool,
    /// Recipient (channel name, user ID) → conversation ID, learned from posts and
    /// lookups: `conversations.history` takes IDs only.
    conversations: Mutex<HashMap<String, String>>,
}

impl SlackBot {
    /// A bot over an API client.
    pub fn new(api: SlackApi<HttpsSlackConnector>) -> Self {
        Self {
            api,
            review_buttons: false,
            conversations: Mutex::new(HashMap::new()),
        }
    }

    fn conversations(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.conversations.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn learn(&self, recipient: &str, conversation: &str) {
        if recipient != conversation {
            self.conversations()
                .insert(recipient.to_owned(), conversation.to_owned());
        }
    }

    /// The conversation ID messages to `recipient` land in: itself for an ID, the DM's
    /// for a user, the channel's for a name; `None` when no channel has that name.
    async fn conversation_of(&self, recipient: &str) -> Result<Option<String>, SlackError> {
        if let Some(known) = self.conversations().get(recipient) {
            return Ok(Some(known.clone()));
        }
        if is_id_with_prefix(recipient, &['C', 'G', 'D']) {
            return Ok(Some(recipient.to_owned()));
        }
        if is_id_with_prefix(recipient, &['U', 'W']) {
            let dm = self.api.open_dm(recipient).await?;
            self.learn(recipient, &dm);
            return Ok(Some(dm));
        }
        let name = recipient.strip_prefix('#').unwrap_or(recipient);
        let mut cursor = None;
        for _ in 0..MAX_CHANNEL_PAGES {
            let page = self.api.channels_page(cursor.as_deref()).await?;
            if let Some((id, _)) = page.channels.iter().find(|(_, n)| n == name) {
                self.learn(recipient, id);
                return Ok(Some(id.clone()));
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(None)
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
            .post_request_message(
                &recipient.id,
                &message.blocks,
                &message.text,
                &view.request.id,
            )
            .await
            .map_err(ServiceError::from)?;
        self.learn(&recipient.id, &posted.channel);
        Ok(ChannelMessage::new(posted.channel, posted.ts))
    }

    fn finds_posted(&self) -> bool {
        true
    }

    /// Pages back through the recipient's conversation over `window`, newest first, for a
    /// message whose metadata names the request.
    async fn find_posted(
        &self,
        recipient: &Recipient,
        request_id: &str,
        window: &PostWindow,
    ) -> Result<Option<ChannelMessage>, ServiceError> {
        let Some(channel) = self.conversation_of(&recipient.id).await? else {
            return Err(ServiceError::permanent(format!(
                "no channel named {} to look in",
                recipient.id
            )));
        };
        let (oldest, latest) = (slack_ts(window.after), slack_ts(window.before));
        let mut cursor = None;
        for _ in 0..MAX_HISTORY_PAGES {
            let page = self
                .api
                .history_page(&channel, &oldest, &latest, cursor.as_deref())
                .await?;
            if let Some(found) = page
                .messages
                .iter()
                .find(|m| m.request_id.as_deref() == Some(request_id))
            {
                return Ok(Some(ChannelMessage {
                    channel,
                    id: found.ts.clone(),
                }));
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(None),
            }
        }
        Err(ServiceError::permanent(format!(
            "more than {MAX_HISTORY_PAGES} pages of messages to look through"
        )))
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

/// Whether `text` is a Slack ID starting with one of `prefixes` (`C0123ABC`): IDs are
/// upper-case, channel names never are.
fn is_id_with_prefix(text: &str, prefixes: &[char]) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| prefixes.contains(&c))
        && text.len() > 1
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A time as Slack writes message timestamps, `"<unix secs>.<micros>"`.
fn slack_ts(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:06}", since.as_secs(), since.subsec_micros())
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
