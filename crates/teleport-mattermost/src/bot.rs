//! The Mattermost messaging bot: start-up checks, recipient lookup, posts, replies and edits.

use std::collections::HashMap;
use std::sync::Mutex;

use teleport_client::{AccessReview, PluginDataMap};
use teleport_plugin_runtime::config::{RoleToRecipients, is_plain_email};
use teleport_plugin_runtime::messaging::{MessagingBot, Recipient, RequestView, SendError};
use teleport_plugin_runtime::state::{ChannelMessage, MessageCodec};

use crate::config::RecipientSpec;
use crate::mattermost_api::{ApiError, Channel, MattermostApi, Team};
use crate::render;

/// Why the plugin cannot start with this Mattermost configuration.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// `users/me` failed: bad token, wrong URL, server down.
    #[error("Mattermost API check failed: {0}")]
    Api(#[from] ApiError),
    /// No team with this URL name, nor one of the bot's teams with this display name.
    #[error(
        "Mattermost team \"{team}\" not found: no team has this name, and none of the bot's teams has this display name"
    )]
    NoTeam {
        /// The team as configured.
        team: String,
    },
    /// The team exists but the bot is not in it.
    #[error("the bot is not a member of Mattermost team \"{team}\"; add it to the team")]
    NotTeamMember {
        /// The team as configured.
        team: String,
    },
    /// The team has no channel with this name or display name that the bot can see.
    #[error(
        "Mattermost channel \"{channel}\" not found in team \"{team}\" (by name, or by display name among the bot's channels)"
    )]
    NoChannel {
        /// The team as configured.
        team: String,
        /// The channel as configured.
        channel: String,
    },
    /// The channel exists but the bot is not in it.
    #[error(
        "the bot is not a member of Mattermost channel \"{channel}\" in team \"{team}\"; add it to the channel"
    )]
    NotChannelMember {
        /// The team as configured.
        team: String,
        /// The channel as configured.
        channel: String,
    },
}

/// Where a `team/channel` recipient led.
enum Lookup {
    Found(Channel),
    Problem(StartupError),
}

/// Posts access requests to Mattermost channels and direct messages.
#[derive(Debug)]
pub struct MattermostBot {
    api: MattermostApi,
    bot_id: String,
    /// `team/channel` recipients already resolved to channel IDs.
    channels: Mutex<HashMap<(String, String), String>>,
}

impl MattermostBot {
    /// Checks the token and that the bot is in every configured team and channel.
    pub async fn connect(
        api: MattermostApi,
        recipients: &RoleToRecipients,
    ) -> Result<Self, StartupError> {
        let me = api.me().await?;
        tracing::info!(bot = %me.username, "connected to Mattermost");
        let bot = Self {
            api,
            bot_id: me.id,
            channels: Mutex::new(HashMap::new()),
        };
        let mut seen = Vec::new();
        for (_, list) in recipients.iter() {
            for raw in list {
                if let Some(RecipientSpec::Channel { team, channel }) = RecipientSpec::parse(raw)
                    && !seen.contains(&(team.clone(), channel.clone()))
                {
                    match bot.lookup_channel(&team, &channel).await? {
                        Lookup::Found(found) => {
                            tracing::info!(team = %team, channel = %channel, channel_id = %found.id, "the bot can post to this channel");
                            bot.remember(&team, &channel, &found.id);
                        }
                        Lookup::Problem(problem) => return Err(problem),
                    }
                    seen.push((team, channel));
                }
            }
        }
        if recipients.is_empty() {
            tracing::warn!(
                "no recipients configured: only suggested reviewers will be notified (set role_to_recipients)"
            );
        }
        Ok(bot)
    }

    fn remember(&self, team: &str, channel: &str, id: &str) {
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((team.to_owned(), channel.to_owned()), id.to_owned());
    }

