//! PagerDuty REST API v2 client: the calls the plugin makes, one HTTP request each (list
//! calls page through `offset`/`limit`/`more`), with errors sorted by what to do about them.
//!
//! Retries belong to the request handler: a 429 comes back as [`PagerDutyError::RateLimited`]
//! with PagerDuty's `Retry-After`, a 5xx or a network failure as [`PagerDutyError::Transient`].

use std::ops::ControlFlow;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use reqwest::{Method, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::http::{MAX_RESPONSE_BODY, read_body};
use teleport_plugin_runtime::json_api::string_list;
use teleport_plugin_runtime::service_error::{ServiceError, TransportFailure};

/// PagerDuty's versioned media type.
const ACCEPT_V2: &str = "application/vnd.pagerduty+json;version=2";
/// PagerDuty's largest page.
const PAGE_LIMIT: usize = 100;
/// A server that keeps saying `more` is not followed forever.
const MAX_PAGES: usize = 1000;

/// Why a PagerDuty call failed.
#[derive(Debug, thiserror::Error)]
pub enum PagerDutyError {
    /// 429: try again after `retry_after` (PagerDuty's `Retry-After`), or after a backoff.
    #[error("PagerDuty rate limited the call{}", after(*retry_after))]
    RateLimited {
        /// The server's requested wait.
        retry_after: Option<Duration>,
    },
    /// 5xx, connection failure or timeout: worth retrying.
    #[error("transient PagerDuty failure: {reason}")]
    Transient {
        /// What went wrong.
        reason: String,
        /// The server's requested wait (a 503 may carry one).
        retry_after: Option<Duration>,
    },
    /// 401/403: the API key is wrong or lacks rights; fix the config.
    #[error("PagerDuty refused the API key: http error code={status}, message={message}")]
    Auth {
        /// The HTTP status.
        status: u16,
        /// PagerDuty's message.
        message: String,
    },
    /// Another 4xx: retrying the same call will not help.
    #[error(
        "PagerDuty refused the call: http error code={status}, err_code={code}, message={message}, errors={errors:?}"
    )]
    Api {
        /// The HTTP status.
        status: u16,
        /// PagerDuty's error code.
        code: i64,
        /// PagerDuty's message.
        message: String,
        /// PagerDuty's details.
        errors: Vec<String>,
    },
    /// A success answer that cannot be read.
    #[error("unexpected answer from PagerDuty: {reason}")]
    Unexpected {
        /// What was wrong with it.
        reason: String,
    },
}

fn after(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|d| format!("; retry after {}s", d.as_secs_f64()))
        .unwrap_or_default()
}

/// The longest `Retry-After` honoured as given; a longer one waits this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// What the runtime does about a PagerDuty failure: rate limits, 5xx and network trouble are
/// retried; a refused key (401/403) is retried loudly; other refusals of this one call and
/// unreadable answers are not.
impl From<PagerDutyError> for ServiceError {
    fn from(error: PagerDutyError) -> Self {
        let message = error.to_string();
        match error {
            PagerDutyError::RateLimited { retry_after }
            | PagerDutyError::Transient { retry_after, .. } => ServiceError::Transient {
                message,
                retry_after,
                answered: false,
            },
            PagerDutyError::Auth { .. } => ServiceError::Unauthorized { message },
            PagerDutyError::Api { .. } | PagerDutyError::Unexpected { .. } => {
                ServiceError::Permanent { message }
            }
        }
    }
}

impl PagerDutyError {
    /// Whether the same call may succeed later (refused keys included: they are retried).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Transient { .. } | Self::Auth { .. }
        )
    }

    /// How long PagerDuty asked us to wait.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } | Self::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Auth { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A PagerDuty user.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct User {
    /// User ID.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Login e-mail.
    #[serde(default)]
    pub email: String,
}

/// A reference to another object (`{id, type, summary}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Reference {
    /// Its ID.
    #[serde(default)]
    pub id: String,
    /// `user_reference`, `schedule_reference`, ...
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Its name.
    #[serde(default)]
    pub summary: String,
}

