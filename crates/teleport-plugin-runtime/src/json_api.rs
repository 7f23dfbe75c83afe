//! One JSON API endpoint as the chat clients (Mattermost, Discord) and the incident clients
//! (Opsgenie, ServiceNow, Datadog) call it: a base URL, the service's credentials (a token
//! in `Authorization`, basic auth, or keys in their own headers), a reqwest client, every
//! answer read with the runtime's bound, and every failure either handed back as the
//! service's answer (for the client's own codes) or classified by the runtime's one
//! classifier.
//!
//! It exists so that each client keeps only what its API adds — its paths, its error codes,
//! its rate-limit headers — and the sending, reading and sorting of failures is written once.

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use reqwest::Url;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::Secret;
use crate::http::{
    BodyError, MAX_RESPONSE_BODY, api_url, message_or_reason, read_body, without_url,
};
use crate::service_error::ServiceError;

/// A JSON API at one base URL, called with one set of credentials. Cheap to clone.
#[derive(Clone)]
pub struct JsonApi {
    http: reqwest::Client,
    base: Url,
    credentials: Credentials,
}

/// How every call proves who it is; the secrets are sent as sensitive header values and
/// never shown by `Debug`.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// `Authorization: <prefix><secret>`: `Bearer `, Discord's `Bot `, Opsgenie's
    /// `GenieKey `, PagerDuty's `Token token=`.
    Authorization {
        /// What precedes the secret, its separator included.
        prefix: String,
        /// The token or key.
        secret: Secret,
    },
    /// HTTP basic authentication (ServiceNow).
    Basic {
        /// The user name.
        username: String,
        /// The password or API token.
        password: Secret,
    },
    /// Each secret in a header of its own (Datadog's `DD-API-KEY`, `DD-APPLICATION-KEY`).
    Headers(Vec<(HeaderName, Secret)>),
}

impl std::fmt::Debug for JsonApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonApi")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// A call that did not succeed, before the client reads its own codes.
#[derive(Debug)]
pub enum ApiFailure {
    /// The service answered with a status that is not a success.
    Answer(Box<FailedAnswer>),
    /// No usable answer: not reached, timed out, cut off, over the bound or undecodable;
    /// already classified by the runtime, worded without the URL.
    NoAnswer(ServiceError),
}

/// A failed answer: its status, headers (for the wait) and JSON body (`Null` when it had
/// none or it was not JSON).
#[derive(Debug)]
pub struct FailedAnswer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as JSON, or `Null`.
    pub body: Value,
}

impl FailedAnswer {
    /// The answer's text: the body's `message`, else the status's reason phrase.
    pub fn message(&self) -> String {
        message_or_reason(Some(&self.body), self.status)
    }

    /// The answer's text as the service words its errors (`read` from the body), else the
    /// status's reason phrase.
    pub fn message_by(&self, read: impl FnOnce(&Value) -> Option<String>) -> String {
        read(&self.body)
            .unwrap_or_else(|| self.status.canonical_reason().unwrap_or("error").to_owned())
    }

    /// The runtime's classification of this status (429, 5xx and 408 transient with the
    /// `Retry-After`, 401 and 403 refused credentials, any other permanent), worded `text`.
    pub fn classify(&self, text: impl Into<String>) -> ServiceError {
        ServiceError::from_status(self.status, &self.headers, text)
    }
}

impl ApiFailure {
    /// The failed answer, for a client to read its own codes in; a call that got none,
    /// already classified and worded as [`classified`](Self::classified) words it.
    pub fn into_answer(self, service: &str) -> Result<Box<FailedAnswer>, ServiceError> {
        match self {
            Self::Answer(answer) => Ok(answer),
            no_answer => Err(no_answer.classified(service)),
        }
    }

    /// The runtime's classification of any failure, worded `"<service> answered <status>:
    /// <message>"` or `"<service>: <what went wrong>"` (`connection failed: ...`). Clients call it for every failure
    /// their API gives no meaning of its own.
    pub fn classified(self, service: &str) -> ServiceError {
        match self {
            Self::Answer(answer) => {
                let text = format!(
                    "{service} answered {}: {}",
                    answer.status.as_u16(),
                    answer.message()
                );
                answer.classify(text)
            }
            Self::NoAnswer(error) => {
                let text = format!("{service}: {}", error.message());
                error.reworded(text)
            }
        }
    }
}

impl JsonApi {
    /// An endpoint at `base` (calls append their escaped segments to it), sending
    /// `Authorization: <scheme> <token>` (`Bearer`, Discord's `Bot`).
    pub fn new(http: reqwest::Client, base: Url, scheme: &'static str, token: Secret) -> Self {
        let prefix = format!("{scheme} ");
        Self::with_credentials(
            http,
            base,
            Credentials::Authorization {
                prefix,
                secret: token,
            },
        )
    }

