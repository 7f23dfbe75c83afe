//! A thin Mattermost REST API v4 client: the calls the plugin makes, with typed errors.
//!
//! Each method is exactly one HTTP request; retrying is the runtime's job, so a 429 comes back
//! as [`MattermostError::RateLimited`] carrying the server's `Retry-After` (or `X-Ratelimit-Reset`).

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::http::{self, BodyError, MAX_RESPONSE_BODY, read_body};
use teleport_plugin_runtime::service_error::{self, ServiceError};

/// A Mattermost user.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct User {
    /// User ID.
    pub id: String,
    /// Login name.
    #[serde(default)]
    pub username: String,
}

/// A team.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Team {
    /// Team ID.
    pub id: String,
    /// URL name.
    #[serde(default)]
    pub name: String,
    /// Name shown to people.
    #[serde(default)]
    pub display_name: String,
}

/// A channel.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Channel {
    /// Channel ID.
    pub id: String,
    /// URL name.
    #[serde(default)]
    pub name: String,
    /// Name shown to people.
    #[serde(default)]
    pub display_name: String,
}

/// A created or updated post.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Post {
    /// Post ID.
    pub id: String,
    /// The channel it is in.
    pub channel_id: String,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum MattermostError {
    /// 401: the token is wrong, expired or revoked.
    #[error("Mattermost rejected the bot token ({message}); check [mattermost] token")]
    Unauthorized {
        /// Mattermost's message.
        message: String,
    },
    /// 404.
    #[error("not found: {message}")]
    NotFound {
        /// Mattermost's message.
        message: String,
    },
    /// 429.
    #[error("rate limited by Mattermost")]
    RateLimited {
        /// How long the server asked to wait.
        retry_after: Option<Duration>,
    },
    /// 5xx.
    #[error("Mattermost server error {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Mattermost's message.
        message: String,
    },
    /// Another 4xx (403 permissions, 400 bad request, ...).
    #[error("Mattermost refused the call with {status}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Mattermost's message.
        message: String,
    },
    /// The server could not be reached or did not answer in time.
    #[error("cannot reach Mattermost: {0}")]
    Network(String),
    /// The answer was not what the API documents.
    #[error("unexpected answer from Mattermost: {0}")]
    Decode(String),
}

/// What the runtime does about a Mattermost failure: a rejected token, rate limits, server
/// errors and network trouble are retried (fixing the token and restarting must not have
/// lost the messages meanwhile); 404, 403 (Mattermost's "you may not post here") and other
/// refusals of this one call are not.
impl From<MattermostError> for ServiceError {
    fn from(error: MattermostError) -> Self {
        let message = error.to_string();
        match error {
            MattermostError::Unauthorized { .. } => ServiceError::Unauthorized { message },
            MattermostError::RateLimited { retry_after } => ServiceError::Transient {
                message,
                retry_after,
            },
            MattermostError::Server { .. } | MattermostError::Network(_) => {
                ServiceError::transient(message)
            }
            MattermostError::NotFound { .. }
            | MattermostError::Refused { .. }
            | MattermostError::Decode(_) => ServiceError::Permanent { message },
        }
    }
}

/// The client. Cheap to clone.
#[derive(Clone)]
pub struct MattermostApi {
    http: reqwest::Client,
    base: Url,
    token: Secret,
}

