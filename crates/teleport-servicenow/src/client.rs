//! A thin ServiceNow REST client: the Table API calls on `incident` and `sys_user`, and the
//! on-call scheduling API's `whoisoncall`, with typed errors.
//!
//! Each method is exactly one HTTP request; retrying is the runtime's job. Every answer is
//! read with the runtime's size bound, and every failure maps to a [`ServiceError`] in one
//! place ([`From<ServiceNowError>`](ServiceNowError)).

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::http;
use teleport_plugin_runtime::json_api::{ApiFailure, Credentials, JsonApi};
use teleport_plugin_runtime::service_error::ServiceError;

/// The Table API's incidents, as the Go plugin reads them.
const INCIDENTS: &[&str] = &["api", "now", "table", "incident"];
/// The same, versioned, as the Go plugin writes them.
const INCIDENTS_V1: &[&str] = &["api", "now", "v1", "table", "incident"];

/// The layout of `date_time` in `whoisoncall` (Go's `2006-01-02 15:04:05`).
pub const DATE_TIME_LAYOUT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// A new incident, in the fields the Go plugin sets (plus `correlation_id`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct NewIncident {
    /// `Teleport access request from user <user>`.
    pub short_description: String,
    /// Who wants what and why, and where to review it.
    pub description: String,
    /// The requester (a ServiceNow user name, when Teleport's and ServiceNow's match).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub caller_id: String,
    /// The first reviewer the access monitoring rules (else the requester) named.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub assigned_to: String,
    /// `teleport-access-request/<id>`: finds the incident of a request in ServiceNow.
    pub correlation_id: String,
}

/// The fields an incident is resolved with.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Closing {
    /// The instance's resolution code (`[servicenow] close_code`).
    pub close_code: String,
    /// `6` (resolved) or `7` (closed).
    pub incident_state: String,
    /// Why.
    pub close_notes: String,
}

#[derive(Deserialize)]
struct Wrapped<T> {
    result: T,
}

#[derive(Deserialize)]
struct Created {
    sys_id: String,
}

#[derive(Deserialize)]
struct OnCall {
    #[serde(rename = "userId", default)]
    user_id: String,
}

#[derive(Deserialize)]
struct UserName {
    #[serde(default)]
    user_name: String,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceNowError {
    /// 401: the user name or token is wrong.
    #[error(
        "ServiceNow rejected the credentials ({message}); check [servicenow] username and api_token"
    )]
    Unauthorized {
        /// ServiceNow's message.
        message: String,
    },
    /// 403: an ACL or a data policy refused the call.
    #[error("ServiceNow refused the call ({message})")]
    Forbidden {
        /// ServiceNow's message and detail.
        message: String,
    },
    /// 404: no such record (or an ACL hides it).
    #[error("not found: {message}")]
    NotFound {
        /// ServiceNow's message.
        message: String,
    },
    /// Any other failure, as the runtime classifies it (429, 5xx and 408 transient, other
    /// 4xx permanent, no answer by its cause).
    #[error("{}", .0.message())]
    Other(ServiceError),
}

impl ServiceNowError {
    /// Whether trying again may succeed (the runtime retries these).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unauthorized { .. } => true,
            Self::Forbidden { .. } => self.is_acl(),
            Self::NotFound { .. } => false,
            Self::Other(error) => error.is_retryable(),
        }
    }

    /// A 403 from an ACL (not a data policy): the plugin's user lacks a role, which an
    /// administrator can grant; the call may pass later.
    fn is_acl(&self) -> bool {
        matches!(self, Self::Forbidden { message } if !message.contains("Data Policy"))
    }
}

/// What the runtime does about a ServiceNow failure: refused credentials and ACL refusals are
/// retried loudly (an administrator can fix them); a data-policy refusal and a missing record
/// are not retried; the rest as the runtime sorts it.
impl From<ServiceNowError> for ServiceError {
    fn from(error: ServiceNowError) -> Self {
        let acl = error.is_acl();
        let message = error.to_string();
        match error {
            ServiceNowError::Unauthorized { .. } => ServiceError::Unauthorized { message },
            ServiceNowError::Forbidden { .. } if acl => ServiceError::Unauthorized { message },
            ServiceNowError::Forbidden { .. } | ServiceNowError::NotFound { .. } => {
                ServiceError::Permanent { message }
            }
            ServiceNowError::Other(error) => error,
        }
    }
}

