//! A thin Opsgenie REST API (v2) client: the calls the plugin makes, with typed errors.
//!
//! Each method is exactly one HTTP request; retrying is the runtime's job. Alert writes are
//! asynchronous in Opsgenie: they answer 202 with a `requestId`, and the alert's ID is learned
//! from `GET v2/alerts/requests/{requestId}` once Opsgenie has processed the create.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::http;
use teleport_plugin_runtime::service_error::{self, ServiceError};

/// A responder of a new alert: a schedule or a team, by ID when the value is a UUID, else by
/// name (as the Go plugin decides).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Responder {
    /// `schedule` or `team`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The ID, for a UUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The name, otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Responder {
    /// A responder of `kind` named or identified by `value`.
    pub fn new(kind: &'static str, value: &str) -> Self {
        if is_uuid(value) {
            Self {
                kind,
                id: Some(value.to_owned()),
                name: None,
            }
        } else {
            Self {
                kind,
                id: None,
                name: Some(value.to_owned()),
            }
        }
    }
}

/// Whether `value` is an ID: Opsgenie's IDs are UUIDs in the hyphenated form (36
/// characters), so the other forms the `uuid` crate reads (simple, braced, URN) stay names.
fn is_uuid(value: &str) -> bool {
    value.len() == 36 && uuid::Uuid::try_parse(value).is_ok()
}

/// A new alert.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct NewAlert {
    /// The title.
    pub message: String,
    /// `teleport-access-request/<id>`: Opsgenie de-duplicates open alerts on it.
    pub alias: String,
    /// The body.
    pub description: String,
    /// Who is notified.
    pub responders: Vec<Responder>,
    /// `P1`..`P5`, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
}

#[derive(Deserialize)]
struct Accepted {
    #[serde(rename = "requestId")]
    request_id: String,
}

#[derive(Deserialize)]
struct RequestStatus {
    data: RequestStatusData,
}

#[derive(Deserialize)]
struct RequestStatusData {
    #[serde(rename = "alertId", default)]
    alert_id: String,
    #[serde(rename = "isSuccess", default)]
    is_success: bool,
    #[serde(default)]
    status: String,
}

#[derive(Deserialize)]
struct OnCalls {
    data: OnCallsData,
}

#[derive(Deserialize)]
struct OnCallsData {
    #[serde(rename = "onCallRecipients", default)]
    on_call_recipients: Vec<String>,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum OpsgenieError {
    /// 401: the key is wrong or revoked.
    #[error("Opsgenie rejected the API key ({message}); check [opsgenie] api_key")]
    Unauthorized {
        /// Opsgenie's message.
        message: String,
    },
    /// 403: the key may not do this (a read-only integration).
    #[error(
        "Opsgenie refused the call ({message}); does the API integration have create and update access?"
    )]
    Forbidden {
        /// Opsgenie's message.
        message: String,
    },
    /// 404.
    #[error("not found: {message}")]
    NotFound {
        /// Opsgenie's message.
        message: String,
    },
    /// 429.
    #[error("rate limited by Opsgenie")]
    RateLimited {
        /// How long to wait, when Opsgenie said.
        retry_after: Option<Duration>,
    },
    /// 5xx, or 408.
    #[error("Opsgenie server error {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Opsgenie's message.
        message: String,
    },
    /// Another 4xx (422 invalid body, ...).
    #[error("Opsgenie refused the call with {status}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Opsgenie's message.
        message: String,
    },
    /// Opsgenie processed the create but did not create the alert.
    #[error("Opsgenie did not create the alert: {0}")]
    NotCreated(String),
    /// Opsgenie has not processed the create yet.
    #[error("Opsgenie has not processed the alert yet")]
    Processing,
    /// Opsgenie could not be reached or did not answer in time.
    #[error("cannot reach Opsgenie: {0}")]
    Network(String),
    /// The answer was not what the API documents.
    #[error("unexpected answer from Opsgenie: {0}")]
    Decode(String),
}