/// A service.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Service {
    /// Service ID.
    pub id: String,
    /// Service name.
    #[serde(default)]
    pub name: String,
    /// The escalation policy paged for it.
    #[serde(default)]
    pub escalation_policy: Reference,
}

/// One on-call entry: a user on call at a level of an escalation policy.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct OnCall {
    /// The user.
    #[serde(default)]
    pub user: Reference,
    /// The escalation policy.
    #[serde(default)]
    pub escalation_policy: Reference,
    /// The level, from 1.
    #[serde(default)]
    pub escalation_level: u32,
    /// The schedule that puts the user there, if any.
    #[serde(default)]
    pub schedule: Option<Reference>,
}

/// An incident.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Incident {
    /// Incident ID.
    pub id: String,
    /// `triggered`, `acknowledged` or `resolved`.
    #[serde(default)]
    pub status: String,
    /// The de-duplication key.
    #[serde(default)]
    pub incident_key: Option<String>,
}

/// What an incident is created with.
#[derive(Clone, Debug)]
pub struct NewIncident {
    /// The title.
    pub title: String,
    /// The service to open it on.
    pub service_id: String,
    /// PagerDuty refuses a second open incident with this key on the service.
    pub incident_key: String,
    /// The body text.
    pub details: String,
}

/// A PagerDuty REST API v2 client. Cheap to clone.
#[derive(Clone)]
pub struct PagerDutyApi {
    http: reqwest::Client,
    base: Url,
    authorization: HeaderValue,
    from: HeaderValue,
}

impl std::fmt::Debug for PagerDutyApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagerDutyApi")
            .field("base", &self.base.as_str())
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// The client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ApiSetupError {
    /// The endpoint is not a base URL.
    #[error("invalid PagerDuty API endpoint: {0}")]
    Endpoint(String),
    /// The key or e-mail cannot be sent in a header.
    #[error("{0} contains characters that cannot be sent in an HTTP header")]
    Header(&'static str),
}

impl PagerDutyApi {
    /// A client for `endpoint` (e.g. `https://api.pagerduty.com`) authenticating with
    /// `api_key` and acting as `user_email`, over `http` (see the runtime's `http_client`).
    pub fn new(
        http: reqwest::Client,
        endpoint: &str,
        api_key: &Secret,
        user_email: &str,
    ) -> Result<Self, ApiSetupError> {
        let mut base = Url::parse(endpoint.trim_end_matches('/'))
            .map_err(|e| ApiSetupError::Endpoint(e.to_string()))?;
        if base.cannot_be_a_base() {
            return Err(ApiSetupError::Endpoint(
                "expected an http:// or https:// URL".into(),
            ));
        }
        // Relative joins keep a path prefix only when the base ends with a slash.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut authorization = HeaderValue::from_str(&format!("Token token={}", api_key.expose()))
            .map_err(|_| ApiSetupError::Header("pagerduty.api_key"))?;
        authorization.set_sensitive(true);
        let from = HeaderValue::from_str(user_email)
            .map_err(|_| ApiSetupError::Header("pagerduty.user_email"))?;
        Ok(Self {
            http,
            base,
            authorization,
            from,
        })
    }

    /// The `From` user's e-mail.
    pub fn user_email(&self) -> &str {
        self.from.to_str().unwrap_or_default()
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, PagerDutyError> {
        let mut url = self
            .base
            .join(path)
            .map_err(|e| PagerDutyError::Unexpected {
                reason: format!("cannot build the URL for {path}: {e}"),
            })?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in query {
                pairs.append_pair(key, value);
            }
        }
        Ok(url)
    }

