//! The Teams messaging bot: the start-up check (the app in the organisation's catalog, and
//! with `preload` every configured recipient), recipients resolved and cached as Go's
//! plugin does (a person: user → the app installed for them → their chat with the bot; a
//! channel: the app's installation in its team), cards posted, and cards replaced to show
//! reviews and the outcome. With `[msapi] lookup_posted`, a card posted but never recorded
//! is found through Graph ([`lookup`](crate::lookup)) instead of being posted again.

use std::collections::HashMap;

use teleport_client::AccessReview;
use teleport_plugin_runtime::config::RoleToRecipients;
use teleport_plugin_runtime::format::rfc822;
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::messaging::{MessagingBot, PostWindow, Recipient, RequestView};
use teleport_plugin_runtime::service_error::ServiceError;
use time::OffsetDateTime;
use tokio::sync::{Mutex, OnceCell};

use crate::client::graph::TeamsApp;
use crate::client::messages::MessagesOf;
use crate::client::{MsApi, MsApiError};
use crate::lookup;
use crate::recipient::{RecipientKind, kind_of};
use crate::record::TeamsMessage;
use crate::render;

/// A recipient resolved to where the bot posts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The user ID, or `tenant/group/channel` for a channel (Go's recipient ID).
    pub id: String,
    /// The app's installation (the bot posts as `29:<installation>`, as Go's does).
    pub installation: String,
    /// The conversation the cards go to.
    pub conversation: String,
    /// Whether it is a channel.
    pub channel: bool,
    /// The channel's team (group) ID; `None` for a person's chat.
    pub team: Option<String>,
    /// The chat's or channel's link.
    pub web_url: String,
}

/// Posts access requests to Teams chats and channels.
#[derive(Debug)]
pub struct TeamsBot {
    api: MsApi,
    teams_app_id: String,
    app: OnceCell<TeamsApp>,
    /// Recipient as configured → where to post; kept for the process's life, as in Go.
    cache: Mutex<HashMap<String, Resolved>>,
    /// With `preload`, the configured recipients resolved by the start-up check.
    preload: Option<RoleToRecipients>,
    /// `[msapi] lookup_posted`: look a card up through Graph before posting it again.
    lookup_posted: bool,
}

/// The stored form of a recipient: the recipients list is comma-joined in plugin data, so a
/// comma in a channel link is percent-encoded (which leaves the link's meaning unchanged).
pub fn recipient_key(raw: &str) -> String {
    raw.trim().replace(',', "%2C")
}

/// The recipient as configured, from its stored form ([`recipient_key`]).
fn configured(recipient: &Recipient) -> String {
    recipient.id.replace("%2C", ",")
}

impl TeamsBot {
    /// A bot over `api` for the Teams app `teams_app_id`; `preload` lists the recipients to
    /// resolve at start-up. Nothing is called before the health check.
    pub fn new(api: MsApi, teams_app_id: String, preload: Option<RoleToRecipients>) -> Self {
        Self {
            api,
            teams_app_id,
            app: OnceCell::new(),
            cache: Mutex::new(HashMap::new()),
            preload,
            lookup_posted: false,
        }
    }

    /// The bot, looking a card posted but never recorded up through Graph when `on`
    /// (`[msapi] lookup_posted`; the app then needs `Chat.Read.All` and, for channels,
    /// `ChannelMessage.Read.All`).
    pub fn looking_up_posted(mut self, on: bool) -> Self {
        self.lookup_posted = on;
        self
    }

    /// The API client.
    pub fn api(&self) -> &MsApi {
        &self.api
    }

    /// The app in the organisation's catalog, looked up once.
    pub async fn teams_app(&self) -> Result<&TeamsApp, ServiceError> {
        self.app
            .get_or_try_init(|| async {
                match self.api.teams_app(&self.teams_app_id).await {
                    Ok(app) => Ok(app),
                    Err(error) if error.is_not_found() => Err(ServiceError::permanent(format!(
                        "{error}: upload app.zip (from `teleport-msteams configure`) to Teams and check [msapi] teams_app_id"
                    ))),
                    Err(error) => Err(error.into()),
                }
            })
            .await
    }

