//! The Mattermost messaging bot: the health check (token and channels), recipient lookup,
//! posts, replies and edits.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use teleport_client::AccessReview;
use teleport_plugin_runtime::config::{RoleToRecipients, is_plain_email};
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::messaging::{
    ChannelMessage, MessagingBot, PostWindow, Recipient, RequestView,
};
use teleport_plugin_runtime::record::unix_millis;
use teleport_plugin_runtime::service_error::ServiceError;

use crate::client::{Channel, MattermostApi, MattermostError, POSTS_PAGE, Team};
use crate::config::RecipientSpec;
use crate::render;

/// Pages of 200 posts looked through for a request's post (past this it is posted, as
/// without a lookup, with a warning). The listing starts at the newest post, so a look-up
/// made long after its window (a backlog) reads past everything posted since: 25 pages were
/// too few for the full chaos run on a loaded machine.
const MAX_LOOKUP_PAGES: usize = 60;

/// Why a configured `team/channel` recipient cannot be posted to.
#[derive(Debug, thiserror::Error)]
pub enum RecipientProblem {
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
    Problem(RecipientProblem),
}

/// Posts access requests to Mattermost channels and direct messages.
#[derive(Debug)]
pub struct MattermostBot {
    api: MattermostApi,
    /// The configured recipients, whose channels the health check looks up.
    recipients: RoleToRecipients,
    /// The bot's user ID, learned by the health check (`users/me`).
    bot_id: OnceLock<String>,
    /// `team/channel` recipients already resolved to channel IDs.
    channels: Mutex<HashMap<(String, String), String>>,
}

impl MattermostBot {
    /// A bot over `api` for `recipients`; nothing is called before the health check.
    pub fn new(api: MattermostApi, recipients: RoleToRecipients) -> Self {
        Self {
            api,
            recipients,
            bot_id: OnceLock::new(),
            channels: Mutex::new(HashMap::new()),
        }
    }

    /// The bot's user ID (known once the health check passed).
    fn bot_id(&self) -> &str {
        self.bot_id.get().map_or("", String::as_str)
    }

    /// Checks every configured `team/channel` once: it exists and the bot may post there.
    async fn check_channels(&self) -> Result<(), ServiceError> {
        let mut seen = Vec::new();
        for (_, list) in self.recipients.iter() {
            for raw in list {
                if let Some(RecipientSpec::Channel { team, channel }) = RecipientSpec::parse(raw)
                    && !seen.contains(&(team.clone(), channel.clone()))
                {
                    match self.lookup_channel(&team, &channel).await? {
                        Lookup::Found(found) => {
                            tracing::info!(team = %team, channel = %channel, channel_id = %found.id, "the bot can post to this channel");
                            self.remember(&team, &channel, &found.id);
                        }
                        // The Go plugin found out per request, logged and went on with the
                        // other recipients: a channel fixed later must not need a restart.
                        Lookup::Problem(problem) => {
                            tracing::warn!(team = %team, channel = %channel, %problem, "cannot post to this configured channel; it is skipped until it can be used");
                        }
                    }
                    seen.push((team, channel));
                }
            }
        }
        if self.recipients.is_empty() {
            tracing::warn!(
                "no recipients configured: only suggested reviewers will be notified (set role_to_recipients)"
            );
        }
        Ok(())
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

    async fn lookup_team(
        &self,
        team: &str,
    ) -> Result<Result<Team, RecipientProblem>, MattermostError> {
        let mine = self.api.teams_of(self.bot_id()).await?;
        if let Some(found) = self.api.team_by_name(team).await? {
            return Ok(if mine.iter().any(|t| t.id == found.id) {
                Ok(found)
            } else {
                Err(RecipientProblem::NotTeamMember { team: team.into() })
            });
        }
        Ok(mine
            .into_iter()
            .find(|t| t.display_name.eq_ignore_ascii_case(team))
            .ok_or_else(|| RecipientProblem::NoTeam { team: team.into() }))
    }

    async fn lookup_channel(&self, team: &str, channel: &str) -> Result<Lookup, MattermostError> {
        let found_team = match self.lookup_team(team).await? {
            Ok(found) => found,
            Err(problem) => return Ok(Lookup::Problem(problem)),
        };
        if let Some(found) = self.api.channel_by_name(&found_team.id, channel).await? {
            return Ok(
                if self.api.is_channel_member(&found.id, self.bot_id()).await? {
                    Lookup::Found(found)
                } else {
                    Lookup::Problem(RecipientProblem::NotChannelMember {
                        team: team.into(),
                        channel: channel.into(),
                    })
                },
            );
        }
        let mine = self.api.channels_of(self.bot_id(), &found_team.id).await?;
        Ok(
            match mine
                .into_iter()
                .find(|c| c.display_name.eq_ignore_ascii_case(channel))
            {
                Some(found) => Lookup::Found(found),
                None => Lookup::Problem(RecipientProblem::NoChannel {
                    team: team.into(),
                    channel: channel.into(),
                }),
            },
        )
    }

    async fn direct_channel_of(&self, email: &str) -> Result<Option<String>, MattermostError> {
        let Some(user) = self.api.user_by_email(email).await? else {
            return Ok(None);
        };
        let channel = self.api.direct_channel(self.bot_id(), &user.id).await?;
        Ok(Some(channel.id))
    }
}

impl HealthCheck for MattermostBot {
    fn service_name(&self) -> &'static str {
        "Mattermost API"
    }