/// ServiceNow's own codes, worded with its `error` object; everything else goes to the
/// runtime's classifier.
impl From<ApiFailure> for ServiceNowError {
    fn from(failure: ApiFailure) -> Self {
        let answer = match failure.into_answer("ServiceNow") {
            Ok(answer) => answer,
            Err(error) => return Self::Other(error),
        };
        let message = answer.message_by(error_message);
        match answer.status {
            StatusCode::UNAUTHORIZED => Self::Unauthorized { message },
            StatusCode::FORBIDDEN => Self::Forbidden { message },
            StatusCode::NOT_FOUND => Self::NotFound { message },
            status => {
                let text = format!("ServiceNow answered {}: {message}", status.as_u16());
                Self::Other(answer.classify(text))
            }
        }
    }
}

/// The client. Cheap to clone.
#[derive(Clone)]
pub struct ServiceNowApi {
    api: JsonApi,
    username: String,
}

impl std::fmt::Debug for ServiceNowApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceNowApi")
            .field("base", &self.api.base().as_str())
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl ServiceNowApi {
    /// A client for the instance at `endpoint` (validated by the config: https, or http on
    /// loopback), as `username` with `token`.
    pub fn new(
        http: reqwest::Client,
        endpoint: &str,
        username: &str,
        token: Secret,
    ) -> Result<Self, ServiceNowError> {
        let base = http::api_base(endpoint.trim_end_matches('/'), "bad instance URL")
            .map_err(|e| ServiceNowError::Other(ServiceError::permanent(e)))?;
        let credentials = Credentials::Basic {
            username: username.to_owned(),
            password: token,
        };
        Ok(Self {
            api: JsonApi::with_credentials(http, base, credentials),
            username: username.to_owned(),
        })
    }

    /// One call; the answer's `result` decoded as `T`.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T, ServiceNowError> {
        let wrapped: Wrapped<T> = self
            .api
            .call_with_query(method, segments, query, body)
            .await?;
        Ok(wrapped.result)
    }

    /// `GET /api/now/table/incident?sysparm_limit=1`: the instance answers and the
    /// credentials may read incidents (Go's health check).
    pub async fn check_health(&self) -> Result<(), ServiceNowError> {
        let query = [("sysparm_limit", "1")];
        self.call::<Value>(Method::GET, INCIDENTS, &query, None)
            .await?;
        Ok(())
    }

    /// `POST /api/now/v1/table/incident`: the new incident's `sys_id`.
    pub async fn create_incident(&self, incident: &NewIncident) -> Result<String, ServiceNowError> {
        let body = to_json(incident)?;
        let created: Created = self
            .call(Method::POST, INCIDENTS_V1, &[], Some(&body))
            .await?;
        if created.sys_id.is_empty() {
            return Err(ServiceNowError::Other(ServiceError::permanent(
                "unexpected answer from ServiceNow: the new incident has no sys_id",
            )));
        }
        Ok(created.sys_id)
    }

    /// `GET /api/now/table/incident?sysparm_query=correlation_id=<id>&sysparm_fields=sys_id&sysparm_limit=1`:
    /// the incident an earlier create opened for a request, if any.
    pub async fn find_incident(
        &self,
        correlation_id: &str,
    ) -> Result<Option<String>, ServiceNowError> {
        let query = format!("correlation_id={correlation_id}");
        let query = [
            ("sysparm_query", query.as_str()),
            ("sysparm_fields", "sys_id"),
            ("sysparm_limit", "1"),
        ];
        let found: Vec<Created> = self.call(Method::GET, INCIDENTS, &query, None).await?;
        Ok(found
            .into_iter()
            .map(|c| c.sys_id)
            .find(|id| !id.is_empty()))
    }

    async fn update_incident(&self, sys_id: &str, body: Value) -> Result<(), ServiceNowError> {
        let segments = [INCIDENTS_V1, &[sys_id]].concat();
        self.call::<Value>(Method::PATCH, &segments, &[], Some(&body))
            .await?;
        Ok(())
    }

    /// `PATCH /api/now/v1/table/incident/{sys_id}` with `work_notes`.
    pub async fn add_work_note(&self, sys_id: &str, note: &str) -> Result<(), ServiceNowError> {
        self.update_incident(sys_id, serde_json::json!({ "work_notes": note }))
            .await
    }

    /// `PATCH /api/now/v1/table/incident/{sys_id}` with the close code, state and notes.
    pub async fn resolve_incident(
        &self,
        sys_id: &str,
        closing: &Closing,
    ) -> Result<(), ServiceNowError> {
        self.update_incident(sys_id, to_json(closing)?).await
    }

    /// `GET /api/now/on_call_rota/whoisoncall?rota_ids=…&date_time=…`: the `sys_id`s of the
    /// users on call in the rota at `date_time` ([`DATE_TIME_LAYOUT`]).
    pub async fn on_call_users(
        &self,
        rota_id: &str,
        date_time: &str,
    ) -> Result<Vec<String>, ServiceNowError> {
        let segments = ["api", "now", "on_call_rota", "whoisoncall"];
        let query = [("rota_ids", rota_id), ("date_time", date_time)];
        let on_call: Vec<OnCall> = self.call(Method::GET, &segments, &query, None).await?;
        Ok(on_call
            .into_iter()
            .map(|o| o.user_id)
            .filter(|id| !id.is_empty())
            .collect())
    }

    /// `GET /api/now/table/sys_user/{sys_id}?sysparm_fields=user_name`.
    pub async fn user_name(&self, user_id: &str) -> Result<String, ServiceNowError> {
        let segments = ["api", "now", "table", "sys_user", user_id];
        let query = [("sysparm_fields", "user_name")];
        let user: UserName = self.call(Method::GET, &segments, &query, None).await?;
        if user.user_name.is_empty() {
            return Err(ServiceNowError::NotFound {
                message: format!("user {user_id} has no user_name"),
            });
        }
        Ok(user.user_name)
    }
}