    /// Where to post for `raw`, from the cache or looked up (installing the app for a
    /// person who does not have it); `Ok(None)` when no such person exists.
    pub async fn resolve(&self, raw: &str) -> Result<Option<Resolved>, ServiceError> {
        let key = recipient_key(raw);
        if let Some(found) = self.cache.lock().await.get(&key) {
            return Ok(Some(found.clone()));
        }
        let resolved = match self.look_up(&key.replace("%2C", ",")).await? {
            Some(resolved) => resolved,
            None => return Ok(None),
        };
        tracing::debug!(recipient = %key, conversation = %resolved.conversation, "recipient resolved");
        self.cache.lock().await.insert(key, resolved.clone());
        Ok(Some(resolved))
    }

    async fn look_up(&self, raw: &str) -> Result<Option<Resolved>, ServiceError> {
        let app = self.teams_app().await?;
        let user_id = match kind_of(raw) {
            RecipientKind::Channel(channel) => {
                let installed = self
                    .api
                    .app_for_team(app, &channel.group_id)
                    .await
                    .map_err(|error| {
                        if error.is_not_found() {
                            ServiceError::permanent(format!(
                                "{error}: add the app to the team of channel {}",
                                channel.name
                            ))
                        } else {
                            error.into()
                        }
                    })?;
                return Ok(Some(Resolved {
                    id: format!(
                        "{}/{}/{}",
                        channel.tenant_id, channel.group_id, channel.name
                    ),
                    installation: installed.id,
                    conversation: channel.conversation,
                    channel: true,
                    team: Some(channel.group_id),
                    web_url: raw.to_owned(),
                }));
            }
            RecipientKind::Email(email) => match self.api.user_by_email(&email).await {
                Ok(user) => user.id,
                Err(error) if error.is_not_found() => return Ok(None),
                Err(error) => return Err(error.into()),
            },
            RecipientKind::UserId(id) => match self.api.user_by_id(&id).await {
                Ok(user) => user.id,
                Err(error) if error.is_not_found() || error.status() == Some(400) => {
                    return Ok(None);
                }
                Err(error) => return Err(error.into()),
            },
        };
        let mut just_installed = false;
        let installed = match self.api.app_for_user(app, &user_id).await {
            Ok(installed) => installed,
            Err(error) if error.is_not_found() => {
                tracing::info!(user_id = %user_id, "installing the Teams app for this user");
                self.api.install_for_user(app, &user_id).await?;
                just_installed = true;
                self.api
                    .app_for_user(app, &user_id)
                    .await
                    .map_err(|e| settling(e, &user_id))?
            }
            Err(error) => return Err(error.into()),
        };
        let chat = self
            .api
            .chat_for_installation(&user_id, &installed.id)
            .await
            .map_err(|e| {
                if just_installed {
                    settling(e, &user_id)
                } else {
                    e.into()
                }
            })?;
        Ok(Some(Resolved {
            id: user_id,
            installation: installed.id,
            conversation: chat.id,
            channel: false,
            team: None,
            web_url: chat.web_url,
        }))
    }

    /// Where a stored message's recipient is, resolved again (Go stores the recipient as
    /// configured and resolves it for each update).
    async fn target(&self, recipient: &str) -> Result<Resolved, ServiceError> {
        self.resolve(recipient).await?.ok_or_else(|| {
            ServiceError::permanent(format!("the Teams recipient {recipient} no longer exists"))
        })
    }

    async fn replace_card(
        &self,
        message: &TeamsMessage,
        view: &RequestView,
    ) -> Result<(), ServiceError> {
        let target = self.target(&message.recipient).await?;
        self.api
            .update_card(
                &target.conversation,
                &message.id,
                &target.installation,
                &render::request_card(view),
            )
            .await?;
        Ok(())
    }

