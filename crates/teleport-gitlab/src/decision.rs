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
use crate::record::IssueRecord;
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
    if record.resolution.is_some() {
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
    record.issue_id == issue.id
        && record.issue_iid == issue.iid
        && record.project_id == issue.project_id
}

#[cfg(test)]
mod tests {
    use teleport_plugin_runtime::state::Resolution;

    use super::*;
    use crate::client::{LabelRef, User};
    use crate::record::CloseProgress;

    const REQUEST: &str = "4b6c1f0e-2f3a-4c5d-8e9f-0a1b2c3d4e5f";
    const PLUGIN: u64 = 1;
    const MARIA: u64 = 7;
    const RITA: u64 = 8;

    fn user(id: u64) -> User {
        let username = match id {
            PLUGIN => "teleport-bot",
            MARIA => "maria",
            RITA => "rita",
            _ => "someone",
        };
        User {
            id,
            username: username.into(),
            name: username.into(),
        }
    }

    fn issue(labels: &[&str]) -> Issue {
        Issue {
            id: 9001,
            iid: 3,
            project_id: 42,
            title: "Access request from alice".into(),
            description: Some(format!("alice requested …\n\nRequest ID is `{REQUEST}`.")),
            state: "opened".into(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            updated_at: String::new(),
            web_url: String::new(),
        }
    }

    fn event(id: u64, by: u64, action: &str, label: &str) -> LabelEvent {
        LabelEvent {
            id,
            user: Some(user(by)),
            created_at: String::new(),
            label: Some(LabelRef {
                id: 500,
                name: label.into(),
            }),
            action: action.into(),
        }
    }

    fn note(id: u64, by: u64, body: &str, system: bool) -> Note {
        Note {
            id,
            body: body.into(),
            author: user(by),
            system,
            created_at: String::new(),
        }
    }

    fn record() -> IssueRecord {
        IssueRecord {
            project_id: 42,
            issue_iid: 3,
            issue_id: 9001,
            user: "alice".into(),
            roles: vec!["dev".into()],
            created: None,
            request_reason: String::new(),
            reviews_count: 0,
            resolution: None,
            resolve_reason: String::new(),
            claim: None,
            close_progress: CloseProgress::Pending,
            fresh: false,
        }
    }

    /// Runs `assess` with Maintainer as the minimum.
    fn check(
        issue: &Issue,
        events: &[LabelEvent],
        notes: &[Note],
        record: Option<&IssueRecord>,
        setter_access: Option<u8>,
    ) -> Assessment {
        assess(&Facts {
            issue,
            events,
            notes,
            record,
            setter_access,
            plugin_user_id: PLUGIN,
            min_access_level: 40,
        })
    }

    #[test]
    fn a_maintainers_label_approves_with_their_latest_note() {
        let issue = issue(&["Teleport: Pending", "Teleport: Approved"]);
        let events = [
            event(10, PLUGIN, "add", "Teleport: Pending"),
            event(11, MARIA, "add", "Teleport: Approved"),
        ];
        let notes = [
            note(20, MARIA, "first thoughts", false),
            note(22, MARIA, "  on call this week, fine  ", false),
            note(23, MARIA, "added ~500 label", true),
            note(24, RITA, "not mine to say", false),
        ];
        let Assessment::Decide(decision) =
            check(&issue, &events, &notes, Some(&record()), Some(40))
        else {
            panic!("no decision");
        };
        assert_eq!(decision.request_id, REQUEST);
        assert_eq!(decision.verdict, Verdict::Approve);
        assert_eq!(decision.delegator, "gitlab:maria");
        assert_eq!(decision.reason, "on call this week, fine");
        assert_eq!(decision.label_event_id, 11);
    }

    #[test]
    fn a_reporters_label_is_ignored() {
        let issue = issue(&["teleport : denied"]);
        let events = [event(11, RITA, "add", "teleport : denied")];
        let outcome = check(&issue, &events, &[], Some(&record()), Some(20));
        assert_eq!(
            outcome,
            Assessment::Ignore(Ignored::NotAllowed {
                username: "rita".into(),
                access_level: Some(20),
                required: 40
            })
        );
        let Assessment::Ignore(why) = outcome else {
            unreachable!()
        };
        assert_eq!(
            why.to_string(),
            "rita has access level 20 in the project; 40 or more is needed to decide"
        );
        let stranger = check(&issue, &events, &[], Some(&record()), None);
        assert!(
            matches!(
                stranger,
                Assessment::Ignore(Ignored::NotAllowed {
                    access_level: None,
                    ..
                })
            ),
            "{stranger:?}"
        );
    }

    #[test]
    fn the_label_added_last_wins() {
        let issue = issue(&["Teleport: Approved", "Teleport: Denied"]);
        let events = [
            event(11, RITA, "add", "Teleport: Approved"),
            event(12, MARIA, "add", "Teleport: Denied"),
        ];
        let Assessment::Decide(decision) = check(&issue, &events, &[], Some(&record()), Some(50))
        else {
            panic!("no decision");
        };
        assert_eq!(
            (decision.verdict, decision.username.as_str()),
            (Verdict::Deny, "maria")
        );
        assert_eq!(decision.reason, "");
    }

    #[test]
    fn the_issue_must_be_the_requests_own() {
        let issue = issue(&["Teleport: Approved"]);
        let events = [event(11, MARIA, "add", "Teleport: Approved")];
        let mut other = record();
        other.issue_id = 9002;
        assert_eq!(
            check(&issue, &events, &[], Some(&other), Some(40)),
            Assessment::Ignore(Ignored::NotTheRequestsIssue {
                request_id: REQUEST.into()
            })
        );
        assert_eq!(
            check(&issue, &events, &[], None, Some(40)),
            Assessment::Ignore(Ignored::NotTheRequestsIssue {
                request_id: REQUEST.into()
            })
        );
        let mut foreign = issue.clone();
        foreign.description = Some("a hand-written issue".into());
        assert_eq!(
            check(&foreign, &events, &[], Some(&record()), Some(40)),
            Assessment::Ignore(Ignored::NoRequestId)
        );
    }

    #[test]
    fn nothing_without_a_decision_label_or_once_resolved() {
        let pending = issue(&["Teleport: Pending", "bug"]);
        assert_eq!(
            check(&pending, &[], &[], Some(&record()), Some(40)),
            Assessment::Nothing
        );
        let approved = issue(&["Teleport: Approved"]);
        let events = [event(11, MARIA, "add", "Teleport: Approved")];
        let mut resolved = record();
        resolved.resolution = Some(Resolution::Approved);
        assert_eq!(
            check(&approved, &events, &[], Some(&resolved), Some(40)),
            Assessment::Nothing
        );
    }

    #[test]
    fn who_set_it_must_be_known_and_not_the_plugin() {
        let approved = issue(&["Teleport: Approved"]);
        assert_eq!(
            check(&approved, &[], &[], Some(&record()), Some(40)),
            Assessment::Ignore(Ignored::UnknownSetter {
                label: "Teleport: Approved".into()
            })
        );
        let mut anonymous = event(11, MARIA, "add", "Teleport: Approved");
        anonymous.user = None;
        assert!(matches!(
            check(&approved, &[anonymous], &[], Some(&record()), Some(40)),
            Assessment::Ignore(Ignored::UnknownSetter { .. })
        ));
        let by_plugin = [event(11, PLUGIN, "add", "Teleport: Approved")];
        assert_eq!(
            check(&approved, &by_plugin, &[], Some(&record()), Some(50)),
            Assessment::Ignore(Ignored::SetByPlugin)
        );
    }

    #[test]
    fn a_re_added_label_counts_from_its_latest_addition() {
        let approved = issue(&["Teleport: Approved"]);
        let events = [
            event(11, RITA, "add", "Teleport: Approved"),
            event(12, RITA, "remove", "Teleport: Approved"),
            event(13, MARIA, "add", "Teleport: Approved"),
        ];
        let choice = decision_label(&approved, &events).unwrap();
        assert_eq!(choice.setter_id(), Some(MARIA));
        assert!(matches!(
            check(&approved, &events, &[], Some(&record()), Some(40)),
            Assessment::Decide(Decision {
                label_event_id: 13,
                ..
            })
        ));
    }
}
