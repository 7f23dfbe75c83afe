//! On-call auto-approval against the in-process Teleport and the fake Datadog: on call in a
//! team the request names (by handle or name) → approved once by the plugin's own user; not
//! on call, a role outside `allowed_roles`, a team outside `teams` → untouched; dry run →
//! logged only; disabled → no check at all.

use crate::common;

use teleport_plugin_testsupport::{state_and_reviews, wait_auto_approval};

use common::{Env, PLUGIN_USER, SCHEDULES, WAIT, approval};
use teleport_datadog::config::{AutoApproval, DatadogLimits};
use teleport_fakes::datadog::ON_CALL_TEAMS;
use teleport_testkit::wire::types::RequestState;

const PENDING: i32 = RequestState::Pending as i32;
const APPROVED: i32 = RequestState::Approved as i32;

async fn decision(env: &Env, id: &str) -> String {
    wait_auto_approval(&env.kit, id, "datadog", WAIT).await
}

fn state(env: &Env, id: &str) -> (i32, usize) {
    state_and_reviews(&env.kit, id)
}

#[tokio::test]
async fn an_on_call_requester_is_approved_once() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    // By the team's name here; the handle works too (below).
    let id = env.request(
        "alice@example.com",
        &["dev"],
        &[(SCHEDULES, &["night", "Site Reliability"])],
    );
    let approved = env
        .kit
        .wait_for_request(&id, WAIT, |r| {
            r.spec.as_ref().is_some_and(|s| s.state == APPROVED)
        })
        .await
        .expect("approved");
    let reviews = approved.spec.expect("spec").reviews;
    assert_eq!(reviews.len(), 1, "approved once");
    assert_eq!(reviews[0].author, PLUGIN_USER);
    assert_eq!(
        reviews[0].reason,
        "Access request has been automatically approved by \"datadog\" plugin because user \"alice@example.com\" is on-call."
    );
    assert_eq!(decision(&env, &id).await, "approved");
    // The plugin's own review becomes a cell, and the incident is resolved with the approval.
    let incident = env
        .wait_incident(&id, "resolved", |i| i.state() == "resolved")
        .await;
    assert_eq!(incident.timeline.len(), 2, "{:?}", incident.timeline);
    assert!(incident.timeline[0].starts_with("access-plugin reviewed the request."));

    let by_handle = env.request("alice@example.com", &["ops"], &[(SCHEDULES, &["sre"])]);
    assert_eq!(decision(&env, &by_handle).await, "approved");
    assert_eq!(state(&env, &by_handle), (APPROVED, 1));
    plugin.shutdown().await;
}

#[tokio::test]
async fn off_call_wrong_role_or_other_team_are_untouched() {
    let env = Env::new().await;
    let limits = AutoApproval {
        allowed_roles: Some(vec!["dev".into()]),
        limits: DatadogLimits {
            teams: Some(vec!["SRE".into()]),
        },
        ..AutoApproval::default()
    };
    let plugin = env.started(limits).await;
    let off_call = env.request("bob@example.com", &["dev"], &[(SCHEDULES, &["sre"])]);
    let wrong_role = env.request("alice@example.com", &["ops"], &[(SCHEDULES, &["sre"])]);
    let other_team = env.request("alice@example.com", &["dev"], &[(SCHEDULES, &["night"])]);
    for id in [&off_call, &wrong_role, &other_team] {
        assert_eq!(decision(&env, id).await, "declined");
        assert_eq!(state(&env, id), (PENDING, 0));
    }
    // Only the request that passed the limits asked Datadog.
    assert_eq!(env.dd.call_count(ON_CALL_TEAMS), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn dry_run_only_logs_and_disabled_does_nothing() {
    let env = Env::new().await;
    let dry = AutoApproval {
        dry_run: true,
        ..approval()
    };
    let plugin = env.started(dry).await;
    let id = env.request("alice@example.com", &["dev"], &[(SCHEDULES, &["sre"])]);
    assert_eq!(decision(&env, &id).await, "dry_run");
    assert_eq!(state(&env, &id), (PENDING, 0));
    plugin.shutdown().await;

    let env = Env::new().await;
    let off = AutoApproval {
        enabled: false,
        ..AutoApproval::default()
    };
    let plugin = env.started(off).await;
    let id = env.request("alice@example.com", &["dev"], &[(SCHEDULES, &["sre"])]);
    env.wait_incident_id(&id).await;
    assert_eq!(state(&env, &id), (PENDING, 0));
    assert!(
        env.data(&id)
            .get("auto_approval")
            .is_none_or(String::is_empty)
    );
    assert_eq!(env.dd.call_count(ON_CALL_TEAMS), 0);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_go_record_counts_as_decided() {
    let env = Env::new().await;
    let id = env.request("alice@example.com", &["dev"], &[(SCHEDULES, &["sre"])]);
    // Go created its record (and tried its one auto-approval) before the upgrade.
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "datadog",
            &[
                ("user", "alice@example.com"),
                ("roles", "dev"),
                ("messages", "go-incident/go-incident"),
            ],
        )
        .expect("seed");
    let plugin = env.started(approval()).await;
    // A later request handled shows the catch-up has looked at the first.
    let marker = env.request("bob@example.com", &["dev"], &[]);
    env.wait_incident_id(&marker).await;
    assert_eq!(state(&env, &id), (PENDING, 0));
    assert_eq!(env.dd.call_count(ON_CALL_TEAMS), 0);
    assert!(
        env.data(&id)
            .get("auto_approval")
            .is_none_or(String::is_empty)
    );
    plugin.shutdown().await;
}
