//! Jira REST API v2 client: the calls the plugin makes, one HTTP request each (lists page),
//! with errors sorted by what to do about them (`error.rs`); searching is in `search.rs`.
//!
//! Retries belong to the callers: a 429 comes back as [`JiraError::RateLimited`] with
//! Jira's `Retry-After`, a 5xx or a network failure as [`JiraError::Transient`].

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::atomic::AtomicU8;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use teleport_plugin_runtime::config::Secret;

use teleport_plugin_runtime::http::{MAX_RESPONSE_BODY, api_url, read_body};

use crate::error::status_error;
use teleport_plugin_runtime::service_error::TransportFailure;

pub use crate::error::JiraError;
pub use crate::search::{Search, SearchApi};
pub use crate::types::{Changelog, Comment, Issue, IssueFields, JiraUser, Status, Transition};

/// Comments per page.
const COMMENT_PAGE: usize = 100;
/// A server that keeps announcing more pages is not followed forever.
pub(crate) const MAX_PAGES: usize = 50;

/// What a new issue is made of.
#[derive(Clone, Debug)]
pub struct NewIssue {
    /// The project key.
    pub project: String,
    /// The issue type name.
    pub issue_type: String,
    /// The summary.
    pub summary: String,
    /// The description (wiki markup).
    pub description: String,
    /// Entity properties to set (`teleportAccessRequestId`).
    pub properties: Vec<(String, String)>,
}

/// The IDs of a created issue.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CreatedIssue {
    /// Numeric ID.
    pub id: String,
    /// `PROJ-123`.
    pub key: String,
}

/// A project.
#[derive(Clone, Debug, Deserialize)]
pub struct Project {
    /// Its key.
    #[serde(default)]
    pub key: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its issue types, when Jira lists them.
    #[serde(default, rename = "issueTypes")]
    pub issue_types: Option<Vec<Named>>,
}

/// Anything with a `name`.
#[derive(Clone, Debug, Deserialize)]
pub struct Named {
    /// The name.
    #[serde(default)]
    pub name: String,
}

/// A Jira REST API v2 client. Cheap to clone.
#[derive(Clone)]
pub struct JiraClient {
    http: reqwest::Client,
    base: Url,
    authorization: HeaderValue,
    pub(crate) search_api: std::sync::Arc<AtomicU8>,
}

impl std::fmt::Debug for JiraClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// The client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientSetupError {
    /// The URL is not a base URL.
    #[error("invalid Jira URL: {0}")]
    Url(String),
    /// The credentials cannot be sent in a header.
    #[error(
        "jira.username or jira.api_token contains characters that cannot be sent in an HTTP header"
    )]
    Header,
}

/// Which search endpoint works, as stored in `search_api`: not known yet, `search/jql`, classic.
pub(crate) const UNKNOWN: u8 = 0;
pub(crate) const JQL: u8 = 1;
pub(crate) const CLASSIC: u8 = 2;

