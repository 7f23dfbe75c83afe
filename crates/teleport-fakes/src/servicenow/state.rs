//! What the fake ServiceNow remembers: users (`sys_user`), on-call rotas with the users on
//! call, and incidents with their work notes and closing fields.

use std::collections::BTreeMap;

/// An incident as the fake keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnIncident {
    /// `sys_id`.
    pub sys_id: String,
    /// `number` (`INC0010001`, ...).
    pub number: String,
    /// `short_description`, as sent.
    pub short_description: String,
    /// `description`, as sent.
    pub description: String,
    /// `caller_id`, as sent ("" when not sent).
    pub caller_id: String,
    /// `correlation_id`, as sent ("" when not sent).
    pub correlation_id: String,
    /// `assigned_to`, as sent ("" when not sent).
    pub assigned_to: String,
    /// `incident_state`: "1" (new) until a PATCH sets it.
    pub incident_state: String,
    /// `close_code`, once a PATCH set it.
    pub close_code: String,
    /// `close_notes`, once a PATCH set it.
    pub close_notes: String,
    /// Every `work_notes` entry, oldest first (ServiceNow keeps them as a journal).
    pub work_notes: Vec<String>,
    /// How many PATCHes changed the incident.
    pub updates: u32,
}

/// Everything the fake remembers, for [`FakeServiceNow::wait_for`](super::FakeServiceNow::wait_for)
/// predicates.
#[derive(Debug, Default)]
pub struct SnState {
    /// Users: `sys_id` → `user_name`.
    pub users: BTreeMap<String, String>,
    /// Rotas: rota `sys_id` → the `sys_id`s of the users on call now.
    pub rotas: BTreeMap<String, Vec<String>>,
    /// Incidents in creation order.
    pub incidents: Vec<SnIncident>,
    /// The `date_time` of every `whoisoncall` call, as sent.
    pub on_call_times: Vec<String>,
    next_id: u64,
}

impl SnState {
    /// A fresh 32-hex-digit `sys_id`.
    pub(crate) fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("{:032x}", 0x5e7_0000_u64 + self.next_id)
    }

    /// The incident with this `sys_id`.
    pub fn incident(&self, sys_id: &str) -> Option<&SnIncident> {
        self.incidents.iter().find(|i| i.sys_id == sys_id)
    }

    /// The incidents whose description mentions `text` (a request ID, say).
    pub fn incidents_mentioning(&self, text: &str) -> Vec<&SnIncident> {
        self.incidents
            .iter()
            .filter(|i| i.description.contains(text))
            .collect()
    }
}

impl SnState {
    /// The incidents with this `correlation_id`, in creation order.
    pub fn incidents_correlated(&self, correlation_id: &str) -> Vec<&SnIncident> {
        self.incidents
            .iter()
            .filter(|i| i.correlation_id == correlation_id)
            .collect()
    }
}