impl OpsgenieError {
    /// Whether trying again may succeed (the runtime retries these).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unauthorized { .. }
                | Self::RateLimited { .. }
                | Self::Server { .. }
                | Self::Processing
                | Self::Network(_)
        )
    }
}

/// How long to wait before asking again whether Opsgenie has processed a create.
pub const PROCESSING_WAIT: Duration = Duration::from_millis(500);

/// What the runtime does about an Opsgenie failure: a rejected key, rate limits, server
/// errors, a create not processed yet and network trouble are retried; other refusals of this
/// one call are not.
impl From<OpsgenieError> for ServiceError {
    fn from(error: OpsgenieError) -> Self {
        let message = error.to_string();
        match error {
            OpsgenieError::Unauthorized { .. } => ServiceError::Unauthorized { message },
            OpsgenieError::RateLimited { retry_after } => ServiceError::Transient {
                message,
                retry_after,
            },
            OpsgenieError::Processing => ServiceError::Transient {
                message,
                retry_after: Some(PROCESSING_WAIT),
            },
            OpsgenieError::Server { .. } | OpsgenieError::Network(_) => {
                ServiceError::transient(message)
            }
            OpsgenieError::Forbidden { .. }
            | OpsgenieError::NotFound { .. }
            | OpsgenieError::Refused { .. }
            | OpsgenieError::NotCreated(_)
            | OpsgenieError::Decode(_) => ServiceError::Permanent { message },
        }
    }
}

/// The client. Cheap to clone.
#[derive(Clone)]
pub struct OpsgenieApi {
    http: reqwest::Client,
    base: Url,
    key: Secret,
}