impl JiraClient {
    /// A client for the site at `url` authenticating as `username` with `token`, over `http`.
    pub fn new(
        http: reqwest::Client,
        url: &str,
        username: &str,
        token: &Secret,
    ) -> Result<Self, ClientSetupError> {
        let mut base = Url::parse(url.trim_end_matches('/'))
            .map_err(|e| ClientSetupError::Url(e.to_string()))?;
        if base.cannot_be_a_base() {
            return Err(ClientSetupError::Url("expected an https:// URL".into()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        use base64::Engine;
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{username}:{}", token.expose()));
        let mut authorization = HeaderValue::from_str(&format!("Basic {credentials}"))
            .map_err(|_| ClientSetupError::Header)?;
        authorization.set_sensitive(true);
        Ok(Self {
            http,
            base,
            authorization,
            search_api: std::sync::Arc::new(AtomicU8::new(UNKNOWN)),
        })
    }

    /// `rest/api/2/<path>` under the site's URL, each segment escaped.
    pub(crate) fn url(&self, path: &[&str], query: &[(&str, &str)]) -> Url {
        let segments = [&["rest", "api", "2"], path].concat();
        api_url(&self.base, &segments, query)
    }

    /// One call: the response of a 2xx answer, or the error.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<reqwest::Response, JiraError> {
        let mut request = self
            .http
            .request(method, url)
            .header(ACCEPT, "application/json")
            .header(AUTHORIZATION, self.authorization.clone());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| JiraError::from_transport(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let text = read_body(response, MAX_RESPONSE_BODY)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        Err(status_error(status, &headers, &text))
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Value, JiraError> {
        let response = self.send(method, url, body).await?;
        let status = response.status();
        let bytes = read_body(response, MAX_RESPONSE_BODY)
            .await
            .map_err(JiraError::from_body)?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| JiraError::Unexpected {
            reason: format!("the {status} answer is not JSON: {e}"),
        })
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, JiraError> {
        let value = self.call(Method::GET, self.url(path, query), None).await?;
        decode(value)
    }

    /// `GET rest/api/2/myself`; Go's check that the URL is a Jira API (a JSON answer).
    pub async fn myself(&self) -> Result<JiraUser, JiraError> {
        let response = self
            .send(Method::GET, self.url(&["myself"], &[]), None)
            .await?;
        let json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(JiraError::Unexpected {
                reason: "the answer is not JSON; is jira.url the Jira site?".into(),
            });
        }
        let bytes = read_body(response, MAX_RESPONSE_BODY)
            .await
            .map_err(JiraError::from_body)?;
        serde_json::from_slice(&bytes).map_err(|e| JiraError::Unexpected {
            reason: e.to_string(),
        })
    }

    /// `GET rest/api/2/project/{key}`.
    pub async fn project(&self, key: &str) -> Result<Project, JiraError> {
        self.get(&["project", key], &[]).await
    }

    /// `GET rest/api/2/mypermissions`: which of `permissions` the user has in `project`.
    pub async fn my_permissions(
        &self,
        project: &str,
        permissions: &[&str],
    ) -> Result<BTreeMap<String, bool>, JiraError> {
        let wanted = permissions.join(",");
        let value: Value = self
            .get(
                &["mypermissions"],
                &[("projectKey", project), ("permissions", &wanted)],
            )
            .await?;
        Ok(permissions
            .iter()
            .map(|p| {
                let have = value["permissions"][*p]["havePermission"]
                    .as_bool()
                    .unwrap_or(false);
                ((*p).to_owned(), have)
            })
            .collect())
    }

    /// `POST rest/api/2/issue`.
    pub async fn create_issue(&self, issue: &NewIssue) -> Result<CreatedIssue, JiraError> {
        let properties: Vec<Value> = issue
            .properties
            .iter()
            .map(|(key, value)| json!({ "key": key, "value": value }))
            .collect();
        let body = json!({
            "fields": {
                "project": { "key": issue.project },
                "issuetype": { "name": issue.issue_type },
                "summary": issue.summary,
                "description": issue.description,
            },
            "properties": properties,
        });
        let value = self
            .call(Method::POST, self.url(&["issue"], &[]), Some(&body))
            .await?;
        decode(value)
    }

    /// `GET rest/api/2/issue/{id}` with its status, changelog, transitions and `property`.
    pub async fn get_issue(&self, id: &str, property: &str) -> Result<Issue, JiraError> {
        self.get(
            &["issue", id],
            &[
                ("fields", "status"),
                ("expand", "changelog,transitions"),
                ("properties", property),
            ],
        )
        .await
    }

    /// `POST rest/api/2/issue/{id}/comment`.
    pub async fn add_comment(&self, id: &str, body: &str) -> Result<(), JiraError> {
        let url = self.url(&["issue", id, "comment"], &[]);
        self.call(Method::POST, url, Some(&json!({ "body": body })))
            .await?;
        Ok(())
    }

    /// The issue's comments, newest first, until `visit` breaks or they run out.
    pub async fn comments_newest_first(
        &self,
        id: &str,
        mut visit: impl FnMut(&Comment) -> ControlFlow<()>,
    ) -> Result<(), JiraError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            comments: Vec<Comment>,
            #[serde(default)]
            total: Option<usize>,
        }
        let path = ["issue", id, "comment"];
        let mut start = 0;
        for _ in 0..MAX_PAGES {
            let start_text = start.to_string();
            let max = COMMENT_PAGE.to_string();
            let page: Page = self
                .get(
                    &path,
                    &[
                        ("startAt", &start_text),
                        ("maxResults", &max),
                        ("orderBy", "-created"),
                    ],
                )
                .await?;
            let received = page.comments.len();
            for comment in &page.comments {
                if visit(comment).is_break() {
                    return Ok(());
                }
            }
            start += received;
            if received == 0 || page.total.is_some_and(|total| start >= total) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// `POST rest/api/2/issue/{id}/transitions`.
    pub async fn transition(&self, id: &str, transition_id: &str) -> Result<(), JiraError> {
        let url = self.url(&["issue", id, "transitions"], &[]);
        let body = json!({ "transition": { "id": transition_id } });
        self.call(Method::POST, url, Some(&body)).await?;
        Ok(())
    }
}

pub(crate) fn decode<T: DeserializeOwned>(value: Value) -> Result<T, JiraError> {
    serde_json::from_value(value).map_err(|e| JiraError::Unexpected {
        reason: format!("cannot read the answer: {e}"),
    })
}
