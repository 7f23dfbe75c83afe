//! The Discord messaging bot: the health check (token and channels), channel recipients,
//! messages, and edits that re-render the reviews as embeds (Discord has no threads for a
//! bot to reply in, as in the Go plugin).

use teleport_client::AccessReview;
use teleport_plugin_runtime::config::RoleToRecipients;
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::messaging::{
    ChannelMessage, MessagingBot, PostWindow, Recipient, RequestView,
};
use teleport_plugin_runtime::service_error::ServiceError;

use crate::client::{DiscordApi, DiscordError, MESSAGES_PAGE, snowflake_at};
use crate::config::is_channel_id;
use crate::render;

/// Pages of 100 messages looked through for a request's message (a busy channel may hold
/// more within the window; past this the message is posted, as without a lookup, with a
/// warning). Ten pages were too few for the full chaos run: a channel taking a burst of
/// 10 000 requests holds thousands of messages in a minute's window.
const MAX_LOOKUP_PAGES: usize = 60;

/// Posts access requests to Discord channels.
#[derive(Debug)]
pub struct DiscordBot {
    api: DiscordApi,
    /// The configured recipients, whose channels the health check looks up.
    recipients: RoleToRecipients,
}

impl DiscordBot {
    /// A bot over `api` for `recipients`; nothing is called before the health check.
    pub fn new(api: DiscordApi, recipients: RoleToRecipients) -> Self {
        Self { api, recipients }
    }

    /// Checks every configured channel once: it exists and the bot may see it.
    async fn check_channels(&self) -> Result<(), ServiceError> {
        let mut seen: Vec<&str> = Vec::new();
        for (role, list) in self.recipients.iter() {
            for id in list.iter().map(|r| r.trim()) {
                if seen.contains(&id) {
                    continue;
                }
                seen.push(id);
                match self.api.channel(id).await {
                    Ok(channel) => {
                        tracing::info!(channel_id = %id, channel = channel.name.as_deref().unwrap_or(""), "the bot can see this channel");
                    }
                    Err(
                        error @ (DiscordError::NotFound { .. } | DiscordError::Forbidden { .. }),
                    ) => {
                        return Err(ServiceError::permanent(format!(
                            "Discord channel {id} (role_to_recipients for \"{role}\") cannot be used: {error}"
                        )));
                    }
                    Err(error) => return Err(error.into()),
                }
            }
        }
        Ok(())
    }
}

impl HealthCheck for DiscordBot {
    fn service_name(&self) -> &'static str {
        "Discord API"
    }

    async fn check_health(&self) -> Result<(), ServiceError> {
        let me = self.api.me().await?;
        tracing::info!(bot = %me.username, bot_id = %me.id, "connected to Discord");
        self.check_channels().await
    }
}

impl MessagingBot for DiscordBot {
    /// A channel ID is used as it is (a bot can look up neither people by e-mail nor
    /// channels by name); anything else, such as a suggested reviewer's e-mail address, is
    /// skipped.
    async fn resolve_recipient(&self, raw: &str) -> Result<Option<Recipient>, ServiceError> {
        let raw = raw.trim();
        if is_channel_id(raw) {
            Ok(Some(Recipient { id: raw.to_owned() }))
        } else {
            Err(ServiceError::permanent(
                "a Discord recipient must be a channel ID; Discord bots cannot reach people by e-mail or name",
            ))
        }
    }

    async fn send_request(
        &self,
        recipient: &Recipient,
        view: &RequestView,
    ) -> Result<ChannelMessage, ServiceError> {
        let message = self
            .api
            .create_message(&recipient.id, &render::request_message(view))
            .await?;
        Ok(ChannelMessage::new(message.channel_id, message.id))
    }

    fn finds_posted(&self) -> bool {
        true
    }

    /// Pages through the channel's messages from the window's start, oldest first, for one
    /// whose content carries the request's ID line (the recipient is the channel); stops at
    /// the first page that reaches past the window's end.
    async fn find_posted(
        &self,
        recipient: &Recipient,
        request_id: &str,
        window: &PostWindow,
    ) -> Result<Option<ChannelMessage>, ServiceError> {
        let marker = render::request_id_line(request_id);
        let mut after = snowflake_at(window.after);
        for _ in 0..MAX_LOOKUP_PAGES {
            let page = self.api.messages_after(&recipient.id, after).await?;
            let found = page.iter().find(|m| {
                m.content.contains(&marker) && m.created().is_some_and(|t| t <= window.before)
            });
            if let Some(found) = found {
                return Ok(Some(ChannelMessage::new(&found.channel_id, &found.id)));
            }
            let past_the_window = page
                .iter()
                .any(|m| m.created().is_some_and(|t| t > window.before));
            if page.len() < MESSAGES_PAGE || past_the_window {
                return Ok(None);
            }
            let newest = page.iter().filter_map(|m| m.id.parse::<u64>().ok()).max();
            match newest {
                Some(newest) if newest > after => after = newest,
                _ => return Ok(None),
            }
        }
        tracing::warn!(
            pages = MAX_LOOKUP_PAGES,
            "looked through the most messages a look-up reads without reaching the window's end; posting the message"
        );
        Ok(None)
    }

    /// Re-renders the message with the reviews as embeds. One edit shows every review, so
    /// only the latest review of the observation edits; and when the request is already
    /// resolved the resolution's edit, which follows, shows them instead.
    async fn send_review(
        &self,
        message: &ChannelMessage,
        view: &RequestView,
        review: &AccessReview,
    ) -> Result<(), ServiceError> {
        if !view.rerenders_for_review(review) {
            return Ok(());
        }
        self.update_message(message, view).await
    }

    async fn update_message(
        &self,
        message: &ChannelMessage,
        view: &RequestView,
    ) -> Result<(), ServiceError> {
        self.api
            .edit_message(
                &message.channel,
                &message.id,
                &render::request_message(view),
            )
            .await?;
        Ok(())
    }
}
