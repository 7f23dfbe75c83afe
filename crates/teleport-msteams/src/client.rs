//! A thin client for the Microsoft APIs the plugin uses: the identity platform's token
//! endpoint (client credentials, [`token`]), Graph v1.0 ([`graph`]; a chat's or channel's
//! messages for the opt-in look-up, [`messages`]) and the Bot Framework connector
//! ([`activities`]).
//!
//! Each method is exactly one HTTP request (a token request before it when the cached
//! token is missing or about to expire); retrying is the runtime's job, so failures come
//! back as [`MsApiError`] and map to [`ServiceError`] in one place.

pub mod activities;
pub mod graph;
pub mod messages;
pub mod token;

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::http::{MAX_RESPONSE_BODY, read_body};
use teleport_plugin_runtime::service_error::{self, ServiceError};

use crate::client::token::TokenCache;

/// The Graph scope of an app-only token.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
/// The Bot Framework scope of an app-only token.
pub const BOT_SCOPE: &str = "https://api.botframework.com/.default";

/// Which API answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// Microsoft Graph.
    Graph,
    /// The Bot Framework connector.
    BotFramework,
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Graph => "Microsoft Graph",
            Self::BotFramework => "the Bot Framework",
        })
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum MsApiError {
    /// The identity platform refused to issue a token.
    #[error(
        "Microsoft refused the app's credentials ({status} {error}: {description}); check [msapi] app_id, app_secret and tenant_id"
    )]
    Token {
        /// HTTP status.
        status: u16,
        /// OAuth error code (`invalid_client`, ...).
        error: String,
        /// Its description.
        description: String,
        /// The service's `Retry-After` (429).
        retry_after: Option<Duration>,
    },
    /// Graph or the Bot Framework answered with an error.
    #[error("{service} answered {status}: {code} {message}")]
    Api {
        /// Which API.
        service: Service,
        /// HTTP status.
        status: u16,
        /// The error code (`Request_ResourceNotFound`, `Conflict`, ...).
        code: String,
        /// The error message.
        message: String,
        /// The service's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// A lookup found nothing (the app in the catalog, a user, an installation).
    #[error("{0}")]
    NotFound(String),
    /// A lookup found more than one.
    #[error("{0}")]
    Ambiguous(String),
    /// No answer (connection, timeout, a body that could not be read).
    #[error("cannot reach {service}: {error}")]
    Transport {
        /// Which API (or the identity platform).
        service: &'static str,
        /// The classified failure.
        error: ServiceError,
    },
    /// The answer was not what the API documents.
    #[error("unexpected answer from {service}: {message}")]
    Decode {
        /// Which API.
        service: &'static str,
        /// What was wrong.
        message: String,
    },
}

impl MsApiError {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Token { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether this is a "nothing found" answer (a lookup's empty list, or a 404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound(_)) || self.status() == Some(404)
    }
}

/// What the runtime does about a failure: refused credentials (a token refused, a 401, a
/// Graph 403 for a missing permission) are retried loudly; 429, 5xx and network trouble are
/// retried after the service's `Retry-After`; a 404, a Bot Framework 403 (the bot is not in
/// that conversation) and other refusals of this one call are not.
impl From<MsApiError> for ServiceError {
    fn from(error: MsApiError) -> Self {
        let message = error.to_string();
        match error {
            MsApiError::Token {
                status,
                retry_after,
                ..
            }
            | MsApiError::Api {
                status,
                retry_after,
                ..
            } if status == 429 || status >= 500 || status == 408 => ServiceError::Transient {
                message,
                retry_after,
                // A gateway's 502 or 504 gave up on a call that may still be carried out.
                answered: status != 502 && status != 504,
            },
            MsApiError::Token { .. } => ServiceError::Unauthorized { message },
            MsApiError::Api {
                service: Service::BotFramework,
                status: 403,
                ..
            } => ServiceError::Permanent { message },
            MsApiError::Api { status, .. } if status == 401 || status == 403 => {
                ServiceError::Unauthorized { message }
            }
            MsApiError::Transport { error, .. } => error.reworded(message),
            MsApiError::Api { .. }
            | MsApiError::NotFound(_)
            | MsApiError::Ambiguous(_)
            | MsApiError::Decode { .. } => ServiceError::Permanent { message },
        }
    }
}

/// Where the APIs are (overridable for tests and sovereign clouds).
#[derive(Clone, Debug)]
pub struct Endpoints {
    /// The identity platform: `https://login.microsoftonline.com`.
    pub login: Url,
    /// Graph: `https://graph.microsoft.com/v1.0`.
    pub graph: Url,
    /// The Bot Framework service URL: `https://smba.trafficmanager.net`.
    pub bot_framework: Url,
    /// The Bot Framework region (`emea`, `amer`, `apac`, ...).
    pub region: String,
}

/// The app's credentials.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The Entra ID application (client) ID.
    pub app_id: String,
    /// Its secret.
    pub app_secret: Secret,
    /// The tenant.
    pub tenant_id: String,
}