    async fn preload(&self, recipients: &RoleToRecipients) -> Result<(), ServiceError> {
        let mut seen: Vec<&str> = Vec::new();
        for (role, list) in recipients.iter() {
            for raw in list.iter().map(|r| r.trim()) {
                if seen.contains(&raw) {
                    continue;
                }
                seen.push(raw);
                match self.resolve(raw).await? {
                    Some(found) => {
                        tracing::info!(recipient = %raw, conversation = %found.conversation, channel = found.channel, "recipient and chat found")
                    }
                    None => {
                        return Err(ServiceError::permanent(format!(
                            "Teams recipient {raw} (role_to_recipients for \"{role}\") not found"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

/// A lookup right after installing the app: Graph lists a new installation (and creates its
/// chat) a moment later, so "not found" then means "not yet" and is retried.
fn settling(error: MsApiError, user_id: &str) -> ServiceError {
    if error.is_not_found() {
        ServiceError::transient(format!(
            "the Teams app was installed for user {user_id} but Graph does not show it yet ({error})"
        ))
    } else {
        error.into()
    }
}

impl HealthCheck for TeamsBot {
    fn service_name(&self) -> &'static str {
        "Microsoft Teams"
    }

    async fn check_health(&self) -> Result<(), ServiceError> {
        let app = self.teams_app().await?;
        tracing::info!(name = %app.display_name, id = %app.id, "MS Teams app found in org app store");
        if let Some(recipients) = &self.preload {
            tracing::info!("preloading recipient data");
            self.preload(recipients).await?;
            tracing::info!("recipient data preloaded and cached");
        }
        Ok(())
    }
}

impl MessagingBot for TeamsBot {
    /// A person (e-mail or user ID) or a channel link; a person unknown to the tenant is
    /// skipped.
    async fn resolve_recipient(&self, raw: &str) -> Result<Option<Recipient>, ServiceError> {
        Ok(self.resolve(raw).await?.map(|_| Recipient {
            id: recipient_key(raw),
        }))
    }

    async fn send_request(
        &self,
        recipient: &Recipient,
        view: &RequestView,
    ) -> Result<TeamsMessage, ServiceError> {
        let raw = configured(recipient);
        let target = self.target(&raw).await?;
        let id = self
            .api
            .post_card(
                &target.conversation,
                &target.installation,
                &render::request_card(view),
            )
            .await?;
        Ok(TeamsMessage {
            id,
            timestamp: rfc822(OffsetDateTime::now_utc()),
            recipient: raw,
        })
    }

    fn finds_posted(&self) -> bool {
        self.lookup_posted
    }

    /// The recipient's chat or channel, newest first through Graph, for the request's card
    /// posted within `window`; recorded as [`send_request`](Self::send_request) records a
    /// post, so it is updated the same way afterwards.
    async fn find_posted(
        &self,
        recipient: &Recipient,
        request_id: &str,
        window: &PostWindow,
    ) -> Result<Option<TeamsMessage>, ServiceError> {
        let raw = configured(recipient);
        let target = self.target(&raw).await?;
        let of = match &target.team {
            Some(team) => MessagesOf::Channel {
                team,
                channel: &target.conversation,
            },
            None => MessagesOf::Chat(&target.conversation),
        };
        let found = lookup::find_card(&self.api, of, request_id, window).await?;
        Ok(found.map(|card| TeamsMessage {
            id: card.id,
            timestamp: rfc822(card.created),
            recipient: raw,
        }))
    }

    /// Replaces the card to show the reviews, still pending, as Go's plugin does. One card
    /// shows every review, so only the latest review of the observation replaces it; a
    /// resolved request's card is replaced by the resolution instead.
    async fn send_review(
        &self,
        message: &TeamsMessage,
        view: &RequestView,
        review: &AccessReview,
    ) -> Result<(), ServiceError> {
        if !view.rerenders_for_review(review) {
            return Ok(());
        }
        self.replace_card(message, view).await
    }

    async fn update_message(
        &self,
        message: &TeamsMessage,
        view: &RequestView,
    ) -> Result<(), ServiceError> {
        self.replace_card(message, view).await
    }
}
