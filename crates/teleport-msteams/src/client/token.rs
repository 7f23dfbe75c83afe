//! App-only OAuth tokens (client credentials grant), one cache per scope.
//!
//! Microsoft issues no refresh token for this grant: a token is simply requested again.
//! The cached token is used until shortly before it expires — a minute before, as Go's
//! plugin does, or a quarter of its lifetime for short-lived tokens — so no call is made
//! with a token about to lapse in flight. Concurrent callers wait for one request.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::service_error;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::client::{Answer, Credentials, MsApiError, send};

/// How long before its expiry a token is renewed, at most.
pub const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// A scope's token, renewed before it expires.
#[derive(Clone, Debug)]
pub struct TokenCache {
    http: reqwest::Client,
    url: Url,
    credentials: Credentials,
    scope: &'static str,
    current: Arc<Mutex<Option<Cached>>>,
}

#[derive(Debug)]
struct Cached {
    token: Secret,
    renew_at: Instant,
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(deserialize_with = "seconds")]
    expires_in: u64,
}

/// The identity platform's error answer.
#[derive(Deserialize, Default)]
struct TokenRefusal {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// `expires_in` as a number or, as older endpoints write it, a string.
fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(u64),
        Text(String),
    }
    match Either::deserialize(d)? {
        Either::Number(n) => Ok(n),
        Either::Text(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

/// When to renew a token that lives `lifetime`: a minute before it expires, or a quarter
/// of its lifetime before for a token shorter than four minutes.
pub fn renew_after(lifetime: Duration) -> Duration {
    lifetime.saturating_sub(RENEW_BEFORE.min(lifetime / 4))
}

impl TokenCache {
    /// A cache for `scope`, fetching from `<login>/<tenant>/oauth2/v2.0/token`.
    pub(crate) fn new(
        http: reqwest::Client,
        login: Url,
        credentials: Credentials,
        scope: &'static str,
    ) -> Self {
        let mut url = login;
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend([credentials.tenant_id.as_str(), "oauth2", "v2.0", "token"]);
        }
        Self {
            http,
            url,
            credentials,
            scope,
            current: Arc::new(Mutex::new(None)),
        }
    }

    /// The token to send, fetched when there is none or it is due for renewal.
    pub async fn bearer(&self) -> Result<Secret, MsApiError> {
        let mut current = self.current.lock().await;
        if let Some(cached) = current.as_ref()
            && Instant::now() < cached.renew_at
        {
            return Ok(cached.token.clone());
        }
        let started = Instant::now();
        let (token, lifetime) = self.fetch().await?;
        tracing::debug!(
            scope = self.scope,
            lifetime_secs = lifetime.as_secs(),
            "new access token"
        );
        *current = Some(Cached {
            token: token.clone(),
            renew_at: started + renew_after(lifetime),
        });
        Ok(token)
    }

    /// Forgets the cached token (after the service refused it).
    pub async fn clear(&self) {
        *self.current.lock().await = None;
    }

    async fn fetch(&self) -> Result<(Secret, Duration), MsApiError> {
        const SERVICE: &str = "the Microsoft identity platform";
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.credentials.app_id.as_str()),
            ("client_secret", self.credentials.app_secret.expose()),
            ("scope", self.scope),
        ];
        let Answer {
            status,
            headers,
            bytes,
        } = send(self.http.post(self.url.clone()).form(&form), SERVICE).await?;
        if !status.is_success() {
            let refusal: TokenRefusal = serde_json::from_slice(&bytes).unwrap_or_default();
            return Err(MsApiError::Token {
                status: status.as_u16(),
                error: refusal.error,
                // The first line: the identity platform appends trace and correlation IDs.
                description: refusal
                    .error_description
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                retry_after: service_error::retry_after(&headers),
            });
        }
        let answer: TokenAnswer =
            serde_json::from_slice(&bytes).map_err(|e| MsApiError::Decode {
                service: SERVICE,
                message: e.to_string(),
            })?;
        Ok((
            Secret::new(answer.access_token),
            Duration::from_secs(answer.expires_in),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        assert_eq!(
            renew_after(Duration::from_secs(3599)),
            Duration::from_secs(3539)
        );
        assert_eq!(renew_after(Duration::from_secs(4)), Duration::from_secs(3));
        assert_eq!(renew_after(Duration::ZERO), Duration::ZERO);
    }
}