    async fn check_health(&self) -> Result<(), ServiceError> {
        let me = self.api.me().await?;
        tracing::info!(bot = %me.username, "connected to Mattermost");
        let _ = self.bot_id.set(me.id);
        self.check_channels().await
    }
}

impl MessagingBot for MattermostBot {
    async fn resolve_recipient(&self, raw: &str) -> Result<Option<Recipient>, ServiceError> {
        let channel = match RecipientSpec::parse(raw) {
            None => {
                return Err(ServiceError::permanent(
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
                            return Err(ServiceError::permanent(problem.to_string()));
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
    ) -> Result<ChannelMessage, ServiceError> {
        let post = self
            .api
            .create_request_post(&recipient.id, &render::request_post(view), &view.request.id)
            .await?;
        Ok(ChannelMessage::new(post.channel_id, post.id))
    }

    fn finds_posted(&self) -> bool {
        true
    }

    /// The channel's posts, newest first, back to the window's start, for a root post whose
    /// `props` name the request (the recipient is the channel: `resolve_recipient` gives
    /// channel IDs).
    async fn find_posted(
        &self,
        recipient: &Recipient,
        request_id: &str,
        window: &PostWindow,
    ) -> Result<Option<ChannelMessage>, ServiceError> {
        let (after, before) = (unix_millis(window.after), unix_millis(window.before));
        for page in 0..MAX_LOOKUP_PAGES {
            let posts = self.api.posts_page(&recipient.id, page).await?;
            let found = posts.iter().find(|post| {
                post.root_id.is_empty()
                    && (after..=before).contains(&post.create_at)
                    && post.request_id() == Some(request_id)
            });
            if let Some(post) = found {
                return Ok(Some(ChannelMessage::new(&post.channel_id, &post.id)));
            }
            let older_than_window = posts.last().is_none_or(|p| p.create_at < after);
            if posts.len() < POSTS_PAGE || older_than_window {
                return Ok(None);
            }
        }
        tracing::warn!(
            pages = MAX_LOOKUP_PAGES,
            "looked through the most posts a look-up reads without reaching the window's start; posting the message"
        );
        Ok(None)
    }

    async fn send_review(
        &self,
        message: &ChannelMessage,
        _view: &RequestView,
        review: &AccessReview,
    ) -> Result<(), ServiceError> {
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
    ) -> Result<(), ServiceError> {
        self.api
            .update_post(&message.id, &message.channel, &render::request_post(view))
            .await?;
        Ok(())
    }

    async fn notify_requester(&self, view: &RequestView) -> Result<bool, ServiceError> {
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
