//! A thin Discord REST API client: the calls the plugin makes, with typed errors.
//!
//! Each method is exactly one HTTP request; retrying is the runtime's job, so a 429 comes back
//! as [`DiscordError::RateLimited`] carrying Discord's wait, read to the millisecond from the
//! JSON `retry_after` or `X-RateLimit-Reset-After` (the whole-second `Retry-After` otherwise).

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::http;
use teleport_plugin_runtime::json_api::{ApiFailure, FailedAnswer, JsonApi};
use teleport_plugin_runtime::service_error::{self, ServiceError};

mod lookup;

pub use lookup::{FoundMessage, MESSAGES_PAGE, snowflake_at};

/// The bot's own user.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct User {
    /// User ID.
    pub id: String,
    /// User name.
    #[serde(default)]
    pub username: String,
}

/// A channel.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Channel {
    /// Channel ID.
    pub id: String,
    /// Its name (absent for direct messages).
    #[serde(default)]
    pub name: Option<String>,
}

/// A posted or edited message.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Message {
    /// Message ID.
    pub id: String,
    /// The channel it is in.
    pub channel_id: String,
}

/// The author line of an embed.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct EmbedAuthor {
    /// Who.
    pub name: String,
}

/// One embed, in Discord's fields (the Go plugin's shape: one per review).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Embed {
    /// Title.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Description (Markdown).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Side colour, `0xRRGGBB`; `0` for none.
    #[serde(skip_serializing_if = "is_zero")]
    pub color: u32,
    /// The author line.
    pub author: EmbedAuthor,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A message body: text and embeds. Edits send both, so an edit leaves nothing stale.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct MessageBody {
    /// The text.
    pub content: String,
    /// The embeds (an empty list clears them on an edit).
    pub embeds: Vec<Embed>,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    /// 401: the token is wrong or revoked.
    #[error("Discord rejected the bot token ({message}); check [discord] token")]
    Unauthorized {
        /// Discord's message.
        message: String,
    },
    /// 403: the bot may not see or post in this channel (`Missing Access`, `Missing
    /// Permissions`).
    #[error(
        "Discord refused the bot ({message}, code {code}); invite the bot to the channel's server and give it View Channel and Send Messages there"
    )]
    Forbidden {
        /// Discord's message.
        message: String,
        /// Discord's JSON error code.
        code: u64,
    },
    /// 404: unknown channel or message.
    #[error("not found: {message} (code {code})")]
    NotFound {
        /// Discord's message.
        message: String,
        /// Discord's JSON error code (10003 channel, 10008 message).
        code: u64,
    },
    /// 429.
    #[error("rate limited by Discord{}", if *.global { " (global limit)" } else { "" })]
    RateLimited {
        /// How long Discord asked to wait.
        retry_after: Option<Duration>,
        /// Whether the limit is the bot's global one rather than one route's.
        global: bool,
    },
    /// Any other failure, as the runtime classifies it (5xx and 408 transient, other 4xx
    /// permanent, no answer by its cause).
    #[error("{}", .0.message())]
    Other(ServiceError),
}

/// What the runtime does about a Discord failure: a rejected token and rate limits are
/// retried; a channel the bot cannot use (403, 404) is not (the recipient is skipped and
/// recorded); the rest as the runtime sorts it.
impl From<DiscordError> for ServiceError {
    fn from(error: DiscordError) -> Self {
        let message = error.to_string();
        match error {
            DiscordError::Unauthorized { .. } => ServiceError::Unauthorized { message },
            DiscordError::RateLimited { retry_after, .. } => ServiceError::Transient {
                message,
                retry_after,
                answered: true,
            },
            DiscordError::Forbidden { .. } | DiscordError::NotFound { .. } => {
                ServiceError::Permanent { message }
            }
            DiscordError::Other(error) => error,
        }
    }
}

impl From<ApiFailure> for DiscordError {
    fn from(failure: ApiFailure) -> Self {
        match failure {
            ApiFailure::Answer(answer) => error_of(&answer),
            no_answer => Self::Other(no_answer.classified("Discord")),
        }
    }
}

/// The client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DiscordApi {
    api: JsonApi,
}

impl DiscordApi {
    /// A client for the API at `base` (e.g. `https://discord.com/api/v10/`).
    pub fn new(http: reqwest::Client, base: &str, token: Secret) -> Result<Self, DiscordError> {
        let base = http::api_base(base, "bad API URL")
            .map_err(|text| DiscordError::Other(ServiceError::permanent(text)))?;
        Ok(Self {
            api: JsonApi::new(http, base, "Bot", token),
        })
    }

    #[cfg(test)]
    fn url(&self, segments: &[&str]) -> reqwest::Url {
        self.api.url(segments)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&MessageBody>,
    ) -> Result<T, DiscordError> {
        self.call_with_query(method, segments, &[], body).await
    }

    /// [`call`](Self::call) with a query string.
    async fn call_with_query<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&MessageBody>,
    ) -> Result<T, DiscordError> {
        Ok(self
            .api
            .call_with_query(method, segments, query, body)
            .await?)
    }

    /// `GET users/@me`: the bot itself (the token check).
    pub async fn me(&self) -> Result<User, DiscordError> {
        self.call(Method::GET, &["users", "@me"], None).await
    }

    /// `GET channels/{id}`: the channel, if the bot may see it.
    pub async fn channel(&self, channel_id: &str) -> Result<Channel, DiscordError> {
        self.call(Method::GET, &["channels", channel_id], None)
            .await
    }

    /// `POST channels/{id}/messages`: a new message.
    pub async fn create_message(
        &self,
        channel_id: &str,
        body: &MessageBody,
    ) -> Result<Message, DiscordError> {
        self.call(
            Method::POST,
            &["channels", channel_id, "messages"],
            Some(body),
        )
        .await
    }

    /// `PATCH channels/{id}/messages/{id}`: replaces a message's text and embeds.
    pub async fn edit_message(
        &self,
        channel_id: &str,
        message_id: &str,
        body: &MessageBody,
    ) -> Result<Message, DiscordError> {
        self.call(
            Method::PATCH,
            &["channels", channel_id, "messages", message_id],
            Some(body),
        )
        .await
    }
}

