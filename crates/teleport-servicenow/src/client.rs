//! A thin ServiceNow REST client: the Table API calls on `incident` and `sys_user`, and the
//! on-call scheduling API's `whoisoncall`, with typed errors.
//!
//! Each method is exactly one HTTP request; retrying is the runtime's job. Every answer is
//! read with the runtime's size bound, and every failure maps to a [`ServiceError`] in one
//! place ([`From<ServiceNowError>`](ServiceNowError)).

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::http::{self, BodyError, MAX_RESPONSE_BODY, read_body};
use teleport_plugin_runtime::service_error::{self, ServiceError};

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
    /// 429.
    #[error("rate limited by ServiceNow")]
    RateLimited {
        /// How long to wait, when ServiceNow said.
        retry_after: Option<Duration>,
    },
    /// 5xx, or 408.
    #[error("ServiceNow server error {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// ServiceNow's message.
        message: String,
    },
    /// Another 4xx.
    #[error("ServiceNow refused the call with {status}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// ServiceNow's message.
        message: String,
    },
    /// The instance could not be reached or did not answer in time.
    #[error("cannot reach ServiceNow: {0}")]
    Network(String),
    /// The answer was not what the API documents.
    #[error("unexpected answer from ServiceNow: {0}")]
    Decode(String),
}

impl ServiceNowError {
    /// Whether trying again may succeed (the runtime retries these).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unauthorized { .. }
                | Self::RateLimited { .. }
                | Self::Server { .. }
                | Self::Network(_)
        ) || self.is_acl()
    }

    /// A 403 from an ACL (not a data policy): the plugin's user lacks a role, which an
    /// administrator can grant; the call may pass later.
    fn is_acl(&self) -> bool {
        matches!(self, Self::Forbidden { message } if !message.contains("Data Policy"))
    }
}

/// What the runtime does about a ServiceNow failure: refused credentials and ACL refusals are
/// retried loudly (an administrator can fix them), rate limits, server errors and network
/// trouble quietly; a data-policy refusal, a missing record and other 4xx are not retried.
impl From<ServiceNowError> for ServiceError {
    fn from(error: ServiceNowError) -> Self {
        let acl = error.is_acl();
        let message = error.to_string();
        match error {
            ServiceNowError::Unauthorized { .. } => ServiceError::Unauthorized { message },
            ServiceNowError::Forbidden { .. } if acl => ServiceError::Unauthorized { message },
            ServiceNowError::RateLimited { retry_after } => ServiceError::Transient {
                message,
                retry_after,
            },
            ServiceNowError::Server { .. } | ServiceNowError::Network(_) => {
                ServiceError::transient(message)
            }
            ServiceNowError::Forbidden { .. }
            | ServiceNowError::NotFound { .. }
            | ServiceNowError::Refused { .. }
            | ServiceNowError::Decode(_) => ServiceError::Permanent { message },
        }
    }
}

/// The client. Cheap to clone.
#[derive(Clone)]
pub struct ServiceNowApi {
    http: reqwest::Client,
    base: Url,
    username: String,
    token: Secret,
}

