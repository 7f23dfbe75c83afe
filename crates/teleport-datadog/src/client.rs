//! A thin Datadog API client: the permissions check, Incident Management (create, search,
//! timeline cells, resolve) and the unstable On-Call teams listing, with typed errors.
//!
//! Each method is exactly one HTTP request; retrying is the runtime's job. Both keys travel
//! in headers (`DD-API-KEY`, `DD-APPLICATION-KEY`) and never appear in an error or a log.

use reqwest::Method;
use reqwest::header::HeaderName;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::http;
use teleport_plugin_runtime::json_api::{Credentials, JsonApi};

/// The permission the plugin cannot work without.
pub const INCIDENT_WRITE: &str = "incident_write";

/// How many hits of an incident search are read: the plugin's queries name one request, so
/// more than a handful means the query matched loosely, and the newest come first.
pub const SEARCH_PAGE_SIZE: usize = 10;

mod error;

pub use error::DatadogError;

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

/// An incident as a search returns it: what tells whose it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FoundIncident {
    /// The incident's ID.
    pub id: String,
    /// The `summary` field's text, "" when it has none.
    pub summary: String,
}

impl FoundIncident {
    /// One hit of `data.attributes.incidents`: the incident under `data` (as Datadog's
    /// schema has it) or, as older answers had it, the incident itself.
    fn of_hit(hit: &Value) -> Self {
        let incident = hit.get("data").unwrap_or(hit);
        let text = |pointer: &str| {
            incident
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            id: text("/id"),
            summary: text("/attributes/fields/summary/value"),
        }
    }
}

/// `data` of a search answer (`type` `incidents_search_results`).
#[derive(Deserialize, Default)]
struct SearchResults {
    #[serde(default)]
    attributes: SearchAttributes,
}

#[derive(Deserialize, Default)]
struct SearchAttributes {
    #[serde(default)]
    incidents: Vec<Value>,
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
    api: JsonApi,
}

impl std::fmt::Debug for DatadogApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatadogApi")
            .field("base", &self.api.base().as_str())
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
            .map_err(DatadogError::permanent)?;
        let credentials = Credentials::Headers(vec![
            (HeaderName::from_static("dd-api-key"), api_key),
            (
                HeaderName::from_static("dd-application-key"),
                application_key,
            ),
        ]);
        Ok(Self {
            api: JsonApi::with_credentials(http, base, credentials),
        })
    }

    /// One call on `api/<version>/<segments...>`, each segment escaped.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: (&str, &[&str]),
        body: Option<&Value>,
    ) -> Result<T, DatadogError> {
        self.call_with_query(method, path, &[], body).await
    }

    /// [`call`](Self::call) with a query string; the answer read within the runtime's bound.
    async fn call_with_query<T: DeserializeOwned>(
        &self,
        method: Method,
        (version, segments): (&str, &[&str]),
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T, DatadogError> {
        let segments = [&["api", version], segments].concat();
        Ok(self
            .api
            .call_with_query(method, &segments, query, body)
            .await?)
    }

    /// `GET api/v2/permissions`: the keys work, and `incident_write` is not restricted.
    pub async fn check_permissions(&self) -> Result<(), DatadogError> {
        let document: Document<Vec<Resource>> = self
            .call(Method::GET, ("v2", &["permissions"]), None)
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
            .call(Method::POST, ("v2", &["incidents"]), Some(&incident.body()))
            .await?;
        if document.data.id.is_empty() {
            return Err(DatadogError::permanent(
                "unexpected answer from Datadog: the created incident has no ID",
            ));
        }
        Ok(document.data.id)
    }

    /// `GET api/v2/incidents/search?query=…&sort=-created&page[size]=…`: the newest
    /// incidents matching `query` (Datadog's search syntax), at most [`SEARCH_PAGE_SIZE`].
    /// Hits are what the search matched, not proof: the caller checks each.
    pub async fn search_incidents(&self, query: &str) -> Result<Vec<FoundIncident>, DatadogError> {
        let page_size = SEARCH_PAGE_SIZE.to_string();
        let query = [
            ("query", query),
            ("sort", "-created"),
            ("page[size]", page_size.as_str()),
        ];
        let document: Document<SearchResults> = self
            .call_with_query(Method::GET, ("v2", &["incidents", "search"]), &query, None)
            .await?;
        Ok(document
            .data
            .attributes
            .incidents
            .iter()
            .take(SEARCH_PAGE_SIZE)
            .map(FoundIncident::of_hit)
            .filter(|found| !found.id.is_empty())
            .collect())
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
        let timeline = ["incidents", incident_id, "timeline"];
        self.call::<Value>(Method::POST, ("v2", &timeline), Some(&body))
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
        let incident = ["incidents", incident_id];
        self.call::<Value>(Method::PATCH, ("v2", &incident), Some(&body))
            .await?;
        Ok(())
    }

    /// `GET api/unstable/on-call/teams`: every team with its on-call people's e-mail
    /// addresses (the users `included` next to the teams).
    pub async fn on_call_teams(&self) -> Result<Vec<OnCallTeam>, DatadogError> {
        let document: Document<Vec<Resource>> = self
            .call(Method::GET, ("unstable", &["on-call", "teams"]), None)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_hit_is_read_wrapped_in_data_or_bare() {
        let incident = json!({
            "id": "inc-1",
            "type": "incidents",
            "attributes": {
                "title": "Access request from bob",
                "fields": { "summary": { "type": "textbox", "value": "ID: r1" } },
            },
        });
        let expected = FoundIncident {
            id: "inc-1".into(),
            summary: "ID: r1".into(),
        };
        assert_eq!(
            FoundIncident::of_hit(&json!({ "data": incident.clone() })),
            expected
        );
        assert_eq!(FoundIncident::of_hit(&incident), expected);
        let no_summary = json!({ "data": { "id": "inc-2", "attributes": { "fields": {
            "summary": { "type": "textbox", "value": null } } } } });
        assert_eq!(FoundIncident::of_hit(&no_summary).summary, "");
    }

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
}
