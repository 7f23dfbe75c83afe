//! Plugin-facing types for access requests, reviews, users and roles.
//!
//! These are what plugin code sees; the prost wire types stay inside this crate.

use std::collections::BTreeMap;

use time::OffsetDateTime;

/// Multi-valued labels (annotations, traits): name → values.
pub type LabelValues = BTreeMap<String, Vec<String>>;

/// The state of an access request (Teleport's `types.RequestState`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RequestState {
    /// Unset.
    #[default]
    None,
    /// Waiting for reviews.
    Pending,
    /// Approved: the requester can assume the roles.
    Approved,
    /// Denied.
    Denied,
    /// Promoted to an access list.
    Promoted,
    /// A value this version does not know; tolerated, never sent.
    Unknown(i32),
}

impl RequestState {
    /// The upper-case name Teleport uses (`PENDING`, `APPROVED`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Pending => "PENDING",
            Self::Approved => "APPROVED",
            Self::Denied => "DENIED",
            Self::Promoted => "PROMOTED",
            Self::Unknown(_) => "UNKNOWN",
        }
    }

    /// Approved, denied or promoted: no further reviews change it.
    pub fn is_resolved(&self) -> bool {
        matches!(self, Self::Approved | Self::Denied | Self::Promoted)
    }
}

impl std::fmt::Display for RequestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A requested resource (resource-based access requests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceId {
    /// The cluster the resource is in.
    pub cluster: String,
    /// Its kind (`node`, `app`, `db`, ...).
    pub kind: String,
    /// Its name.
    pub name: String,
    /// A sub-resource (e.g. a Kubernetes namespace), possibly empty.
    pub sub_resource: String,
}

impl std::fmt::Display for ResourceId {
    /// Teleport's textual form: `/<cluster>/<kind>/<name>[/<sub-resource>]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/{}/{}/{}", self.cluster, self.kind, self.name)?;
        if !self.sub_resource.is_empty() {
            write!(f, "/{}", self.sub_resource)?;
        }
        Ok(())
    }
}

/// One review of an access request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessReview {
    /// The reviewer's Teleport user name.
    pub author: String,
    /// APPROVED or DENIED.
    pub proposed_state: RequestState,
    /// The reviewer's reason.
    pub reason: String,
    /// When it was submitted.
    pub created: Option<OffsetDateTime>,
}

/// An access request as a plugin needs it (`Default`: every field empty, state `None`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessRequest {
    /// The request ID (a UUID).
    pub id: String,
    /// The requester.
    pub user: String,
    /// The requested roles.
    pub roles: Vec<String>,
    /// The current state.
    pub state: RequestState,
    /// When it was created.
    pub created: Option<OffsetDateTime>,
    /// When the granted access would end (the certificate's maximum lifetime).
    pub access_expires: Option<OffsetDateTime>,
    /// When the pending request itself expires (the resource TTL).
    pub resource_expires: Option<OffsetDateTime>,
    /// The requester's reason.
    pub request_reason: String,
    /// The reason given when it was resolved.
    pub resolve_reason: String,
    /// Annotations set on resolution.
    pub resolve_annotations: LabelValues,
    /// Annotations from the requester's roles (`pagerduty_services`, ...).
    pub system_annotations: LabelValues,
    /// The reviews so far, in order.
    pub reviews: Vec<AccessReview>,
    /// Reviewers the requester suggested.
    pub suggested_reviewers: Vec<String>,
    /// Requested resources, for resource-based requests.
    pub resources: Vec<ResourceId>,
    /// Maximum duration of the granted access, if limited.
    pub max_duration: Option<OffsetDateTime>,
    /// Title of the access list the request was promoted to.
    pub promoted_access_list: Option<String>,
}

/// What a cluster says about itself on Ping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInfo {
    /// The cluster name.
    pub cluster_name: String,
    /// The server version (semver).
    pub server_version: String,
    /// Enterprise "advanced access workflows": web links to requests work.
    pub advanced_access_workflows: bool,
    /// The proxy's public address (host:port), possibly empty.
    pub proxy_public_addr: String,
}

/// A Teleport user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The user name.
    pub name: String,
    /// Its roles.
    pub roles: Vec<String>,
    /// Its traits (`logins`, `email`, ...).
    pub traits: LabelValues,
}

/// A Teleport role, as far as plugins read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// The role name.
    pub name: String,
    /// Logins the role allows (before trait interpolation).
    pub logins: Vec<String>,
    /// Annotations the role puts on requests (`allow.request.annotations`).
    pub request_annotations: LabelValues,
}