impl std::fmt::Debug for ServiceNowApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceNowApi")
            .field("base", &self.base.as_str())
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
            .map_err(ServiceNowError::Decode)?;
        Ok(Self {
            http,
            base,
            username: username.to_owned(),
            token,
        })
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        http::api_url(&self.base, segments, query)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<T, ServiceNowError> {
        let mut request = self
            .http
            .request(method, url)
            .basic_auth(&self.username, Some(self.token.expose()))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ServiceNowError::Network(http::without_url(&e)))?;
        let status = response.status();
        let retry_after = service_error::retry_after(response.headers());
        let bytes = read_body(response, MAX_RESPONSE_BODY)
            .await
            .map_err(|e| match e {
                BodyError::Read(e) => ServiceNowError::Network(http::without_url(&e)),
                other => ServiceNowError::Decode(other.to_string()),
            })?;
        if status.is_success() {
            return serde_json::from_slice::<Wrapped<T>>(&bytes)
                .map(|w| w.result)
                .map_err(|e| ServiceNowError::Decode(e.to_string()));
        }
        let message = error_message(&bytes)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        Err(match status {
            StatusCode::UNAUTHORIZED => ServiceNowError::Unauthorized { message },
            StatusCode::FORBIDDEN => ServiceNowError::Forbidden { message },
            StatusCode::NOT_FOUND => ServiceNowError::NotFound { message },
            StatusCode::TOO_MANY_REQUESTS => ServiceNowError::RateLimited { retry_after },
            s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => {
                ServiceNowError::Server {
                    status: s.as_u16(),
                    message,
                }
            }
            s => ServiceNowError::Refused {
                status: s.as_u16(),
                message,
            },
        })
    }

    /// `GET /api/now/table/incident?sysparm_limit=1`: the instance answers and the
    /// credentials may read incidents (Go's health check).
    pub async fn check_health(&self) -> Result<(), ServiceNowError> {
        let url = self.url(
            &["api", "now", "table", "incident"],
            &[("sysparm_limit", "1")],
        );
        self.call::<Value>(Method::GET, url, None).await?;
        Ok(())
    }

    /// `POST /api/now/v1/table/incident`: the new incident's `sys_id`.
    pub async fn create_incident(&self, incident: &NewIncident) -> Result<String, ServiceNowError> {
        let body =
            serde_json::to_value(incident).map_err(|e| ServiceNowError::Decode(e.to_string()))?;
        let url = self.url(&["api", "now", "v1", "table", "incident"], &[]);
        let created: Created = self.call(Method::POST, url, Some(body)).await?;
        if created.sys_id.is_empty() {
            return Err(ServiceNowError::Decode(
                "the new incident has no sys_id".into(),
            ));
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
        let url = self.url(
            &["api", "now", "table", "incident"],
            &[
                ("sysparm_query", query.as_str()),
                ("sysparm_fields", "sys_id"),
                ("sysparm_limit", "1"),
            ],
        );
        let found: Vec<Created> = self.call(Method::GET, url, None).await?;
        Ok(found
            .into_iter()
            .map(|c| c.sys_id)
            .find(|id| !id.is_empty()))
    }

    async fn update_incident(&self, sys_id: &str, body: Value) -> Result<(), ServiceNowError> {
        let url = self.url(&["api", "now", "v1", "table", "incident", sys_id], &[]);
        self.call::<Value>(Method::PATCH, url, Some(body)).await?;
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
        let body =
            serde_json::to_value(closing).map_err(|e| ServiceNowError::Decode(e.to_string()))?;
        self.update_incident(sys_id, body).await
    }

    /// `GET /api/now/on_call_rota/whoisoncall?rota_ids=…&date_time=…`: the `sys_id`s of the
    /// users on call in the rota at `date_time` ([`DATE_TIME_LAYOUT`]).
    pub async fn on_call_users(
        &self,
        rota_id: &str,
        date_time: &str,
    ) -> Result<Vec<String>, ServiceNowError> {
        let url = self.url(
            &["api", "now", "on_call_rota", "whoisoncall"],
            &[("rota_ids", rota_id), ("date_time", date_time)],
        );
        let on_call: Vec<OnCall> = self.call(Method::GET, url, None).await?;
        Ok(on_call
            .into_iter()
            .map(|o| o.user_id)
            .filter(|id| !id.is_empty())
            .collect())
    }

    /// `GET /api/now/table/sys_user/{sys_id}?sysparm_fields=user_name`.
    pub async fn user_name(&self, user_id: &str) -> Result<String, ServiceNowError> {
        let url = self.url(
            &["api", "now", "table", "sys_user", user_id],
            &[("sysparm_fields", "user_name")],
        );
        let user: UserName = self.call(Method::GET, url, None).await?;
        if user.user_name.is_empty() {
            return Err(ServiceNowError::NotFound {
                message: format!("user {user_id} has no user_name"),
            });
        }
        Ok(user.user_name)
    }
}

/// ServiceNow's `{"error": {"message", "detail"}}`, as one line.
fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
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

    #[test]
    fn error_bodies_and_classification() {
        let body = br#"{"error":{"message":"Operation Failed","detail":"Data Policy Exception: \n\tThe following fields are mandatory: Resolution code"},"status":"failure"}"#;
        let message = error_message(body).expect("message");
        assert_eq!(
            message,
            "Operation Failed: Data Policy Exception: The following fields are mandatory: Resolution code"
        );
        let policy = ServiceNowError::Forbidden { message };
        assert!(!policy.is_transient());
        assert!(matches!(
            ServiceError::from(policy),
            ServiceError::Permanent { .. }
        ));
        let acl = ServiceNowError::Forbidden {
            message: "ACL Exception Insert Failed due to security constraints".into(),
        };
        assert!(matches!(
            ServiceError::from(acl),
            ServiceError::Unauthorized { .. }
        ));
        assert!(matches!(
            ServiceError::from(ServiceNowError::RateLimited {
                retry_after: Some(Duration::from_secs(2))
            }),
            ServiceError::Transient {
                retry_after: Some(_),
                ..
            }
        ));
        assert!(matches!(
            ServiceError::from(ServiceNowError::NotFound {
                message: String::new()
            }),
            ServiceError::Permanent { .. }
        ));
        assert_eq!(error_message(b"<html>"), None);
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