    fn remembered(&self, team: &str, channel: &str) -> Option<String> {
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(team.to_owned(), channel.to_owned()))
            .cloned()
    }

    async fn lookup_team(&self, team: &str) -> Result<Result<Team, StartupError>, ApiError> {
        let mine = self.api.teams_of(&self.bot_id).await?;
        if let Some(found) = self.api.team_by_name(team).await? {
            return Ok(if mine.iter().any(|t| t.id == found.id) {
                Ok(found)
            } else {
                Err(StartupError::NotTeamMember { team: team.into() })
            });
        }
        Ok(mine
            .into_iter()
            .find(|t| t.display_name.eq_ignore_ascii_case(team))
            .ok_or_else(|| StartupError::NoTeam { team: team.into() }))
    }

    async fn lookup_channel(&self, team: &str, channel: &str) -> Result<Lookup, ApiError> {
        let found_team = match self.lookup_team(team).await? {
            Ok(found) => found,
            Err(problem) => return Ok(Lookup::Problem(problem)),
        };
        if let Some(found) = self.api.channel_by_name(&found_team.id, channel).await? {
            return Ok(
                if self.api.is_channel_member(&found.id, &self.bot_id).await? {
                    Lookup::Found(found)
                } else {
                    Lookup::Problem(StartupError::NotChannelMember {
                        team: team.into(),
                        channel: channel.into(),
                    })
                },
            );
        }
        let mine = self.api.channels_of(&self.bot_id, &found_team.id).await?;
        Ok(
            match mine
                .into_iter()
                .find(|c| c.display_name.eq_ignore_ascii_case(channel))
            {
                Some(found) => Lookup::Found(found),
                None => Lookup::Problem(StartupError::NoChannel {
                    team: team.into(),
                    channel: channel.into(),
                }),
            },
        )
    }

    async fn direct_channel_of(&self, email: &str) -> Result<Option<String>, ApiError> {
        let Some(user) = self.api.user_by_email(email).await? else {
            return Ok(None);
        };
        let channel = self.api.direct_channel(&self.bot_id, &user.id).await?;
        Ok(Some(channel.id))
    }
}

impl MessageCodec for MattermostBot {
    type Message = ChannelMessage;
    const MESSAGES_KEY: &'static str = ChannelMessage::MESSAGES_KEY;

    fn encode(message: &ChannelMessage) -> String {
        message.encode()
    }

    /// A reference with an empty channel or post ID could never be edited or
    /// replied to, so it is dropped.
    fn decode(text: &str) -> Option<ChannelMessage> {
        ChannelMessage::decode(text).filter(|m| !m.channel.is_empty() && !m.id.is_empty())
    }

    /// The Go plugin's single post: `channel_id` + `postID`.
    fn decode_legacy(data: &PluginDataMap) -> Option<ChannelMessage> {
        ChannelMessage::decode_legacy(data, "postID")
    }
}

impl MessagingBot for MattermostBot {
    async fn resolve_recipient(&self, raw: &str) -> Result<Option<Recipient>, SendError> {
        let channel = match RecipientSpec::parse(raw) {
            None => {
                return Err(SendError::permanent(
                    "a recipient must be a user's e-mail address or \"team/channel\"",
                ));
            }
            Some(RecipientSpec::Email(email)) => self.direct_channel_of(&email).await?,
            Some(RecipientSpec::Channel { team, channel }) => {
                match self.remembered(&team, &channel) {
                    Some(id) => Some(id),
                    None => match self.lookup_channel(&team, &channel).await? {
                        Lookup::Found(found) => {
                            self.remember(&team, &channel, &found.id);
                            Some(found.id)
                        }
                        Lookup::Problem(problem) => {
                            return Err(SendError::permanent(problem.to_string()));
                        }
                    },
                }
            }
        };
        Ok(channel.map(|id| Recipient { id }))
    }

    async fn send_request(
        &self,
        recipient: &Recipient,
        view: &RequestView,
    ) -> Result<ChannelMessage, SendError> {
        let post = self
            .api
            .create_post(&recipient.id, None, &render::request_post(view))
            .await?;
        Ok(ChannelMessage {
            channel: post.channel_id,
            id: post.id,
        })
    }

    async fn send_review(
        &self,
        message: &ChannelMessage,
        _view: &RequestView,
        review: &AccessReview,
    ) -> Result<(), SendError> {
        self.api
            .create_post(
                &message.channel,
                Some(&message.id),
                &render::review_comment(review),
            )
            .await?;
        Ok(())
    }

    async fn update_message(
        &self,
        message: &ChannelMessage,
        view: &RequestView,
    ) -> Result<(), SendError> {
        self.api
            .update_post(&message.id, &message.channel, &render::request_post(view))
            .await?;
        Ok(())
    }

    async fn notify_requester(&self, view: &RequestView) -> Result<bool, SendError> {
        let user = &view.request.user;
        if !is_plain_email(user) {
            return Ok(false);
        }
        let Some(channel) = self.direct_channel_of(user).await? else {
            return Ok(false);
        };
        self.api
            .create_post(&channel, None, &render::requester_notice(view))
            .await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
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
