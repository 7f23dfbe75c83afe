//! One JSON API endpoint as the chat clients (Mattermost, Discord) call it: a base URL, a
//! token sent as `Authorization: <scheme> <token>`, a reqwest client, every answer read
//! with the runtime's bound, and every failure either handed back as the service's answer
//! (for the client's own codes) or classified by the runtime's one classifier.
//!
//! It exists so that each client keeps only what its API adds — its paths, its error codes,
//! its rate-limit headers — and the sending, reading and sorting of failures is written once.

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use reqwest::Url;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::Secret;
use crate::http::{
    BodyError, MAX_RESPONSE_BODY, api_url, message_or_reason, read_body, without_url,
};
use crate::service_error::ServiceError;

/// A JSON API at one base URL, called with one token. Cheap to clone.
#[derive(Clone)]
pub struct JsonApi {
    http: reqwest::Client,
    base: Url,
    scheme: &'static str,
    token: Secret,
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

    /// The runtime's classification of this status (429, 5xx and 408 transient with the
    /// `Retry-After`, 401 and 403 refused credentials, any other permanent), worded `text`.
    pub fn classify(&self, text: impl Into<String>) -> ServiceError {
        ServiceError::from_status(self.status, &self.headers, text)
    }
}

impl ApiFailure {
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
                reworded(error, text)
            }
        }
    }
}

impl JsonApi {
    /// An endpoint at `base` (calls append their escaped segments to it), sending
    /// `Authorization: <scheme> <token>` (`Bearer`, Discord's `Bot`).
    pub fn new(http: reqwest::Client, base: Url, scheme: &'static str, token: Secret) -> Self {
        Self {
            http,
            base,
            scheme,
            token,
        }
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
        let mut request = self
            .http
            .request(method, api_url(&self.base, segments, query))
            .header(http::header::AUTHORIZATION, self.authorization()?)
            .header(http::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(no_answer)?;
        let status = response.status();
        if status.is_success() {
            let body = read_body(response, MAX_RESPONSE_BODY)
                .await
                .map_err(unread_body)?;
            return serde_json::from_slice::<T>(&body).map_err(|e| {
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

    /// The header, marked sensitive so that no debug output shows it. A token that cannot
    /// be a header value fails every call alike, for good.
    fn authorization(&self) -> Result<HeaderValue, ApiFailure> {
        let mut value = HeaderValue::from_str(&format!("{} {}", self.scheme, self.token.expose()))
            .map_err(|_| {
                ApiFailure::NoAnswer(ServiceError::permanent(
                    "the token cannot be sent in an HTTP header",
                ))
            })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// A call that got no answer, classified by the runtime and worded without the URL.
fn no_answer(error: reqwest::Error) -> ApiFailure {
    ApiFailure::NoAnswer(reworded(
        ServiceError::from_reqwest(&error),
        without_url(&error),
    ))
}

fn unread_body(error: BodyError) -> ApiFailure {
    match error {
        BodyError::Read(error) => no_answer(error),
        too_large => ApiFailure::NoAnswer(too_large.into_service_error()),
    }
}

/// The same classification and wait, with another text.
fn reworded(error: ServiceError, message: String) -> ServiceError {
    match error {
        ServiceError::Transient { retry_after, .. } => ServiceError::Transient {
            message,
            retry_after,
        },
        ServiceError::Unauthorized { .. } => ServiceError::Unauthorized { message },
        ServiceError::Permanent { .. } => ServiceError::Permanent { message },
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
            ServiceError::transient("Chat answered 408: Request Timeout")
        );
        let unavailable = answer(503, serde_json::json!({ "message": "down" }));
        assert_eq!(
            unavailable.classified("Chat"),
            ServiceError::Transient {
                message: "Chat answered 503: down".into(),
                retry_after: Some(Duration::from_secs(4)),
            }
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