/// Discord's own codes: its `{message, code}` body, and for a 429 its wait and whether the
/// limit is global; every other status as the runtime classifies it.
fn error_of(answer: &FailedAnswer) -> DiscordError {
    let (status, headers, body) = (answer.status, &answer.headers, &answer.body);
    let message = answer.message();
    let code = body.get("code").and_then(Value::as_u64).unwrap_or(0);
    match status {
        StatusCode::UNAUTHORIZED => DiscordError::Unauthorized { message },
        StatusCode::FORBIDDEN => DiscordError::Forbidden { message, code },
        StatusCode::NOT_FOUND => DiscordError::NotFound { message, code },
        StatusCode::TOO_MANY_REQUESTS => DiscordError::RateLimited {
            retry_after: retry_after(headers, body),
            global: body.get("global").and_then(Value::as_bool).unwrap_or(false)
                || header(headers, "x-ratelimit-global").is_some_and(|v| v == "true"),
        },
        s if s.is_server_error() => DiscordError::Other(
            answer.classify(format!("Discord server error {}: {message}", s.as_u16())),
        ),
        s => DiscordError::Other(answer.classify(format!(
            "Discord refused the call with {}: {message} (code {code})",
            s.as_u16()
        ))),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

/// Discord's wait, most precise first: the JSON `retry_after` (seconds, fractional), then
/// `X-RateLimit-Reset-After` (the same, as a header), then the whole-second `Retry-After`.
pub fn retry_after(headers: &HeaderMap, body: &Value) -> Option<Duration> {
    let seconds =
        |s: f64| (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s.min(3600.0)));
    body.get("retry_after")
        .and_then(Value::as_f64)
        .and_then(seconds)
        .or_else(|| {
            header(headers, "x-ratelimit-reset-after")
                .and_then(|v| v.parse::<f64>().ok())
                .and_then(seconds)
        })
        .or_else(|| service_error::retry_after(headers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};
    use serde_json::json;

    #[test]
    fn the_most_precise_wait_wins() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, &Value::Null), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(
            retry_after(&headers, &Value::Null),
            Some(Duration::from_secs(2))
        );
        headers.insert("x-ratelimit-reset-after", HeaderValue::from_static("1.250"));
        assert_eq!(
            retry_after(&headers, &Value::Null),
            Some(Duration::from_millis(1250))
        );
        let body = json!({ "message": "You are being rate limited.", "retry_after": 0.5, "global": false });
        assert_eq!(
            retry_after(&headers, &body),
            Some(Duration::from_millis(500))
        );
        // A nonsensical value falls through to the next source.
        let body = json!({ "retry_after": -1.0 });
        assert_eq!(
            retry_after(&headers, &body),
            Some(Duration::from_millis(1250))
        );
    }

    #[test]
    fn classification() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-global", HeaderValue::from_static("true"));
        let limited = error_of(&FailedAnswer {
            status: StatusCode::TOO_MANY_REQUESTS,
            headers,
            body: json!({ "retry_after": 3.0 }),
        });
        assert!(matches!(
            limited,
            DiscordError::RateLimited { global: true, .. }
        ));
        assert_eq!(
            ServiceError::from(limited).retry_after(),
            Some(Duration::from_secs(3))
        );
        let kind = |status: u16, body: Value| {
            ServiceError::from(error_of(&FailedAnswer {
                status: StatusCode::from_u16(status).unwrap(),
                headers: HeaderMap::new(),
                body,
            }))
        };
        assert!(matches!(
            kind(401, json!({ "message": "401: Unauthorized", "code": 0 })),
            ServiceError::Unauthorized { .. }
        ));
        let forbidden = kind(403, json!({ "message": "Missing Access", "code": 50001 }));
        assert!(matches!(forbidden, ServiceError::Permanent { .. }));
        assert!(
            forbidden.message().contains("Missing Access"),
            "{forbidden}"
        );
        assert!(matches!(
            kind(404, json!({ "message": "Unknown Channel", "code": 10003 })),
            ServiceError::Permanent { .. }
        ));
        assert!(matches!(
            kind(502, Value::Null),
            ServiceError::Transient { .. }
        ));
        // The runtime's rule: a request timeout passes, unlike other 4xx.
        assert!(matches!(
            kind(408, Value::Null),
            ServiceError::Transient { .. }
        ));
        assert!(matches!(
            kind(
                400,
                json!({ "message": "Invalid Form Body", "code": 50035 })
            ),
            ServiceError::Permanent { .. }
        ));
    }

    #[test]
    fn urls_keep_the_configured_base() {
        let url = |api: &DiscordApi, segments: &[&str]| api.url(segments);
        let http = teleport_plugin_runtime::http::http_client(&Default::default()).unwrap();
        for base in ["https://discord.com/api/v10/", "https://discord.com/api/"] {
            let api = DiscordApi::new(http.clone(), base, Secret::new("t")).unwrap();
            assert_eq!(
                url(&api, &["channels", "42", "messages"]).as_str(),
                format!("{base}channels/42/messages")
            );
        }
        let api = DiscordApi::new(http, "https://discord.com/api/v10/", Secret::new("t")).unwrap();
        assert_eq!(
            url(&api, &["users", "@me"]).as_str(),
            "https://discord.com/api/v10/users/@me"
        );
    }
}
