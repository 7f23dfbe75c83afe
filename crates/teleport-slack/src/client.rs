//! The Slack Web API client over slack-morphism: the calls the plugin makes, with typed
//! errors and their one mapping to the runtime's [`ServiceError`].
//!
//! Retries belong to the runtime, so this client makes exactly one HTTP request per call:
//! slack-morphism's rate controller (which would sleep and retry on 429) is never enabled,
//! and a 429 comes back as [`SlackError::RateLimited`] with Slack's `Retry-After`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use serde_json::Value;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::{
    SlackApiChatPostMessageRequest, SlackApiChatUpdateRequest, SlackApiUsersLookupByEmailRequest,
    SlackBlock, SlackClientHyperConnector,
};
use slack_morphism::{
    ClientResult, SlackApiToken, SlackApiTokenValue, SlackChannelId, SlackClient,
    SlackMessageContent, SlackTs,
};
use teleport_plugin_runtime::proxy_connector::ProxyConnector;
use teleport_plugin_runtime::service_error::ServiceError;

mod history;

pub use history::{ChannelPage, HistoryMessage, HistoryPage, REQUEST_EVENT_TYPE, REQUEST_ID_KEY};

/// Slack's Web API base URL (the Go plugin's default `apiurl`).
pub const DEFAULT_API_URL: &str = "https://slack.com/api/";

/// Per-call deadline, as in the Go plugin's HTTP client.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Used when a 429 carries no usable `Retry-After` (Slack always sends one in practice;
/// slack-morphism only parses the integer-seconds form).
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// API error codes that mean the token itself is not usable.
const AUTH_ERROR_CODES: &[&str] = &[
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
];

/// API error codes Slack documents as server-side trouble worth retrying.
const TRANSIENT_ERROR_CODES: &[&str] = &[
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// A Slack bot token. Its `Debug` never shows the value.
#[derive(Clone)]
pub struct SlackToken(String);

impl SlackToken {
    /// Wrap a token value (`xoxb-...`).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
}

impl fmt::Debug for SlackToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SlackToken(<redacted>)")
    }
}

/// Where and how to reach Slack.
#[derive(Clone, Debug)]
pub struct SlackApiConfig {
    /// The bot token.
    pub token: SlackToken,
    /// Web API base URL (`[slack] apiurl`), with or without a trailing slash.
    pub api_url: String,
    /// Deadline for each call, connection included.
    pub timeout: Duration,
}

impl SlackApiConfig {
    /// Defaults: `https://slack.com/api/`, 10 s per call.
    pub fn new(token: SlackToken) -> Self {
        Self {
            token,
            api_url: DEFAULT_API_URL.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Use another base URL (a fake, a proxy).
    pub fn with_api_url(mut self, api_url: impl Into<String>) -> Self {
        self.api_url = api_url.into();
        self
    }

    /// Use another per-call deadline.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Where a posted message lives: what the plugin stores to reply to and edit it later.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageRef {
    /// Channel ID as returned by Slack (not the name the message was posted to).
    pub channel: String,
    /// Message timestamp, Slack's message ID within the channel.
    pub ts: String,
}

/// A Slack user ID (`U...`), usable as a direct-message channel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserId(pub String);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who the token belongs to, from `auth.test`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotIdentity {
    /// Workspace name.
    pub team: String,
    /// The bot's user ID.
    pub user_id: String,
}

/// Why a Slack call failed, sorted by what the caller should do about it.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SlackError {
    /// The token is wrong, revoked or its workspace is gone: fix the config, don't retry.
    #[error(
        "Slack rejected the bot token ({code}); check the [slack] token setting and that the app is installed"
    )]
    Auth {
        /// Slack's error code, e.g. `invalid_auth`.
        code: String,
    },
    /// Slack answered 429: retry after the given delay.
    #[error("Slack rate limited the call; retry after {}s", retry_after.as_secs_f64())]
    RateLimited {
        /// From `Retry-After`, or [`DEFAULT_RETRY_AFTER`] if Slack sent none.
        retry_after: Duration,
    },
    /// 5xx, connection failure, timeout, or a Slack-side error code: worth retrying.
    #[error("transient Slack failure: {reason}")]
    Transient {
        /// What went wrong.
        reason: String,
    },
    /// Slack refused the call (e.g. `channel_not_found`): retrying won't help.
    #[error("Slack API error: {code}")]
    Api {
        /// Slack's error code.
        code: String,
    },
    /// An HTTP status Slack's API does not answer with by itself (a proxy's, or a wrong
    /// `apiurl`): classified like any other service's status.
    #[error("Slack answered HTTP status {status}")]
    Http {
        /// The status code.
        status: u16,
    },
    /// An answer that is neither success nor a Slack error (an unreadable body, as a
    /// proxy's error page would be): worth retrying.
    #[error("unexpected answer from Slack: {reason}")]
    Unexpected {
        /// What was wrong with it.
        reason: String,
    },
}