/// A filter for listing access requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestFilter {
    /// Only this request.
    pub id: Option<String>,
    /// Only this requester's.
    pub user: Option<String>,
    /// Only requests in this state.
    pub state: Option<RequestState>,
}

impl RequestFilter {
    /// Pending requests only.
    pub fn pending() -> Self {
        Self {
            state: Some(RequestState::Pending),
            ..Self::default()
        }
    }
}

/// A review to submit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewSubmission {
    /// The request.
    pub request_id: String,
    /// The reviewer: must be the plugin's own Teleport user.
    pub author: String,
    /// APPROVED or DENIED.
    pub proposed_state: RequestState,
    /// Why.
    pub reason: String,
}

/// A state change to apply to a request (Jira, GitLab).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateChange {
    /// The request.
    pub request_id: String,
    /// APPROVED or DENIED.
    pub state: RequestState,
    /// Who decided, for the audit log (e.g. `jira:alice@example.com`).
    pub delegator: String,
    /// Why.
    pub reason: String,
    /// Extra annotations.
    pub annotations: LabelValues,
}

/// One item of the access-request watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEvent {
    /// The watch is (re)established: events from here on are live. After a
    /// reconnect, anything that happened while disconnected was missed.
    Init,
    /// A request was created or changed.
    Put(Box<AccessRequest>),
    /// A request was deleted or expired.
    Delete(String),
    /// Which optional kinds this (re)established watch carries, as the server confirmed
    /// them. Sent right before [`WatchEvent::Init`], and only when optional kinds were
    /// asked for ([`crate::WatchOptions::access_monitoring_rules`]).
    Confirmed(WatchedKinds),
    /// An access monitoring rule was created or changed.
    RulePut(Box<AccessMonitoringRule>),
    /// An access monitoring rule was deleted (its name).
    RuleDelete(String),
    /// The watch broke and is being re-established.
    Reconnecting {
        /// Why it broke.
        reason: String,
        /// Consecutive attempt number, from 1.
        attempt: u32,
    },
}

/// Plugin data: one plugin's string map on one resource.
pub type PluginDataMap = BTreeMap<String, String>;

/// Optional kinds a watch carries besides access requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WatchedKinds {
    /// `access_monitoring_rule` events are included (the cluster knows the kind and the
    /// plugin's role may read it).
    pub access_monitoring_rules: bool,
}

/// An access monitoring rule (Teleport's `access_monitoring_rule` resource).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessMonitoringRule {
    /// The rule's name.
    pub name: String,
    /// What it applies to (`access_request`).
    pub subjects: Vec<String>,
    /// The states it applies to (informational for notifications).
    pub states: Vec<String>,
    /// A predicate over the request and the requester (see `teleport-predicate`).
    pub condition: String,
    /// Whom a plugin notifies when the condition holds.
    pub notification: Option<RuleNotification>,
    /// Automatic review settings (not used by notification plugins).
    pub automatic_review: Option<AutomaticReview>,
    /// `reviewed` when the rule reviews requests automatically.
    pub desired_state: String,
}

/// A rule's notification target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleNotification {
    /// The plugin the rule is for (`slack`, `mattermost`, `email`, ...).
    pub name: String,
    /// Recipients in the plugin's own terms (channels, e-mail addresses).
    pub recipients: Vec<String>,
}

/// A rule's automatic review setting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AutomaticReview {
    /// The integration that reviews (`builtin`, ...).
    pub integration: String,
    /// `APPROVED` or `DENIED`.
    pub decision: String,
}

/// Which rules to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleFilter {
    /// Only rules with one of these subjects (e.g. `access_request`); empty = any.
    pub subjects: Vec<String>,
    /// Only rules notifying this plugin; empty = any.
    pub notification_name: String,
}

/// An access list, as review reminders need it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessList {
    /// The list's name (its resource name, also the plugin-data resource).
    pub name: String,
    /// The title people see.
    pub title: String,
    /// The owners named in the list itself (not nested ones).
    pub owners: Vec<AccessListOwner>,
    /// When the next review is due; `None` when unset.
    pub next_audit_date: Option<OffsetDateTime>,
    /// Reminders start this long before the due date.
    pub notification_start: time::Duration,
}

/// An owner of an access list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessListOwner {
    /// A Teleport user name (or, for a nested owner list, the list's name).
    pub name: String,
    /// Free text.
    pub description: String,
}
