//! The decision logic on its own (no I/O): who may decide, which label counts, the reason
//! from the setter's latest note, and the cross-check of the issue against the request's
//! record.

use teleport_gitlab::client::{Issue, LabelEvent, LabelRef, Note, User};
use teleport_gitlab::decision::{
    Assessment, Decision, Facts, Ignored, Verdict, assess, decision_label,
};
use teleport_gitlab::record::{GitlabIssue, IssueRecord};
use teleport_plugin_runtime::record::{RequestData, Resolution};
use teleport_plugin_runtime::tracker::CloseProgress;

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
        issue: GitlabIssue {
            project_id: 42,
            iid: 3,
            id: 9001,
        },
        request: RequestData {
            user: "alice".into(),
            roles: vec!["dev".into()],
            created: None,
            request_reason: String::new(),
            reviews_count: 0,
            resolution: None,
            resolve_reason: String::new(),
        },
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
    let Assessment::Decide(decision) = check(&issue, &events, &notes, Some(&record()), Some(40))
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
    other.issue.id = 9002;
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
    resolved.request.resolution = Some(Resolution::Approved);
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
