//! What the fake PagerDuty holds: its directory (users, escalation policies, services,
//! on-call entries), the incidents with their notes, and every call it received.

use serde_json::Value;

/// A PagerDuty user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeUser {
    /// User ID, e.g. `PU0001`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Login e-mail; what `GET /users?query=` and the `From` header are matched against.
    pub email: String,
}

/// An escalation policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeEscalationPolicy {
    /// Policy ID, e.g. `PE0001`.
    pub id: String,
    /// Policy name.
    pub name: String,
}

/// A service, which pages through one escalation policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeService {
    /// Service ID, e.g. `PS0001`.
    pub id: String,
    /// Service name.
    pub name: String,
    /// The escalation policy it uses.
    pub escalation_policy_id: String,
}

/// The schedule an on-call entry comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeSchedule {
    /// Schedule ID, e.g. `PSCH001`.
    pub id: String,
    /// Schedule name (the reference's `summary`).
    pub name: String,
}

/// "This user is on call now at this level of this policy."
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeOnCall {
    /// The user on call.
    pub user_id: String,
    /// The escalation policy.
    pub escalation_policy_id: String,
    /// The escalation level, from 1.
    pub escalation_level: u32,
    /// The schedule that puts the user there; `None` when the user is named directly in
    /// the escalation rule.
    pub schedule: Option<FakeSchedule>,
}

/// A note on an incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeNote {
    /// Note ID.
    pub id: String,
    /// The text.
    pub content: String,
    /// The `From` header of the call that added it.
    pub from: String,
}

/// An incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeIncident {
    /// Incident ID, e.g. `PI0001`.
    pub id: String,
    /// Sequential number, from 1.
    pub number: u64,
    /// The title.
    pub title: String,
    /// `triggered`, `acknowledged` or `resolved`.
    pub status: String,
    /// The de-duplication key, if one was given.
    pub incident_key: Option<String>,
    /// The service it was opened on.
    pub service_id: String,
    /// `body.details`, if given.
    pub details: Option<String>,
    /// The `From` header of the call that created it.
    pub created_by: String,
    /// Notes, oldest first.
    pub notes: Vec<FakeNote>,
    /// Every status change by `PUT /incidents/{id}`: (new status, `From` header).
    pub status_changes: Vec<(String, String)>,
}

impl FakeIncident {
    /// Whether the incident is still open (not resolved).
    pub fn is_open(&self) -> bool {
        self.status != "resolved"
    }
}

/// One HTTP call the fake received, faulted ones included.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedCall {
    /// The API method name used for counts and faults, e.g. `POST /incidents` or
    /// `PUT /incidents/{id}`.
    pub method: String,
    /// The request path, e.g. `/incidents/PI0001`.
    pub path: String,
    /// The query pairs in order (repeated keys such as `user_ids[]` appear once per value).
    pub query: Vec<(String, String)>,
    /// The `From` header, if sent.
    pub from: Option<String>,
    /// The JSON body, if there was one.
    pub body: Option<Value>,
    /// The HTTP status the fake answered with.
    pub status: u16,
}

impl RecordedCall {
    /// Every value of query parameter `key`.
    pub fn query_values(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// The fake's whole state, readable by [`wait_for`](super::FakePagerDuty::wait_for) predicates.
#[derive(Debug, Default)]
pub struct PagerDutyState {
    pub(crate) users: Vec<FakeUser>,
    pub(crate) policies: Vec<FakeEscalationPolicy>,
    pub(crate) services: Vec<FakeService>,
    pub(crate) oncalls: Vec<FakeOnCall>,
    pub(crate) incidents: Vec<FakeIncident>,
    pub(crate) calls: Vec<RecordedCall>,
    next_id: u64,
}

impl PagerDutyState {
    /// Users, in the order they were added.
    pub fn users(&self) -> &[FakeUser] {
        &self.users
    }

    /// Services, in the order they were added.
    pub fn services(&self) -> &[FakeService] {
        &self.services
    }

    /// Incidents, in creation order.
    pub fn incidents(&self) -> &[FakeIncident] {
        &self.incidents
    }

    /// The incident with this ID.
    pub fn incident(&self, id: &str) -> Option<&FakeIncident> {
        self.incidents.iter().find(|i| i.id == id)
    }

    /// Incidents created with this `incident_key`, open or not.
    pub fn incidents_with_key<'a>(
        &'a self,
        key: &'a str,
    ) -> impl Iterator<Item = &'a FakeIncident> + 'a {
        self.incidents
            .iter()
            .filter(move |i| i.incident_key.as_deref() == Some(key))
    }

    /// Every call received, oldest first.
    pub fn calls(&self) -> &[RecordedCall] {
        &self.calls
    }

    /// Calls of one API method (e.g. `POST /incidents`), oldest first.
    pub fn calls_of<'a>(&'a self, method: &'a str) -> impl Iterator<Item = &'a RecordedCall> + 'a {
        self.calls.iter().filter(move |c| c.method == method)
    }

    pub(crate) fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("P{prefix}{:04}", self.next_id)
    }

    pub(crate) fn user_by_email(&self, email: &str) -> Option<&FakeUser> {
        self.users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
    }

    pub(crate) fn policy(&self, id: &str) -> Option<&FakeEscalationPolicy> {
        self.policies.iter().find(|p| p.id == id)
    }

    pub(crate) fn service(&self, id: &str) -> Option<&FakeService> {
        self.services.iter().find(|s| s.id == id)
    }

    pub(crate) fn incident_mut(&mut self, id: &str) -> Option<&mut FakeIncident> {
        self.incidents.iter_mut().find(|i| i.id == id)
    }
}

/// One page of a list, PagerDuty style (`offset`/`limit`/`more`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    pub offset: usize,
    pub limit: usize,
    pub more: bool,
    pub total: usize,
}

/// Cuts `items` at `offset`, at most `limit` long, where `limit` is capped at `page_size`
/// the way PagerDuty caps it at 100.
pub(crate) fn page<T>(items: Vec<T>, offset: usize, limit: usize, page_size: usize) -> Page<T> {
    let limit = limit.clamp(1, page_size.max(1));
    let total = items.len();
    let items: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
    Page {
        more: offset.saturating_add(items.len()) < total,
        items,
        offset,
        limit,
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cap_the_limit_and_report_more() {
        let first = page((1..=5).collect(), 0, 100, 2);
        assert_eq!(first.items, [1, 2]);
        assert_eq!(first.limit, 2);
        assert!(first.more);
        let last = page((1..=5).collect(), 4, 2, 2);
        assert_eq!(last.items, [5]);
        assert!(!last.more);
        let beyond = page((1..=5).collect::<Vec<i32>>(), 9, 2, 2);
        assert!(beyond.items.is_empty());
        assert!(!beyond.more);
        assert_eq!(beyond.total, 5);
    }
}