/// A request body as JSON (never fails for these types; a failure would be for good).
fn to_json(body: &impl Serialize) -> Result<Value, ServiceNowError> {
    serde_json::to_value(body)
        .map_err(|e| ServiceNowError::Other(ServiceError::permanent(e.to_string())))
}

/// ServiceNow's `{"error": {"message", "detail"}}`, as one line.
fn error_message(body: &Value) -> Option<String> {
    let error = body.get("error")?;
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let detail = error
        .get("detail")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let detail = detail.split_whitespace().collect::<Vec<_>>().join(" ");
    match (message.is_empty(), detail.is_empty()) {
        (true, true) => None,
        (false, true) => Some(message.to_owned()),
        (true, false) => Some(detail),
        (false, false) => Some(format!("{message}: {detail}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: Value) -> ServiceError {
        let failure =
            ApiFailure::Answer(Box::new(teleport_plugin_runtime::json_api::FailedAnswer {
                status: StatusCode::from_u16(status).unwrap(),
                headers: reqwest::header::HeaderMap::new(),
                body,
            }));
        ServiceError::from(ServiceNowError::from(failure))
    }

    #[test]
    fn error_bodies_and_classification() {
        let body: Value = serde_json::from_slice(br#"{"error":{"message":"Operation Failed","detail":"Data Policy Exception: \n\tThe following fields are mandatory: Resolution code"},"status":"failure"}"#).unwrap();
        let message = error_message(&body).expect("message");
        assert_eq!(
            message,
            "Operation Failed: Data Policy Exception: The following fields are mandatory: Resolution code"
        );
        let policy = ServiceNowError::Forbidden { message };
        assert!(!policy.is_transient());
        assert!(matches!(answer(403, body), ServiceError::Permanent { .. }));
        let acl = serde_json::json!({ "error": {
            "message": "ACL Exception Insert Failed due to security constraints"
        }});
        assert!(matches!(
            answer(403, acl),
            ServiceError::Unauthorized { .. }
        ));
        assert!(matches!(
            answer(429, Value::Null),
            ServiceError::Transient { .. }
        ));
        assert!(matches!(
            answer(404, Value::Null),
            ServiceError::Permanent { .. }
        ));
        let busy = serde_json::json!({ "error": { "message": "busy" } });
        assert_eq!(
            answer(503, busy),
            ServiceError::answered("ServiceNow answered 503: busy", None)
        );
        assert_eq!(error_message(&Value::Null), None);
    }

    #[test]
    fn a_new_incident_leaves_out_empty_people() {
        let incident = NewIncident {
            short_description: "s".into(),
            description: "d".into(),
            caller_id: String::new(),
            assigned_to: "bob".into(),
            correlation_id: "teleport-access-request/r1".into(),
        };
        assert_eq!(
            serde_json::to_value(&incident).expect("json"),
            serde_json::json!({
                "short_description": "s",
                "description": "d",
                "assigned_to": "bob",
                "correlation_id": "teleport-access-request/r1",
            })
        );
    }
}