/// What the runtime does about a Slack failure: rate limits and outages are retried,
/// a refused token is retried loudly (a fixed token then delivers everything), and
/// refusals of this one call (`channel_not_found`, ...) are skipped.
impl From<SlackError> for ServiceError {
    fn from(error: SlackError) -> Self {
        let message = error.to_string();
        match error {
            SlackError::Auth { .. } => ServiceError::Unauthorized { message },
            SlackError::RateLimited { retry_after } => {
                ServiceError::answered(message, Some(retry_after))
            }
            SlackError::Transient { .. } | SlackError::Unexpected { .. } => {
                ServiceError::transient(message)
            }
            SlackError::Http { status } => match StatusCode::from_u16(status) {
                Ok(status) => ServiceError::from_status(status, &HeaderMap::new(), message),
                Err(_) => ServiceError::transient(message),
            },
            SlackError::Api { .. } => ServiceError::Permanent { message },
        }
    }
}

impl SlackError {
    /// How long Slack asked us to wait, for rate limits.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// Slack's error code for API and auth errors.
    pub fn api_code(&self) -> Option<&str> {
        match self {
            Self::Auth { code } | Self::Api { code } => Some(code),
            _ => None,
        }
    }

    fn from_api_code(code: String) -> Self {
        let code_str = code.as_str();
        if AUTH_ERROR_CODES.contains(&code_str) {
            Self::Auth { code }
        } else if code_str == "ratelimited" {
            Self::RateLimited {
                retry_after: DEFAULT_RETRY_AFTER,
            }
        } else if TRANSIENT_ERROR_CODES.contains(&code_str) {
            Self::Transient {
                reason: format!("Slack API error {code}"),
            }
        } else {
            Self::Api { code }
        }
    }
}

impl From<SlackClientError> for SlackError {
    fn from(err: SlackClientError) -> Self {
        match err {
            SlackClientError::ApiError(e) => Self::from_api_code(e.code),
            SlackClientError::RateLimitError(e) => Self::RateLimited {
                retry_after: e.retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
            },
            SlackClientError::HttpError(e) if e.status_code.is_server_error() => Self::Transient {
                reason: format!("HTTP status {}", e.status_code.as_u16()),
            },
            SlackClientError::HttpError(e) => Self::Http {
                status: e.status_code.as_u16(),
            },
            SlackClientError::ProtocolError(e) => Self::Unexpected {
                reason: format!("cannot decode the answer: {}", e.json_error),
            },
            // Connection refused/reset, TLS failures, broken bodies.
            SlackClientError::HttpProtocolError(e) => Self::Transient {
                reason: e
                    .cause
                    .map_or_else(|| "HTTP failure".to_owned(), |c| c.to_string()),
            },
            other => Self::Transient {
                reason: other.to_string(),
            },
        }
    }
}

/// The production connector: rustls over TCP, tunnelled through the environment's HTTP
/// proxy (`HTTPS_PROXY`, `NO_PROXY`) where it names one, as the Go plugin's client is.
pub type HttpsSlackConnector = HttpsConnector<ProxyConnector>;

/// A Slack Web API client over any hyper connector (HTTPS in production, plain HTTP in tests).
pub struct SlackApi<H = HttpsSlackConnector>
where
    H: Connect + Clone + Send + Sync + 'static,
{
    pub(crate) client: SlackClient<SlackClientHyperConnector<H>>,
    pub(crate) token: SlackApiToken,
    api_url: String,
    timeout: Duration,
}

impl<H> fmt::Debug for SlackApi<H>
where
    H: Connect + Clone + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackApi")
            .field("api_url", &self.api_url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SlackApi<HttpsSlackConnector> {
    /// An HTTPS client using the given rustls settings (roots, provider) from the runtime.
    ///
    /// Plain `http://` base URLs are allowed too, like the Go plugin's `apiurl`.
    pub fn with_tls_config(tls: Arc<rustls::ClientConfig>, config: SlackApiConfig) -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(ProxyConnector::from_env(https_capable(tcp_connector())));
        Self::new(connector, config)
    }
}

impl SlackApi<HttpConnector> {
    /// A plain-HTTP client, for fakes on loopback.
    pub fn plain_http(config: SlackApiConfig) -> Self {
        Self::new(tcp_connector(), config)
    }
}

/// Plain TCP for hyper, with Nagle's algorithm off: a request written in more than one
/// segment (headers, then body or a TLS record) must not wait for the server's delayed
/// ACK, which costs up to 40 ms per call on Linux.
fn tcp_connector() -> HttpConnector {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http
}

/// Lets `https://` URIs through to the TLS layer wrapped around it.
fn https_capable(mut http: HttpConnector) -> HttpConnector {
    http.enforce_http(false);
    http
}