    /// An endpoint at `base` sending `credentials` with every call.
    pub fn with_credentials(http: reqwest::Client, base: Url, credentials: Credentials) -> Self {
        Self {
            http,
            base,
            credentials,
        }
    }

    /// The base URL (for `Debug` output of the clients built on it).
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The URL of `segments` under the base, each escaped.
    pub fn url(&self, segments: &[&str]) -> Url {
        api_url(&self.base, segments, &[])
    }

    /// One call: `method` on `segments`, with `body` as JSON when given; the answer decoded
    /// as `T`. Never retries.
    pub async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
    ) -> Result<T, ApiFailure> {
        self.call_with_query(method, segments, &[], body).await
    }

    /// [`call`](Self::call) with a query string (the lookups' paging).
    pub async fn call_with_query<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<T, ApiFailure> {
        let request = self
            .http
            .request(method, api_url(&self.base, segments, query))
            .header(http::header::ACCEPT, "application/json");
        let mut request = self.authenticated(request)?;
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(no_answer)?;
        let status = response.status();
        if status.is_success() {
            let body = read_body(response, MAX_RESPONSE_BODY)
                .await
                .map_err(unread_body)?;
            // An empty answer (a 204, Datadog's empty 200s) reads as JSON's `null`.
            let body: &[u8] = if body.is_empty() { b"null" } else { &body };
            return serde_json::from_slice::<T>(body).map_err(|e| {
                ApiFailure::NoAnswer(ServiceError::permanent(format!(
                    "cannot decode the answer: {e}"
                )))
            });
        }
        let headers = response.headers().clone();
        let body = read_body(response, MAX_RESPONSE_BODY)
            .await
            .ok()
            .and_then(|body| serde_json::from_slice::<Value>(&body).ok())
            .unwrap_or(Value::Null);
        Err(ApiFailure::Answer(Box::new(FailedAnswer {
            status,
            headers,
            body,
        })))
    }

    /// The request with the credentials, each secret marked sensitive so that no debug
    /// output shows it. A secret that cannot be a header value fails every call alike, for
    /// good.
    fn authenticated(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, ApiFailure> {
        Ok(match &self.credentials {
            Credentials::Authorization { prefix, secret } => {
                let value = sensitive(&format!("{prefix}{}", secret.expose()), "the token")?;
                request.header(http::header::AUTHORIZATION, value)
            }
            Credentials::Basic { username, password } => {
                request.basic_auth(username, Some(password.expose()))
            }
            Credentials::Headers(headers) => {
                let mut request = request;
                for (name, secret) in headers {
                    let value = sensitive(secret.expose(), name.as_str())?;
                    request = request.header(name.clone(), value);
                }
                request
            }
        })
    }
}

/// `text` as a header value hidden from debug output; `what` names it when it cannot be one.
/// The strings of a JSON array (an API's list of error messages, say); empty when `value`
/// is not an array, other elements skipped.
pub fn string_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn sensitive(text: &str, what: &str) -> Result<HeaderValue, ApiFailure> {
    let mut value = HeaderValue::from_str(text).map_err(|_| {
        ApiFailure::NoAnswer(ServiceError::permanent(format!(
            "{what} cannot be sent in an HTTP header"
        )))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// A call that got no answer, classified by the runtime and worded without the URL.
fn no_answer(error: reqwest::Error) -> ApiFailure {
    ApiFailure::NoAnswer(ServiceError::from_reqwest(&error).reworded(without_url(&error)))
}

fn unread_body(error: BodyError) -> ApiFailure {
    match error {
        BodyError::Read(error) => no_answer(error),
        too_large => ApiFailure::NoAnswer(too_large.into_service_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn answer(status: u16, body: Value) -> ApiFailure {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("4"));
        ApiFailure::Answer(Box::new(FailedAnswer {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body,
        }))
    }

    #[test]
    fn answers_are_classified_by_the_runtime_and_worded_alike() {
        let timeout = answer(408, Value::Null).classified("Chat");
        assert_eq!(
            timeout,
            ServiceError::answered("Chat answered 408: Request Timeout", None)
        );
        let unavailable = answer(503, serde_json::json!({ "message": "down" }));
        assert_eq!(
            unavailable.classified("Chat"),
            ServiceError::answered("Chat answered 503: down", Some(Duration::from_secs(4)))
        );
        assert!(matches!(
            answer(400, Value::Null).classified("Chat"),
            ServiceError::Permanent { .. }
        ));
        let unreachable = ApiFailure::NoAnswer(ServiceError::transient("connection failed"));
        assert_eq!(
            unreachable.classified("Chat"),
            ServiceError::transient("Chat: connection failed")
        );
    }
}