    /// One call; the decoded JSON body of a 2xx answer.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Value, PagerDutyError> {
        let write = method != Method::GET;
        let mut request = self
            .http
            .request(method, url)
            .header(ACCEPT, ACCEPT_V2)
            .header(AUTHORIZATION, self.authorization.clone());
        if write {
            request = request.header("From", self.from.clone());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| PagerDutyError::from_transport(&e))?;
        let status = response.status();
        if status.is_success() {
            let bytes = read_body(response, MAX_RESPONSE_BODY)
                .await
                .map_err(PagerDutyError::from_body)?;
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&bytes).map_err(|e| PagerDutyError::Unexpected {
                reason: format!("the {status} answer is not JSON: {e}"),
            });
        }
        let headers = response.headers().clone();
        let body: Value = read_body(response, MAX_RESPONSE_BODY)
            .await
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let error = &body["error"];
        let message = error["message"].as_str().unwrap_or_default().to_owned();
        Err(match ServiceError::from_status(status, &headers, "") {
            ServiceError::Transient { retry_after, .. } => {
                let after = retry_after.map(|a| a.min(MAX_RETRY_AFTER));
                if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                    PagerDutyError::RateLimited { retry_after: after }
                } else {
                    PagerDutyError::Transient {
                        reason: format!("HTTP {status} {message}").trim_end().to_owned(),
                        retry_after: after,
                    }
                }
            }
            ServiceError::Unauthorized { .. } => PagerDutyError::Auth {
                status: status.as_u16(),
                message,
            },
            ServiceError::Permanent { .. } => PagerDutyError::Api {
                status: status.as_u16(),
                code: error["code"].as_i64().unwrap_or_default(),
                message,
                errors: string_list(&error["errors"]),
            },
        })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        field: &str,
    ) -> Result<T, PagerDutyError> {
        let body = self.call(Method::GET, self.url(path, query)?, None).await?;
        decode(&body, field)
    }

    /// Pages through a list, handing each item to `visit` until it breaks or the list ends.
    async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        field: &str,
        mut visit: impl FnMut(T) -> ControlFlow<()>,
    ) -> Result<(), PagerDutyError> {
        let mut offset = 0usize;
        for _ in 0..MAX_PAGES {
            let limit = PAGE_LIMIT.to_string();
            let offset_text = offset.to_string();
            let mut pairs = query.to_vec();
            pairs.push(("limit", &limit));
            pairs.push(("offset", &offset_text));
            let body = self
                .call(Method::GET, self.url(path, &pairs)?, None)
                .await?;
            let items: Vec<T> = decode(&body, field)?;
            let received = items.len();
            for item in items {
                if visit(item).is_break() {
                    return Ok(());
                }
            }
            if !body["more"].as_bool().unwrap_or(false) || received == 0 {
                return Ok(());
            }
            offset += received;
        }
        tracing::warn!(
            path,
            "PagerDuty kept reporting more pages; stopped after {MAX_PAGES}"
        );
        Ok(())
    }

    /// `GET /abilities`: proves the key works.
    pub async fn abilities(&self) -> Result<Vec<String>, PagerDutyError> {
        self.get("abilities", &[], "abilities").await
    }

    /// The first item of a list that `wanted` accepts, searching page after page.
    async fn find<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        field: &str,
        wanted: impl Fn(&T) -> bool,
    ) -> Result<Option<T>, PagerDutyError> {
        let mut found = None;
        self.list(path, query, field, |item: T| {
            if wanted(&item) {
                found = Some(item);
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .await?;
        Ok(found)
    }

    /// The user whose login e-mail is `email` (any case). PagerDuty's `query` also matches
    /// parts of names and e-mails, so only an exact match counts.
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, PagerDutyError> {
        let query = email.to_lowercase();
        self.find("users", &[("query", &query)], "users", |user: &User| {
            user.email.eq_ignore_ascii_case(email)
        })
        .await
    }

    /// The service named `name` (any case, exact).
    pub async fn find_service_by_name(
        &self,
        name: &str,
    ) -> Result<Option<Service>, PagerDutyError> {
        let query = name.to_lowercase();
        self.find(
            "services",
            &[("query", &query)],
            "services",
            |service: &Service| service.name.eq_ignore_ascii_case(name),
        )
        .await
    }

    /// Where `user_id` is on call now in any of `policy_ids` (every page, this user only).
    pub async fn on_calls(
        &self,
        user_id: &str,
        policy_ids: &[String],
    ) -> Result<Vec<OnCall>, PagerDutyError> {
        if policy_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = vec![("user_ids[]", user_id)];
        query.extend(
            policy_ids
                .iter()
                .map(|id| ("escalation_policy_ids[]", id.as_str())),
        );
        let mut entries = Vec::new();
        self.list("oncalls", &query, "oncalls", |entry: OnCall| {
            if entry.user.kind == "user_reference" && entry.user.id == user_id {
                entries.push(entry);
            }
            ControlFlow::Continue(())
        })
        .await?;
        Ok(entries)
    }

    /// The open incident with `incident_key` on `service_id`, if any.
    pub async fn find_open_incident(
        &self,
        incident_key: &str,
        service_id: &str,
    ) -> Result<Option<Incident>, PagerDutyError> {
        let query = [
            ("incident_key", incident_key),
            ("service_ids[]", service_id),
            ("statuses[]", "triggered"),
            ("statuses[]", "acknowledged"),
        ];
        self.find("incidents", &query, "incidents", |incident: &Incident| {
            incident.incident_key.as_deref() == Some(incident_key) && incident.status != "resolved"
        })
        .await
    }

    /// Opens an incident. PagerDuty refuses a second open incident with the same key on the
    /// service; that refusal (a retry after a lost answer, another process) yields the open one.
    pub async fn create_incident(&self, new: &NewIncident) -> Result<Incident, PagerDutyError> {
        let body = json!({ "incident": {
            "type": "incident",
            "title": new.title,
            "service": { "id": new.service_id, "type": "service_reference" },
            "incident_key": new.incident_key,
            "body": { "type": "incident_body", "details": new.details },
        }});
        match self
            .call(Method::POST, self.url("incidents", &[])?, Some(&body))
            .await
        {
            Ok(answer) => decode(&answer, "incident"),
            Err(
                error @ PagerDutyError::Api {
                    status: 400..=499, ..
                },
            ) => {
                match self
                    .find_open_incident(&new.incident_key, &new.service_id)
                    .await?
                {
                    Some(open) => {
                        tracing::debug!(incident_id = %open.id, "an open incident with this key already exists; using it");
                        Ok(open)
                    }
                    None => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// One incident.
    pub async fn get_incident(&self, id: &str) -> Result<Incident, PagerDutyError> {
        self.get(&format!("incidents/{}", segment(id)), &[], "incident")
            .await
    }

    /// Adds a note to an incident.
    pub async fn add_note(&self, incident_id: &str, content: &str) -> Result<(), PagerDutyError> {
        let body = json!({ "note": { "content": content } });
        let url = self.url(&format!("incidents/{}/notes", segment(incident_id)), &[])?;
        self.call(Method::POST, url, Some(&body)).await.map(drop)
    }

    /// Resolves an incident; one already resolved (by a person, or by an earlier attempt
    /// whose answer was lost) counts as done.
    pub async fn resolve_incident(&self, incident_id: &str) -> Result<(), PagerDutyError> {
        let body = json!({ "incident": { "type": "incident_reference", "status": "resolved" } });
        let url = self.url(&format!("incidents/{}", segment(incident_id)), &[])?;
        match self.call(Method::PUT, url, Some(&body)).await {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .status()
                    .is_some_and(|s| (400..500).contains(&s) && s != 404) =>
            {
                match self.get_incident(incident_id).await {
                    Ok(incident) if incident.status == "resolved" => Ok(()),
                    _ => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }
}

/// IDs come from PagerDuty, but a path segment must still not be able to change the path.
fn segment(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect()
}

fn decode<T: DeserializeOwned>(body: &Value, field: &str) -> Result<T, PagerDutyError> {
    let value = body.get(field).cloned().unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|e| PagerDutyError::Unexpected {
        reason: format!("cannot read {field:?}: {e}"),
    })
}

teleport_plugin_runtime::transport_failure!(PagerDutyError);
