//! A thin Datadog API client: the permissions check, Incident Management (create, timeline
//! cells, resolve) and the unstable On-Call teams listing, with typed errors.
//!
//! Each method is exactly one HTTP request; retrying is the runtime's job. Both keys travel
//! in headers (`DD-API-KEY`, `DD-APPLICATION-KEY`) and never appear in an error or a log.

use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::http::{self, MAX_RESPONSE_BODY, read_body};
use teleport_plugin_runtime::service_error;

/// The permission the plugin cannot work without.
pub const INCIDENT_WRITE: &str = "incident_write";

mod error;

pub use error::DatadogError;

/// The longest pause a rate limit may impose (Datadog's windows are a minute or so).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// A new incident, as the Go plugin fills it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewIncident {
    /// `Access request from <user>`.
    pub title: String,
    /// The `summary` field.
    pub summary: String,
    /// The `severity` field.
    pub severity: String,
    /// The `root_cause` field: the request reason.
    pub root_cause: String,
    /// The `teams` field.
    pub teams: Vec<String>,
    /// `notification_handles`: `@<email>`.
    pub notification_handles: Vec<String>,
}

impl NewIncident {
    fn body(&self) -> Value {
        let text = |kind: &str, value: &str| json!({ "type": kind, "value": value });
        let handles: Vec<Value> = self
            .notification_handles
            .iter()
            .map(|h| json!({ "handle": h }))
            .collect();
        let mut attributes = json!({
            "title": self.title,
            "fields": {
                "summary": text("textbox", &self.summary),
                "state": text("dropdown", "active"),
                "detection_method": text("dropdown", "employee"),
                "severity": text("dropdown", &self.severity),
                "root_cause": text("textbox", &self.root_cause),
                "teams": { "type": "multiselect", "value": self.teams },
            },
        });
        // As Go's `omitempty`: no handles, no key.
        if !handles.is_empty() {
            attributes["notification_handles"] = Value::Array(handles);
        }
        json!({ "data": { "type": "incidents", "attributes": attributes } })
    }
}

/// An On-Call team and the e-mail addresses of whoever is on call in it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnCallTeam {
    /// Display name.
    pub name: String,
    /// Handle.
    pub handle: String,
    /// On-call people's e-mail addresses.
    pub on_call: Vec<String>,
}

#[derive(Deserialize)]
struct Document<T> {
    data: T,
    #[serde(default)]
    included: Vec<Resource>,
}

#[derive(Deserialize, Default)]
struct Resource {
    #[serde(default)]
    id: String,
    #[serde(default)]
    attributes: Value,
    #[serde(default)]
    relationships: Value,
}

/// The client. Cheap to clone.
#[derive(Clone)]
pub struct DatadogApi {
    http: reqwest::Client,
    base: Url,
    api_key: HeaderValue,
    application_key: HeaderValue,
}

/// A key as a header value marked sensitive (kept out of any HTTP-level debug output).
fn key_header(key: &Secret, name: &str) -> Result<HeaderValue, DatadogError> {
    let mut value = HeaderValue::from_str(key.expose())
        .map_err(|_| DatadogError::Decode(format!("the {name} is not a valid header value")))?;
    value.set_sensitive(true);
    Ok(value)
}