impl<H> SlackApi<H>
where
    H: Connect + Clone + Send + Sync + 'static,
{
    /// A client over an already-built connector.
    pub fn new(connector: H, config: SlackApiConfig) -> Self {
        // slack-morphism appends "/<method>" itself.
        let api_url = config.api_url.trim_end_matches('/').to_owned();
        // No `with_rate_control`: its throttling and 429 retries would hide rate limits
        // from the runtime, which owns retries.
        let connector =
            SlackClientHyperConnector::with_connector(connector).with_slack_api_url(&api_url);
        Self {
            client: SlackClient::new(connector),
            token: SlackApiToken::new(SlackApiTokenValue(config.token.0)),
            api_url,
            timeout: config.timeout,
        }
    }

    pub(crate) async fn call<T>(
        &self,
        method: &'static str,
        request: impl Future<Output = ClientResult<T>>,
    ) -> Result<T, SlackError> {
        let result = match tokio::time::timeout(self.timeout, request).await {
            Ok(result) => result.map_err(SlackError::from),
            Err(_) => Err(SlackError::Transient {
                reason: format!("no answer within {:?}", self.timeout),
            }),
        };
        if let Err(err) = &result {
            tracing::debug!(slack_method = method, error = %err, "Slack call failed");
        }
        result
    }

    /// Check that the token works (`auth.test`); the startup health check.
    pub async fn auth_test(&self) -> Result<BotIdentity, SlackError> {
        let session = self.client.open_session(&self.token);
        let identity = self.call("auth.test", session.auth_test()).await?;
        Ok(BotIdentity {
            team: identity.team,
            user_id: identity.user_id.0,
        })
    }

    /// Find a user by email; `None` when Slack has no such user (`users_not_found`).
    pub async fn lookup_user_by_email(&self, email: &str) -> Result<Option<UserId>, SlackError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiUsersLookupByEmailRequest::new(email.to_owned().into());
        match self
            .call(
                "users.lookupByEmail",
                session.users_lookup_by_email(&request),
            )
            .await
        {
            Ok(found) => Ok(Some(UserId(found.user.id.0))),
            Err(SlackError::Api { code }) if code == "users_not_found" => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Post a root message to a channel ID, channel name or user ID (a DM).
    pub async fn post_message(
        &self,
        channel: &str,
        blocks: &[Value],
        text: &str,
    ) -> Result<MessageRef, SlackError> {
        self.post(channel, None, content(Some(blocks), text)?).await
    }

    /// Post `text` in the thread of `root`.
    pub async fn post_thread_reply(
        &self,
        root: &MessageRef,
        text: &str,
    ) -> Result<MessageRef, SlackError> {
        let thread = Some(SlackTs(root.ts.clone()));
        self.post(&root.channel, thread, content(None, text)?).await
    }

    async fn post(
        &self,
        channel: &str,
        thread_ts: Option<SlackTs>,
        content: SlackMessageContent,
    ) -> Result<MessageRef, SlackError> {
        let session = self.client.open_session(&self.token);
        let request =
            SlackApiChatPostMessageRequest::new(SlackChannelId(channel.to_owned()), content)
                .opt_thread_ts(thread_ts);
        let posted = self
            .call("chat.postMessage", session.chat_post_message(&request))
            .await?;
        Ok(MessageRef {
            channel: posted.channel.0,
            ts: posted.ts.0,
        })
    }

    /// Replace the blocks and text of a posted message.
    pub async fn update_message(
        &self,
        message: &MessageRef,
        blocks: &[Value],
        text: &str,
    ) -> Result<(), SlackError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiChatUpdateRequest::new(
            SlackChannelId(message.channel.clone()),
            content(Some(blocks), text)?,
            SlackTs(message.ts.clone()),
        );
        self.call("chat.update", session.chat_update(&request))
            .await
            .map(drop)
    }
}

/// Message content from Block Kit JSON and a fallback text (omitted when empty).
pub(crate) fn content(
    blocks: Option<&[Value]>,
    text: &str,
) -> Result<SlackMessageContent, SlackError> {
    let blocks = blocks
        .map(|blocks| {
            blocks
                .iter()
                .map(|b| serde_json::from_value::<SlackBlock>(b.clone()))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(|e| SlackError::Unexpected {
            reason: format!("a message block is not Block Kit JSON: {e}"),
        })?;
    Ok(SlackMessageContent::new()
        .opt_text((!text.is_empty()).then(|| text.to_owned()))
        .opt_blocks(blocks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_never_shows_in_debug() {
        let config = SlackApiConfig::new(SlackToken::new("xoxb-very-secret"));
        let api = SlackApi::plain_http(config.clone());
        for printed in [format!("{config:?}"), format!("{api:?}")] {
            assert!(!printed.contains("very-secret"), "{printed}");
        }
    }

    #[test]
    fn api_codes_are_sorted_by_what_to_do() {
        for code in AUTH_ERROR_CODES {
            assert!(matches!(
                SlackError::from_api_code((*code).to_owned()),
                SlackError::Auth { .. }
            ));
        }
        assert!(
            ServiceError::from(SlackError::from_api_code("internal_error".into())).is_retryable()
        );
        let not_found = SlackError::from_api_code("channel_not_found".into());
        assert!(!ServiceError::from(not_found.clone()).is_retryable());
        assert_eq!(not_found.api_code(), Some("channel_not_found"));
        assert_eq!(
            SlackError::from_api_code("ratelimited".into()).retry_after(),
            Some(DEFAULT_RETRY_AFTER)
        );
    }
}