impl std::fmt::Debug for MattermostApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MattermostApi")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl MattermostApi {
    /// A client for the server at `url` (e.g. `https://mattermost.example.com`).
    pub fn new(http: reqwest::Client, url: &str, token: Secret) -> Result<Self, MattermostError> {
        let mut base = http::api_base(url.trim_end_matches('/'), "bad server URL")
            .map_err(MattermostError::Decode)?;
        // Keep any path prefix (a server behind /mattermost) and append the API root to it.
        base.path_segments_mut()
            .map_err(|()| MattermostError::Decode("bad server URL".into()))?
            .pop_if_empty()
            .extend(["api", "v4"]);
        Ok(Self { http, base, token })
    }

    fn url(&self, segments: &[&str]) -> Url {
        http::api_url(&self.base, segments, &[])
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Value>,
    ) -> Result<T, MattermostError> {
        let mut request = self
            .http
            .request(method, self.url(segments))
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| MattermostError::Network(http::without_url(&e)))?;
        let status = response.status();
        if status.is_success() {
            let body = read_body(response, MAX_RESPONSE_BODY)
                .await
                .map_err(|e| match e {
                    BodyError::Read(e) => MattermostError::Network(http::without_url(&e)),
                    too_large => MattermostError::Decode(too_large.to_string()),
                })?;
            return serde_json::from_slice::<T>(&body)
                .map_err(|e| MattermostError::Decode(format!("cannot decode the answer: {e}")));
        }
        let retry_after = retry_after(response.headers(), SystemTime::now());
        let body = read_body(response, MAX_RESPONSE_BODY)
            .await
            .ok()
            .and_then(|body| serde_json::from_slice::<Value>(&body).ok());
        let message = http::message_or_reason(body.as_ref(), status);
        Err(match status {
            StatusCode::UNAUTHORIZED => MattermostError::Unauthorized { message },
            StatusCode::NOT_FOUND => MattermostError::NotFound { message },
            StatusCode::TOO_MANY_REQUESTS => MattermostError::RateLimited { retry_after },
            s if s.is_server_error() => MattermostError::Server {
                status: s.as_u16(),
                message,
            },
            s => MattermostError::Refused {
                status: s.as_u16(),
                message,
            },
        })
    }

    /// `GET users/me`: the bot itself (the token check).
    pub async fn me(&self) -> Result<User, MattermostError> {
        self.call(Method::GET, &["users", "me"], None).await
    }

    /// `GET users/email/{email}`; `None` when there is no such user.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, MattermostError> {
        not_found_as_none(
            self.call(Method::GET, &["users", "email", email], None)
                .await,
        )
    }

    /// `POST channels/direct`: the direct channel between two users (created if needed).
    pub async fn direct_channel(&self, a: &str, b: &str) -> Result<Channel, MattermostError> {
        self.call(Method::POST, &["channels", "direct"], Some(json!([a, b])))
            .await
    }

    /// `GET teams/name/{name}`; `None` when there is no such team (or it is not visible).
    pub async fn team_by_name(&self, name: &str) -> Result<Option<Team>, MattermostError> {
        invisible_as_none(self.call(Method::GET, &["teams", "name", name], None).await)
    }

    /// `GET users/{user}/teams`: the teams a user belongs to.
    pub async fn teams_of(&self, user_id: &str) -> Result<Vec<Team>, MattermostError> {
        self.call(Method::GET, &["users", user_id, "teams"], None)
            .await
    }

    /// `GET teams/{team}/channels/name/{name}`; `None` when there is no such channel.
    pub async fn channel_by_name(
        &self,
        team_id: &str,
        name: &str,
    ) -> Result<Option<Channel>, MattermostError> {
        invisible_as_none(
            self.call(
                Method::GET,
                &["teams", team_id, "channels", "name", name],
                None,
            )
            .await,
        )
    }

    /// `GET users/{user}/teams/{team}/channels`: the channels of a team a user belongs to.
    pub async fn channels_of(
        &self,
        user_id: &str,
        team_id: &str,
    ) -> Result<Vec<Channel>, MattermostError> {
        self.call(
            Method::GET,
            &["users", user_id, "teams", team_id, "channels"],
            None,
        )
        .await
    }

    /// `GET channels/{channel}/members/{user}`: whether the user is in the channel.
    pub async fn is_channel_member(
        &self,
        channel_id: &str,
        user_id: &str,
    ) -> Result<bool, MattermostError> {
        let member: Result<Option<Value>, MattermostError> = not_found_as_none(
            self.call(
                Method::GET,
                &["channels", channel_id, "members", user_id],
                None,
            )
            .await,
        );
        Ok(member?.is_some())
    }

    /// `POST posts`: a new post, or a reply when `root_id` is set.
    pub async fn create_post(
        &self,
        channel_id: &str,
        root_id: Option<&str>,
        message: &str,
    ) -> Result<Post, MattermostError> {
        let mut body = json!({ "channel_id": channel_id, "message": message });
        if let Some(root) = root_id {
            body["root_id"] = json!(root);
        }
        self.call(Method::POST, &["posts"], Some(body)).await
    }

    /// `PUT posts/{id}`: replaces a post's text.
    pub async fn update_post(
        &self,
        post_id: &str,
        channel_id: &str,
        message: &str,
    ) -> Result<Post, MattermostError> {
        let body = json!({ "id": post_id, "channel_id": channel_id, "message": message });
        self.call(Method::PUT, &["posts", post_id], Some(body))
            .await
    }
}

fn not_found_as_none<T>(result: Result<T, MattermostError>) -> Result<Option<T>, MattermostError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(MattermostError::NotFound { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Mattermost answers 403 for a team or channel the bot may not see: to the bot it does not exist.
fn invisible_as_none<T>(result: Result<T, MattermostError>) -> Result<Option<T>, MattermostError> {
    match result {
        Err(MattermostError::Refused { status: 403, .. }) => Ok(None),
        other => not_found_as_none(other),
    }
}

/// `Retry-After` (the runtime's reading), else Mattermost's `X-Ratelimit-Reset` (seconds until
/// the window resets, or a Unix time).
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(wait) = service_error::retry_after(headers) {
        return Some(wait);
    }
    let reset: u64 = headers
        .get("x-ratelimit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    const UNIX_TIME_FLOOR: u64 = 1_000_000_000;
    if reset >= UNIX_TIME_FLOOR {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(reset);
        Some(at.duration_since(now).unwrap_or_default())
    } else {
        Some(Duration::from_secs(reset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(3)));
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("1700000010"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(10)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
    }

    #[test]
    fn classification() {
        let transient = ServiceError::from(MattermostError::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        });
        assert_eq!(
            transient,
            ServiceError::Transient {
                message: "rate limited by Mattermost".into(),
                retry_after: Some(Duration::from_secs(2))
            }
        );
        assert!(matches!(
            ServiceError::from(MattermostError::Server {
                status: 502,
                message: String::new()
            }),
            ServiceError::Transient { .. }
        ));
        assert!(matches!(
            ServiceError::from(MattermostError::Unauthorized {
                message: String::new()
            }),
            ServiceError::Unauthorized { .. }
        ));
        assert!(matches!(
            ServiceError::from(MattermostError::NotFound {
                message: "channel".into()
            }),
            ServiceError::Permanent { .. }
        ));
        assert!(matches!(
            ServiceError::from(MattermostError::Refused {
                status: 403,
                message: String::new()
            }),
            ServiceError::Permanent { .. }
        ));
    }
}