impl std::fmt::Debug for DatadogApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatadogApi")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl DatadogApi {
    /// A client for the API at `endpoint` (e.g. `https://api.datadoghq.com`).
    pub fn new(
        http: reqwest::Client,
        endpoint: &str,
        api_key: Secret,
        application_key: Secret,
    ) -> Result<Self, DatadogError> {
        let base = http::api_base(endpoint.trim_end_matches('/'), "bad API endpoint")
            .map_err(DatadogError::Decode)?;
        Ok(Self {
            http,
            base,
            api_key: key_header(&api_key, "API key")?,
            application_key: key_header(&application_key, "application key")?,
        })
    }

    /// `<endpoint>/api/<version>/<segments...>`, each segment escaped.
    fn url(&self, version: &str, segments: &[&str]) -> Url {
        http::api_url(&self.base, &[&["api", version], segments].concat(), &[])
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<T, DatadogError> {
        let mut request = self
            .http
            .request(method, url)
            .header("DD-API-KEY", self.api_key.clone())
            .header("DD-APPLICATION-KEY", self.application_key.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| DatadogError::Network(http::without_url(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = read_body(response, MAX_RESPONSE_BODY).await;
        if status.is_success() {
            let bytes = bytes.map_err(|e| DatadogError::Network(e.to_string()))?;
            let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
            return serde_json::from_slice(bytes).map_err(|e| DatadogError::Decode(e.to_string()));
        }
        let message = bytes
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| {
                v.get("errors").and_then(Value::as_array).map(|errors| {
                    errors
                        .iter()
                        .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
            })
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                DatadogError::Unauthorized { message }
            }
            StatusCode::NOT_FOUND => DatadogError::NotFound { message },
            StatusCode::TOO_MANY_REQUESTS => DatadogError::RateLimited {
                retry_after: rate_limit_wait(&headers).map(|d| d.min(MAX_RETRY_AFTER)),
            },
            s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => DatadogError::Server {
                status: s.as_u16(),
                message,
            },
            s => DatadogError::Refused {
                status: s.as_u16(),
                message,
            },
        })
    }

    /// `GET api/v2/permissions`: the keys work, and `incident_write` is not restricted.
    pub async fn check_permissions(&self) -> Result<(), DatadogError> {
        let document: Document<Vec<Resource>> = self
            .call(Method::GET, self.url("v2", &["permissions"]), None)
            .await?;
        let restricted = document.data.iter().any(|p| {
            p.attributes.get("name").and_then(Value::as_str) == Some(INCIDENT_WRITE)
                && p.attributes.get("restricted").and_then(Value::as_bool) == Some(true)
        });
        if restricted {
            return Err(DatadogError::MissingPermission);
        }
        Ok(())
    }

    /// `POST api/v2/incidents`: the new incident's ID.
    pub async fn create_incident(&self, incident: &NewIncident) -> Result<String, DatadogError> {
        let document: Document<Resource> = self
            .call(
                Method::POST,
                self.url("v2", &["incidents"]),
                Some(incident.body()),
            )
            .await?;
        if document.data.id.is_empty() {
            return Err(DatadogError::Decode(
                "the created incident has no ID".into(),
            ));
        }
        Ok(document.data.id)
    }

    /// `POST api/v2/incidents/{id}/timeline`: a Markdown cell.
    pub async fn add_timeline_cell(
        &self,
        incident_id: &str,
        markdown: &str,
    ) -> Result<(), DatadogError> {
        let body = json!({
            "data": {
                "type": "incident_timeline_cells",
                "attributes": { "cell_type": "markdown", "content": { "content": markdown } },
            }
        });
        self.call::<Value>(
            Method::POST,
            self.url("v2", &["incidents", incident_id, "timeline"]),
            Some(body),
        )
        .await?;
        Ok(())
    }

    /// `PATCH api/v2/incidents/{id}`: the `state` field set to `resolved`.
    pub async fn resolve_incident(&self, incident_id: &str) -> Result<(), DatadogError> {
        let body = json!({
            "data": {
                "id": incident_id,
                "type": "incidents",
                "attributes": { "fields": { "state": { "type": "dropdown", "value": "resolved" } } },
            }
        });
        self.call::<Value>(
            Method::PATCH,
            self.url("v2", &["incidents", incident_id]),
            Some(body),
        )
        .await?;
        Ok(())
    }

    /// `GET api/unstable/on-call/teams`: every team with its on-call people's e-mail
    /// addresses (the users `included` next to the teams).
    pub async fn on_call_teams(&self) -> Result<Vec<OnCallTeam>, DatadogError> {
        let document: Document<Vec<Resource>> = self
            .call(
                Method::GET,
                self.url("unstable", &["on-call", "teams"]),
                None,
            )
            .await?;
        let email_of = |user_id: &str| {
            document
                .included
                .iter()
                .find(|u| u.id == user_id)
                .and_then(|u| u.attributes.get("email").and_then(Value::as_str))
                .map(str::to_owned)
        };
        let text = |value: &Value, key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Ok(document
            .data
            .iter()
            .map(|team| OnCallTeam {
                name: text(&team.attributes, "name"),
                handle: text(&team.attributes, "handle"),
                on_call: team
                    .relationships
                    .pointer("/oncall_users/data")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|u| u.get("id").and_then(Value::as_str))
                    .filter_map(email_of)
                    .collect(),
            })
            .collect())
    }
}

/// How long a 429 asks to wait: `Retry-After`, else Datadog's own `X-RateLimit-Reset`
/// (seconds until the window resets).
fn rate_limit_wait(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    service_error::retry_after(headers).or_else(|| {
        headers
            .get("X-RateLimit-Reset")?
            .to_str()
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
            .map(Duration::from_secs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_body_has_go_fields() {
        let incident = NewIncident {
            title: "Access request from alice@example.com".into(),
            summary: "summary".into(),
            severity: "SEV-3".into(),
            root_cause: "deploy".into(),
            teams: vec!["platform".into()],
            notification_handles: vec!["@bob@example.com".into()],
        };
        let body = incident.body();
        let attributes = &body["data"]["attributes"];
        assert_eq!(body["data"]["type"], "incidents");
        assert_eq!(attributes["fields"]["state"]["value"], "active");
        assert_eq!(
            attributes["fields"]["detection_method"]["value"],
            "employee"
        );
        assert_eq!(attributes["fields"]["severity"]["type"], "dropdown");
        assert_eq!(attributes["fields"]["root_cause"]["value"], "deploy");
        assert_eq!(
            attributes["fields"]["teams"],
            json!({ "type": "multiselect", "value": ["platform"] })
        );
        assert_eq!(
            attributes["notification_handles"],
            json!([{ "handle": "@bob@example.com" }])
        );
    }

    #[test]
    fn rate_limit_wait_reads_retry_after_then_datadogs_reset() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("X-RateLimit-Reset", "7".parse().unwrap());
        assert_eq!(rate_limit_wait(&headers), Some(Duration::from_secs(7)));
        headers.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(rate_limit_wait(&headers), Some(Duration::from_secs(2)));
    }
}
