//! A thin Opsgenie REST API (v2) client: the calls the plugin makes, with typed errors.
//!
//! Each method is exactly one HTTP request; retrying is the runtime's job. Alert writes are
//! asynchronous in Opsgenie: they answer 202 with a `requestId`, and the alert's ID is learned
//! from `GET v2/alerts/requests/{requestId}` once Opsgenie has processed the create.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::http;
use teleport_plugin_runtime::json_api::{ApiFailure, Credentials, JsonApi};
use teleport_plugin_runtime::service_error::ServiceError;

/// The query that names an alert by its ID.
const BY_ID: &[(&str, &str)] = &[("identifierType", "id")];

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
    /// Opsgenie processed the create but did not create the alert.
    #[error("Opsgenie did not create the alert: {0}")]
    NotCreated(String),
    /// Opsgenie has not processed the create yet.
    #[error("Opsgenie has not processed the alert yet")]
    Processing,
    /// Any other failure, as the runtime classifies it (429, 5xx and 408 transient, other
    /// 4xx permanent, no answer by its cause).
    #[error("{}", .0.message())]
    Other(ServiceError),
}

impl OpsgenieError {
    /// Whether trying again may succeed (the runtime retries these).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unauthorized { .. } | Self::Processing => true,
            Self::Forbidden { .. } | Self::NotFound { .. } | Self::NotCreated(_) => false,
            Self::Other(error) => error.is_retryable(),
        }
    }
}

/// How long to wait before asking again whether Opsgenie has processed a create.
pub const PROCESSING_WAIT: Duration = Duration::from_millis(500);

/// What the runtime does about an Opsgenie failure: a rejected key and a create not
/// processed yet are retried; a refusal of the call, a missing alert or schedule and a
/// create that failed are not; the rest as the runtime sorts it.
impl From<OpsgenieError> for ServiceError {
    fn from(error: OpsgenieError) -> Self {
        let message = error.to_string();
        match error {
            OpsgenieError::Unauthorized { .. } => ServiceError::Unauthorized { message },
            OpsgenieError::Processing => ServiceError::Transient {
                message,
                retry_after: Some(PROCESSING_WAIT),
                answered: true,
            },
            OpsgenieError::Forbidden { .. }
            | OpsgenieError::NotFound { .. }
            | OpsgenieError::NotCreated(_) => ServiceError::Permanent { message },
            OpsgenieError::Other(error) => error,
        }
    }
}

/// Opsgenie's own codes; everything else goes to the runtime's classifier.
impl From<ApiFailure> for OpsgenieError {
    fn from(failure: ApiFailure) -> Self {
        let ApiFailure::Answer(answer) = &failure else {
            return Self::Other(failure.classified("Opsgenie"));
        };
        let message = answer.message();
        match answer.status {
            StatusCode::UNAUTHORIZED => Self::Unauthorized { message },
            StatusCode::FORBIDDEN => Self::Forbidden { message },
            StatusCode::NOT_FOUND => Self::NotFound { message },
            _ => Self::Other(failure.classified("Opsgenie")),
        }
    }
}

/// The client. Cheap to clone.
#[derive(Clone)]
pub struct OpsgenieApi {
    api: JsonApi,
}

impl std::fmt::Debug for OpsgenieApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsgenieApi")
            .field("base", &self.api.base().as_str())
            .finish_non_exhaustive()
    }
}

impl OpsgenieApi {
    /// A client for the API at `endpoint` (e.g. `https://api.opsgenie.com`).
    pub fn new(http: reqwest::Client, endpoint: &str, key: Secret) -> Result<Self, OpsgenieError> {
        let base = http::api_base(endpoint.trim_end_matches('/'), "bad API endpoint")
            .map_err(|e| OpsgenieError::Other(ServiceError::permanent(e)))?;
        let credentials = Credentials::Authorization {
            prefix: "GenieKey ".into(),
            secret: key,
        };
        Ok(Self {
            api: JsonApi::with_credentials(http, base, credentials),
        })
    }

    /// One call on `v2/<segments>`.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T, OpsgenieError> {
        let segments = [&["v2"], segments].concat();
        Ok(self
            .api
            .call_with_query(method, &segments, query, body)
            .await?)
    }

    /// `GET v2/heartbeats/teleport-access-heartbeat/ping`: the key check (Opsgenie answers
    /// it whether or not the heartbeat exists, as the Go plugin relies on).
    pub async fn ping(&self) -> Result<(), OpsgenieError> {
        let ping = ["heartbeats", "teleport-access-heartbeat", "ping"];
        match self.call::<Value>(Method::GET, &ping, &[], None).await {
            Ok(_) | Err(OpsgenieError::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// `POST v2/alerts`: asks for an alert; returns the `requestId` to learn its ID by.
    pub async fn create_alert(&self, alert: &NewAlert) -> Result<String, OpsgenieError> {
        let body = serde_json::to_value(alert)
            .map_err(|e| OpsgenieError::Other(ServiceError::permanent(e.to_string())))?;
        let accepted: Accepted = self
            .call(Method::POST, &["alerts"], &[], Some(&body))
            .await?;
        Ok(accepted.request_id)
    }

    /// `GET v2/alerts/requests/{requestId}`: the alert a create made, once processed
    /// ([`OpsgenieError::Processing`] before).
    pub async fn alert_of_request(&self, request_id: &str) -> Result<String, OpsgenieError> {
        let segments = ["alerts", "requests", request_id];
        let status: RequestStatus = match self.call(Method::GET, &segments, &[], None).await {
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
        let body = serde_json::json!({ "note": note });
        let segments = ["alerts", alert_id, "notes"];
        self.call::<Value>(Method::POST, &segments, BY_ID, Some(&body))
            .await?;
        Ok(())
    }

    /// `POST v2/alerts/{id}/close?identifierType=id` with a note.
    pub async fn close_alert(&self, alert_id: &str, note: &str) -> Result<(), OpsgenieError> {
        let body = serde_json::json!({ "note": note });
        let segments = ["alerts", alert_id, "close"];
        self.call::<Value>(Method::POST, &segments, BY_ID, Some(&body))
            .await?;
        Ok(())
    }

    /// `GET v2/schedules/{name}/on-calls?scheduleIdentifierType=name&flat=true`: the e-mail
    /// addresses of whoever is on call now.
    pub async fn on_call(&self, schedule: &str) -> Result<Vec<String>, OpsgenieError> {
        let segments = ["schedules", schedule, "on-calls"];
        let query = [("scheduleIdentifierType", "name"), ("flat", "true")];
        let on_calls: OnCalls = self.call(Method::GET, &segments, &query, None).await?;
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

    fn answer(status: u16) -> ServiceError {
        let failure =
            ApiFailure::Answer(Box::new(teleport_plugin_runtime::json_api::FailedAnswer {
                status: StatusCode::from_u16(status).unwrap(),
                headers: reqwest::header::HeaderMap::new(),
                body: serde_json::json!({ "message": "from Opsgenie" }),
            }));
        ServiceError::from(OpsgenieError::from(failure))
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
        assert!(matches!(answer(401), ServiceError::Unauthorized { .. }));
        // A read-only integration's 403 is not a refused key.
        assert!(matches!(answer(403), ServiceError::Permanent { .. }));
        assert!(matches!(answer(422), ServiceError::Permanent { .. }));
        assert_eq!(
            answer(503),
            ServiceError::answered("Opsgenie answered 503: from Opsgenie", None)
        );
        assert!(
            !OpsgenieError::NotFound {
                message: String::new()
            }
            .is_transient()
        );
    }
}
