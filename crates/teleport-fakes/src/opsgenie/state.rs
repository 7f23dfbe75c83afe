//! What the fake Opsgenie remembers: schedules with who is on call, alerts with their
//! notes, and the create requests Opsgenie processes asynchronously.

use std::collections::HashMap;

use serde_json::Value;

/// An on-call schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OgSchedule {
    /// Schedule ID (a UUID).
    pub id: String,
    /// Schedule name (what `scheduleIdentifierType=name` looks up).
    pub name: String,
    /// E-mail addresses of whoever is on call now.
    pub on_call: Vec<String>,
}

/// An alert.
#[derive(Clone, Debug, PartialEq)]
pub struct OgAlert {
    /// Alert ID.
    pub id: String,
    /// `alias`: open alerts with the same alias are de-duplicated.
    pub alias: String,
    /// `message` (the title).
    pub message: String,
    /// `description`.
    pub description: String,
    /// `responders`, as sent.
    pub responders: Vec<Value>,
    /// `priority`, as sent ("" when not sent).
    pub priority: String,
    /// Notes, oldest first.
    pub notes: Vec<String>,
    /// Whether the alert was closed, and the close note (`Some("")` without one).
    pub closed: Option<String>,
    /// How many creates were de-duplicated into this alert (1 for a single create).
    pub count: u32,
}

/// A create request still being processed, or done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OgRequest {
    pub(crate) alert_id: String,
    pub(crate) alias: String,
    /// Polls of `alerts/requests/{id}` still answered 404 "not processed yet".
    pub(crate) polls_left: u32,
}

/// Everything the fake remembers, for [`FakeOpsgenie::wait_for`](super::FakeOpsgenie::wait_for)
/// predicates.
#[derive(Debug, Default)]
pub struct OgState {
    /// Schedules.
    pub schedules: Vec<OgSchedule>,
    /// Alerts in creation order.
    pub alerts: Vec<OgAlert>,
    pub(crate) requests: HashMap<String, OgRequest>,
    next_id: u64,
}

impl OgState {
    /// A fresh UUID-shaped ID.
    pub(crate) fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("00000000-0000-4000-8000-{:012}", self.next_id)
    }

    /// The alert with this ID.
    pub fn alert(&self, id: &str) -> Option<&OgAlert> {
        self.alerts.iter().find(|a| a.id == id)
    }

    /// The alert with this alias (the newest, open or not).
    pub fn alert_by_alias(&self, alias: &str) -> Option<&OgAlert> {
        self.alerts.iter().rev().find(|a| a.alias == alias)
    }
}
