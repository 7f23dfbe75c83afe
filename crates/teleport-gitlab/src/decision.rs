//! Deciding a request from its GitLab issue, without I/O: from the issue, its resource label
//! events, the label setter's access level, their notes and the request's record, either a
//! decision (approve or deny, delegator `gitlab:<username>`, the reason from their latest
//! note) or why there is none.
//!
//! Nothing in the issue is taken on trust: the request ID in the description must name a
//! request whose plugin data points back at this very issue, the decision label's setter is
//! who GitLab's label events say, and their role is what the members API says — GitLab lets
//! a Reporter set labels, so the role is checked against `min_access_level`. Webhook and
//! polling both come here, so a decision is the same however it was learned.

use std::fmt;

use teleport_client::RequestState;

use crate::client::{Issue, LabelEvent, Note};
use crate::record::{GitlabIssue, IssueRecord};
use crate::render::{self, REASON_LIMIT};
use crate::setup::{LabelKey, reduce};

/// What a decision label asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// `Teleport: Approved`.
    Approve,
    /// `Teleport: Denied`.
    Deny,
}

impl Verdict {
    /// The request state to set.
    pub fn state(self) -> RequestState {
        match self {
            Self::Approve => RequestState::Approved,
            Self::Deny => RequestState::Denied,
        }
    }

    pub(crate) fn of_label(name: &str) -> Option<Self> {
        match reduce(name)?.as_str() {
            key if key == LabelKey::Approved.key() => Some(Self::Approve),
            key if key == LabelKey::Denied.key() => Some(Self::Deny),
            _ => None,
        }
    }
}

/// A decision to apply to a pending request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The request.
    pub request_id: String,
    /// Approve or deny.
    pub verdict: Verdict,
    /// `gitlab:<username>`, shown in Teleport's audit log.
    pub delegator: String,
    /// The setter's latest note ("" when they wrote none).
    pub reason: String,
    /// Who set the label.
    pub username: String,
    /// Their role in the project.
    pub access_level: u8,
    /// The label event the decision comes from.
    pub label_event_id: u64,
}

/// Why an issue with a decision label leads to no decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// The description names no request: not an issue of the plugin's.
    NoRequestId,
    /// The request's record does not point at this issue (a copied or edited description).
    NotTheRequestsIssue {
        /// The request the description names.
        request_id: String,
    },
    /// No label event says who added the label.
    UnknownSetter {
        /// The label.
        label: String,
    },
    /// The plugin's own account added it; a person must decide.
    SetByPlugin,
    /// The setter's role is below `min_access_level` (or they are no member at all).
    NotAllowed {
        /// Who set the label.
        username: String,
        /// Their role; `None` when they are not a member.
        access_level: Option<u8>,
        /// The role needed.
        required: u8,
    },
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRequestId => f.write_str("the issue names no access request"),
            Self::NotTheRequestsIssue { request_id } => write!(
                f,
                "access request {request_id} does not belong to this issue in the plugin's records"
            ),
            Self::UnknownSetter { label } => {
                write!(f, "GitLab does not say who added the label {label}")
            }
            Self::SetByPlugin => f.write_str("the label was set by the plugin's own account"),
            Self::NotAllowed {
                username,
                access_level: Some(level),
                required,
            } => write!(
                f,
                "{username} has access level {level} in the project; {required} or more is needed to decide"
            ),
            Self::NotAllowed {
                username, required, ..
            } => write!(
                f,
                "{username} is not a member of the project; access level {required} or more is needed to decide"
            ),
        }
    }
}

/// The outcome of looking at an issue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assessment {
    /// Apply this decision.
    Decide(Decision),
    /// A decision label is there but does not count; log why.
    Ignore(Ignored),
    /// Nothing to decide: no decision label, or the request is already resolved.
    Nothing,
}

/// The decision label on an issue and the event that added it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelChoice<'a> {
    /// What the label asks for.
    pub verdict: Verdict,
    /// The label's name on the issue.
    pub label: &'a str,
    /// The latest event adding it, if GitLab recorded one.
    pub event: Option<&'a LabelEvent>,
}

impl LabelChoice<'_> {
    /// The user who added the label, when known.
    pub fn setter_id(&self) -> Option<u64> {
        self.event.and_then(|e| e.user.as_ref()).map(|u| u.id)
    }
}

/// The decision label the issue carries now; with both an approval and a denial label, the
/// one added last counts.
pub fn decision_label<'a>(issue: &'a Issue, events: &'a [LabelEvent]) -> Option<LabelChoice<'a>> {
    issue
        .labels
        .iter()
        .filter_map(|label| {
            let verdict = Verdict::of_label(label)?;
            let event = events
                .iter()
                .filter(|e| e.action == "add")
                .filter(|e| e.label.as_ref().is_some_and(|l| &l.name == label))
                .max_by_key(|e| e.id);
            Some(LabelChoice {
                verdict,
                label: label.as_str(),
                event,
            })
        })
        .max_by_key(|choice| choice.event.map_or(0, |e| e.id))
}

/// Everything [`assess`] looks at, gathered from GitLab and Teleport.
#[derive(Clone, Debug)]
pub struct Facts<'a> {
    /// The issue as GitLab shows it now.
    pub issue: &'a Issue,
    /// Its resource label events.
    pub events: &'a [LabelEvent],
    /// Its notes, any order.
    pub notes: &'a [Note],
    /// The record of the request the description names (`None`: no record).
    pub record: Option<&'a IssueRecord>,
    /// The label setter's access level (`None`: not a member).
    pub setter_access: Option<u8>,
    /// The plugin's own GitLab user.
    pub plugin_user_id: u64,
    /// The least access level that may decide.
    pub min_access_level: u8,
}

/// Decides, or says why not.
pub fn assess(facts: &Facts<'_>) -> Assessment {
    let Some(choice) = decision_label(facts.issue, facts.events) else {
        return Assessment::Nothing;
    };
    let Some(request_id) = render::request_id_in(facts.issue.description()) else {
        return Assessment::Ignore(Ignored::NoRequestId);
    };
    let Some(record) = facts.record.filter(|r| belongs_to(r, facts.issue)) else {
        return Assessment::Ignore(Ignored::NotTheRequestsIssue { request_id });
    };
    if record.request.resolution.is_some() {
        return Assessment::Nothing;
    }
    let Some((event, setter)) = choice
        .event
        .and_then(|e| e.user.as_ref().map(|user| (e, user)))
    else {
        return Assessment::Ignore(Ignored::UnknownSetter {
            label: choice.label.to_owned(),
        });
    };
    if setter.id == facts.plugin_user_id {
        return Assessment::Ignore(Ignored::SetByPlugin);
    }
    let access_level = match facts.setter_access {
        Some(level) if level >= facts.min_access_level => level,
        other => {
            return Assessment::Ignore(Ignored::NotAllowed {
                username: setter.username.clone(),
                access_level: other,
                required: facts.min_access_level,
            });
        }
    };
    let reason = facts
        .notes
        .iter()
        .filter(|n| !n.system && n.author.id == setter.id)
        .max_by_key(|n| n.id)
        .map(|n| n.body.trim().chars().take(REASON_LIMIT).collect())
        .unwrap_or_default();
    Assessment::Decide(Decision {
        request_id,
        verdict: choice.verdict,
        delegator: format!("gitlab:{}", setter.username),
        reason,
        username: setter.username.clone(),
        access_level,
        label_event_id: event.id,
    })
}

/// Whether the request's record names this issue.
fn belongs_to(record: &IssueRecord, issue: &Issue) -> bool {
    record.issue == GitlabIssue::from(issue)
}