impl std::fmt::Debug for OpsgenieApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsgenieApi")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl OpsgenieApi {
    /// A client for the API at `endpoint` (e.g. `https://api.opsgenie.com`).
    pub fn new(http: reqwest::Client, endpoint: &str, key: Secret) -> Result<Self, OpsgenieError> {
        let base = http::api_base(endpoint.trim_end_matches('/'), "bad API endpoint")
            .map_err(OpsgenieError::Decode)?;
        Ok(Self { http, base, key })
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        http::api_url(&self.base, &[&["v2"], segments].concat(), query)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<T, OpsgenieError> {
        let mut request = self
            .http
            .request(method, url)
            .header(
                reqwest::header::AUTHORIZATION,
                format!("GenieKey {}", self.key.expose()),
            )
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| OpsgenieError::Network(http::without_url(&e)))?;
        let status = response.status();
        if status.is_success() {
            return response
                .json::<T>()
                .await
                .map_err(|e| OpsgenieError::Decode(http::without_url(&e)));
        }
        let retry_after = service_error::retry_after(response.headers());
        let body = response.json::<Value>().await.ok();
        let message = http::message_or_reason(body.as_ref(), status);
        Err(match status {
            StatusCode::UNAUTHORIZED => OpsgenieError::Unauthorized { message },
            StatusCode::FORBIDDEN => OpsgenieError::Forbidden { message },
            StatusCode::NOT_FOUND => OpsgenieError::NotFound { message },
            StatusCode::TOO_MANY_REQUESTS => OpsgenieError::RateLimited { retry_after },
            s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => OpsgenieError::Server {
                status: s.as_u16(),
                message,
            },
            s => OpsgenieError::Refused {
                status: s.as_u16(),
                message,
            },
        })
    }

    /// `GET v2/heartbeats/teleport-access-heartbeat/ping`: the key check (Opsgenie answers
    /// it whether or not the heartbeat exists, as the Go plugin relies on).
    pub async fn ping(&self) -> Result<(), OpsgenieError> {
        let url = self.url(&["heartbeats", "teleport-access-heartbeat", "ping"], &[]);
        match self.call::<Value>(Method::GET, url, None).await {
            Ok(_) | Err(OpsgenieError::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// `POST v2/alerts`: asks for an alert; returns the `requestId` to learn its ID by.
    pub async fn create_alert(&self, alert: &NewAlert) -> Result<String, OpsgenieError> {
        let body = serde_json::to_value(alert).map_err(|e| OpsgenieError::Decode(e.to_string()))?;
        let accepted: Accepted = self
            .call(Method::POST, self.url(&["alerts"], &[]), Some(body))
            .await?;
        Ok(accepted.request_id)
    }

    /// `GET v2/alerts/requests/{requestId}`: the alert a create made, once processed
    /// ([`OpsgenieError::Processing`] before).
    pub async fn alert_of_request(&self, request_id: &str) -> Result<String, OpsgenieError> {
        let url = self.url(&["alerts", "requests", request_id], &[]);
        let status: RequestStatus = match self.call(Method::GET, url, None).await {
            Err(OpsgenieError::NotFound { .. }) => return Err(OpsgenieError::Processing),
            other => other?,
        };
        if !status.data.is_success || status.data.alert_id.is_empty() {
            return Err(OpsgenieError::NotCreated(status.data.status));
        }
        Ok(status.data.alert_id)
    }

    /// `POST v2/alerts/{id}/notes?identifierType=id`.
    pub async fn add_note(&self, alert_id: &str, note: &str) -> Result<(), OpsgenieError> {
        let url = self.url(&["alerts", alert_id, "notes"], &[("identifierType", "id")]);
        self.call::<Value>(Method::POST, url, Some(serde_json::json!({ "note": note })))
            .await?;
        Ok(())
    }

    /// `POST v2/alerts/{id}/close?identifierType=id` with a note.
    pub async fn close_alert(&self, alert_id: &str, note: &str) -> Result<(), OpsgenieError> {
        let url = self.url(&["alerts", alert_id, "close"], &[("identifierType", "id")]);
        self.call::<Value>(Method::POST, url, Some(serde_json::json!({ "note": note })))
            .await?;
        Ok(())
    }

    /// `GET v2/schedules/{name}/on-calls?scheduleIdentifierType=name&flat=true`: the e-mail
    /// addresses of whoever is on call now.
    pub async fn on_call(&self, schedule: &str) -> Result<Vec<String>, OpsgenieError> {
        let url = self.url(
            &["schedules", schedule, "on-calls"],
            &[("scheduleIdentifierType", "name"), ("flat", "true")],
        );
        let on_calls: OnCalls = self.call(Method::GET, url, None).await?;
        Ok(on_calls.data.on_call_recipients)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responders_by_id_or_name() {
        let by_id = Responder::new("schedule", "4a3e7b0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b");
        assert_eq!(
            by_id.id.as_deref(),
            Some("4a3e7b0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b")
        );
        let by_name = Responder::new("team", "Platform");
        assert_eq!(
            serde_json::to_value(&by_name).unwrap(),
            serde_json::json!({ "type": "team", "name": "Platform" })
        );
        assert!(!is_uuid("4a3e7b0e-1c2d-4e5f-8a9b"));
        assert!(!is_uuid("4a3e7b0e1c2d4e5f8a9b0c1d2e3f4a5b"));
    }

    #[test]
    fn classification() {
        assert!(matches!(
            ServiceError::from(OpsgenieError::Processing),
            ServiceError::Transient {
                retry_after: Some(_),
                ..
            }
        ));
        assert!(matches!(
            ServiceError::from(OpsgenieError::Unauthorized {
                message: String::new()
            }),
            ServiceError::Unauthorized { .. }
        ));
        assert!(matches!(
            ServiceError::from(OpsgenieError::Refused {
                status: 422,
                message: String::new()
            }),
            ServiceError::Permanent { .. }
        ));
        assert!(
            OpsgenieError::Server {
                status: 503,
                message: String::new()
            }
            .is_transient()
        );
        assert!(
            !OpsgenieError::NotFound {
                message: String::new()
            }
            .is_transient()
        );
    }
}