/// The client. Cheap to clone: clones share the token caches.
#[derive(Clone, Debug)]
pub struct MsApi {
    http: reqwest::Client,
    endpoints: Endpoints,
    graph_token: TokenCache,
    bot_token: TokenCache,
}

/// Graph's and the Bot Framework's error body.
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorDetail,
}

#[derive(Deserialize, Default)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl MsApi {
    /// A client; nothing is called until the first request.
    pub fn new(http: reqwest::Client, endpoints: Endpoints, credentials: Credentials) -> Self {
        let token = |scope| {
            TokenCache::new(
                http.clone(),
                endpoints.login.clone(),
                credentials.clone(),
                scope,
            )
        };
        Self {
            graph_token: token(GRAPH_SCOPE),
            bot_token: token(BOT_SCOPE),
            http,
            endpoints,
        }
    }

    /// The Graph token cache (for tests and the start-up log).
    pub fn graph_token(&self) -> &TokenCache {
        &self.graph_token
    }

    /// `base` with `segments` appended, each percent-encoded as one path segment.
    fn url(base: &Url, segments: &[&str], trailing_slash: bool) -> Url {
        let mut url = base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
            if trailing_slash {
                path.push("");
            }
        }
        url
    }

    /// One call: the bearer token of `service`, the request, and the answer's JSON when
    /// the status is `expect` (`None` for an answer without a body to read).
    async fn call<T: DeserializeOwned>(
        &self,
        service: Service,
        method: Method,
        url: Url,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
        expect: StatusCode,
    ) -> Result<Option<T>, MsApiError> {
        let tokens = match service {
            Service::Graph => &self.graph_token,
            Service::BotFramework => &self.bot_token,
        };
        let bearer = tokens.bearer().await?;
        let name = match service {
            Service::Graph => "Microsoft Graph",
            Service::BotFramework => "the Bot Framework",
        };
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(bearer.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let Answer {
            status,
            headers,
            bytes,
        } = send(request, name).await?;
        if status == expect {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(None);
            }
            return serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| MsApiError::Decode {
                    service: name,
                    message: e.to_string(),
                });
        }
        if status == StatusCode::UNAUTHORIZED {
            // Revoked or expired early: the next attempt asks for a new token.
            tokens.clear().await;
        }
        let detail = serde_json::from_slice::<ErrorBody>(&bytes)
            .unwrap_or_default()
            .error;
        Err(MsApiError::Api {
            service,
            status: status.as_u16(),
            code: detail.code,
            message: detail.message,
            retry_after: service_error::retry_after(&headers),
        })
    }
}

/// A whole answer, its body read within the runtime's bound.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
}

/// Sends `request` and reads its whole answer (every Microsoft call, the token requests
/// too); no answer, or one cut off or over the bound, is a [`MsApiError::Transport`] of
/// `service`, worded without the URL.
async fn send(
    request: reqwest::RequestBuilder,
    service: &'static str,
) -> Result<Answer, MsApiError> {
    let transport = |error| MsApiError::Transport { service, error };
    let response = request
        .send()
        .await
        .map_err(|e| transport(ServiceError::from_reqwest(&e.without_url())))?;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = read_body(response, MAX_RESPONSE_BODY)
        .await
        .map_err(|e| transport(e.into_service_error()))?
        .into();
    Ok(Answer {
        status,
        headers,
        bytes,
    })
}
