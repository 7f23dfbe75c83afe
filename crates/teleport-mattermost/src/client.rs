//! A thin Mattermost REST API v4 client: the calls the plugin makes, with typed errors.
//!
//! Each method is exactly one HTTP request; retrying is the runtime's job, so a 429 comes back
//! as [`MattermostError::RateLimited`] carrying the server's `Retry-After` (or `X-Ratelimit-Reset`).

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::http;
use teleport_plugin_runtime::json_api::{ApiFailure, JsonApi};
use teleport_plugin_runtime::service_error::{self, ServiceError};

mod lookup;

pub use lookup::{FoundPost, POSTS_PAGE, REQUEST_ID_PROP};

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
    /// 403: Mattermost's "you may not see or post here".
    #[error("Mattermost refused the call with 403: {message}")]
    Forbidden {
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
    /// Any other failure, as the runtime classifies it (5xx and 408 transient, other 4xx
    /// permanent, no answer by its cause).
    #[error("{}", .0.message())]
    Other(ServiceError),
}

/// What the runtime does about a Mattermost failure: a rejected token and rate limits are
/// retried (fixing the token and restarting must not have lost the messages meanwhile); 404
/// and 403 (Mattermost's "you may not post here") are not; the rest as the runtime sorts it.
impl From<MattermostError> for ServiceError {
    fn from(error: MattermostError) -> Self {
        let message = error.to_string();
        match error {
            MattermostError::Unauthorized { .. } => ServiceError::Unauthorized { message },
            MattermostError::RateLimited { retry_after } => {
                ServiceError::answered(message, retry_after)
            }
            MattermostError::NotFound { .. } | MattermostError::Forbidden { .. } => {
                ServiceError::Permanent { message }
            }
            MattermostError::Other(error) => error,
        }
    }
}

/// Mattermost's own codes; everything else goes to the runtime's classifier.
impl From<ApiFailure> for MattermostError {
    fn from(failure: ApiFailure) -> Self {
        let ApiFailure::Answer(answer) = &failure else {
            return Self::Other(failure.classified("Mattermost"));
        };
        let message = answer.message();
        match answer.status {
            StatusCode::UNAUTHORIZED => Self::Unauthorized { message },
            StatusCode::FORBIDDEN => Self::Forbidden { message },
            StatusCode::NOT_FOUND => Self::NotFound { message },
            StatusCode::TOO_MANY_REQUESTS => Self::RateLimited {
                retry_after: retry_after(&answer.headers, SystemTime::now()),
            },
            _ => Self::Other(failure.classified("Mattermost")),
        }
    }
}

/// The client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct MattermostApi {
    api: JsonApi,
}

impl MattermostApi {
    /// A client for the server at `url` (e.g. `https://mattermost.example.com`).
    pub fn new(http: reqwest::Client, url: &str, token: Secret) -> Result<Self, MattermostError> {
        let bad_url = |text: String| MattermostError::Other(ServiceError::permanent(text));
        let mut base =
            http::api_base(url.trim_end_matches('/'), "bad server URL").map_err(bad_url)?;
        // Keep any path prefix (a server behind /mattermost) and append the API root to it.
        base.path_segments_mut()
            .map_err(|()| bad_url("bad server URL".into()))?
            .pop_if_empty()
            .extend(["api", "v4"]);
        Ok(Self {
            api: JsonApi::new(http, base, "Bearer", token),
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Value>,
    ) -> Result<T, MattermostError> {
        self.call_with_query(method, segments, &[], body).await
    }

    /// [`call`](Self::call) with a query string.
    async fn call_with_query<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<T, MattermostError> {
        Ok(self
            .api
            .call_with_query(method, segments, query, body.as_ref())
            .await?)
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
        Err(MattermostError::Forbidden { .. }) => Ok(None),
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

    fn answer(status: u16) -> ServiceError {
        let failure =
            ApiFailure::Answer(Box::new(teleport_plugin_runtime::json_api::FailedAnswer {
                status: StatusCode::from_u16(status).unwrap(),
                headers: HeaderMap::new(),
                body: serde_json::json!({ "message": "from Mattermost" }),
            }));
        ServiceError::from(MattermostError::from(failure))
    }

    #[test]
    fn classification() {
        let transient = ServiceError::from(MattermostError::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        });
        assert_eq!(
            transient,
            ServiceError::answered("rate limited by Mattermost", Some(Duration::from_secs(2)))
        );
        assert_eq!(
            answer(502),
            ServiceError::transient("Mattermost answered 502: from Mattermost")
        );
        // The runtime's rule: a request timeout passes, unlike other 4xx.
        assert!(matches!(answer(408), ServiceError::Transient { .. }));
        assert!(matches!(answer(400), ServiceError::Permanent { .. }));
        assert!(matches!(answer(401), ServiceError::Unauthorized { .. }));
        assert!(matches!(answer(404), ServiceError::Permanent { .. }));
        // Mattermost's 403 is "not here", not a refused token.
        assert_eq!(
            answer(403),
            ServiceError::permanent("Mattermost refused the call with 403: from Mattermost")
        );
    }
}
