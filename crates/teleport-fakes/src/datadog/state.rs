//! What the fake Datadog remembers: incidents with their timeline cells and state, the
//! permissions of the application key, and the On-Call teams with who is on call.

use serde_json::Value;

/// An incident.
#[derive(Clone, Debug, PartialEq)]
pub struct DdIncident {
    /// Incident ID (UUID-shaped).
    pub id: String,
    /// `attributes.title`.
    pub title: String,
    /// `attributes.fields`, as sent (summary, state, severity, ...), updated by `PATCH`.
    pub fields: Value,
    /// `attributes.notification_handles`' `handle`s, as sent.
    pub notification_handles: Vec<String>,
    /// Markdown timeline cells, oldest first.
    pub timeline: Vec<String>,
}

impl DdIncident {
    /// A string field's value (`fields.<name>.value`), "" when absent.
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .and_then(|f| f.get("value"))
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// A multi-value field's values (`fields.<name>.value`), empty when absent.
    pub fn field_values(&self, name: &str) -> Vec<String> {
        self.fields
            .get(name)
            .and_then(|f| f.get("value"))
            .and_then(Value::as_array)
            .map(|values| {
                values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `fields.state.value`: `active` until resolved.
    pub fn state(&self) -> &str {
        self.field("state")
    }
}

/// An On-Call team.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DdTeam {
    /// Team ID.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Handle.
    pub handle: String,
    /// E-mail addresses of whoever is on call now.
    pub on_call: Vec<String>,
}

/// Everything the fake remembers, for [`FakeDatadog::wait_for`](super::FakeDatadog::wait_for)
/// predicates.
#[derive(Debug, Default)]
pub struct DdState {
    /// Incidents in creation order.
    pub incidents: Vec<DdIncident>,
    /// On-Call teams.
    pub teams: Vec<DdTeam>,
    /// Permissions that are restricted for the application key (e.g. `incident_write`).
    pub restricted: Vec<String>,
    next_id: u64,
}

impl DdState {
    /// A fresh UUID-shaped ID.
    pub(crate) fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("00000000-0000-4000-9000-{:012}", self.next_id)
    }

    /// The incident with this ID.
    pub fn incident(&self, id: &str) -> Option<&DdIncident> {
        self.incidents.iter().find(|i| i.id == id)
    }
}
