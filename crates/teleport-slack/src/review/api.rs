//! The Slack calls the review buttons add: `apps.connections.open` with the app-level token
//! (Socket Mode's WebSocket URL), `users.info` (a clicker's e-mail) and `chat.postEphemeral`
//! (telling the clicker the outcome).

use hyper_util::client::legacy::connect::Connect;
use slack_morphism::prelude::{
    SlackApiAppsConnectionOpenRequest, SlackApiChatPostEphemeralRequest, SlackApiUsersInfoRequest,
};
use slack_morphism::{SlackApiToken, SlackApiTokenValue, SlackChannelId, SlackUserId};

use crate::client::{SlackApi, SlackError, content};

/// The app-level token (`xapp-...`). Its `Debug` never shows the value.
#[derive(Clone)]
pub struct AppToken(SlackApiToken);

impl AppToken {
    /// Wrap a token value.
    pub fn new(value: &str) -> Self {
        Self(SlackApiToken::new(SlackApiTokenValue(value.to_owned())))
    }
}

impl std::fmt::Debug for AppToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppToken(<redacted>)")
    }
}

impl<H> SlackApi<H>
where
    H: Connect + Clone + Send + Sync + 'static,
{
    /// A fresh Socket Mode WebSocket URL (single use, it carries a ticket: never logged).
    pub async fn open_socket_url(&self, app_token: &AppToken) -> Result<String, SlackError> {
        let session = self.client.open_session(&app_token.0);
        let opened = self
            .call(
                "apps.connections.open",
                session.apps_connections_open(&SlackApiAppsConnectionOpenRequest::new()),
            )
            .await?;
        Ok(opened.url.0.to_string())
    }

    /// The e-mail address in a Slack user's profile (`users:read.email`), if any.
    pub async fn user_email(&self, user_id: &str) -> Result<Option<String>, SlackError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiUsersInfoRequest::new(SlackUserId(user_id.to_owned()));
        let info = self
            .call("users.info", session.users_info(&request))
            .await?;
        Ok(info
            .user
            .profile
            .and_then(|p| p.email)
            .map(|e| e.to_string()))
    }

    /// A message in `channel` that only `user` sees.
    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        text: &str,
    ) -> Result<(), SlackError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiChatPostEphemeralRequest::new(
            SlackChannelId(channel.to_owned()),
            SlackUserId(user.to_owned()),
            content(None, text)?,
        );
        self.call("chat.postEphemeral", session.chat_post_ephemeral(&request))
            .await
            .map(drop)
    }
}
