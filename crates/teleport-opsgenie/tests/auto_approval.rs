//! On-call auto-approval against the in-process Teleport and the fake Opsgenie: on call →
//! approved once by the plugin's own user; not on call, a role outside `allowed_roles`, a
//! schedule outside `schedules` → untouched; dry run → logged only.

use crate::common;

use teleport_plugin_testsupport::{state_and_reviews, wait_auto_approval};

use common::{Env, NOTIFY, PLUGIN_USER, SCHEDULES, WAIT, approval};
use teleport_opsgenie::config::{AutoApproval, OpsgenieLimits};
use teleport_testkit::wire::types::RequestState;

const PENDING: i32 = RequestState::Pending as i32;
const APPROVED: i32 = RequestState::Approved as i32;

async fn decision(env: &Env, id: &str) -> String {
    wait_auto_approval(&env.kit, id, "opsgenie", WAIT).await
}

fn state(env: &Env, id: &str) -> (i32, usize) {
    state_and_reviews(&env.kit, id)
}

#[tokio::test]
async fn an_on_call_requester_is_approved_once() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    let id = env.request(
        "alice@example.com",
        &["dev"],
        &[
            (NOTIFY, &["Primary"]),
            (SCHEDULES, &["Secondary", "Primary"]),
        ],
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
        "Access requested by user alice@example.com who is on call on schedule(s) Primary"
    );
    assert_eq!(decision(&env, &id).await, "approved");
    // The plugin's own review becomes a note, and the alert closes with the approval.
    let alert = env.wait_alert(&id, "closed", |a| a.closed.is_some()).await;
    assert_eq!(alert.notes.len(), 1, "{:?}", alert.notes);
    assert!(alert.notes[0].starts_with("access-plugin reviewed the request"));
    plugin.shutdown().await;
}

#[tokio::test]
async fn off_call_wrong_role_or_other_schedule_are_untouched() {
    let env = Env::new().await;
    let limits = AutoApproval {
        allowed_roles: Some(vec!["dev".into()]),
        limits: OpsgenieLimits {
            schedules: Some(vec!["primary".into()]),
        },
        ..AutoApproval::default()
    };
    let plugin = env.started(limits).await;
    let off_call = env.request("bob@example.com", &["dev"], &[(SCHEDULES, &["Primary"])]);
    let wrong_role = env.request("alice@example.com", &["ops"], &[(SCHEDULES, &["Primary"])]);
    let other_schedule = env.request(
        "alice@example.com",
        &["dev"],
        &[(SCHEDULES, &["Secondary"])],
    );
    for id in [&off_call, &wrong_role, &other_schedule] {
        assert_eq!(decision(&env, id).await, "declined");
        assert_eq!(state(&env, id), (PENDING, 0));
    }
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
    let id = env.request("alice@example.com", &["dev"], &[(SCHEDULES, &["Primary"])]);
    assert_eq!(decision(&env, &id).await, "dry_run");
    assert_eq!(state(&env, &id), (PENDING, 0));
    plugin.shutdown().await;

    let env = Env::new().await;
    let off = AutoApproval {
        enabled: false,
        ..AutoApproval::default()
    };
    let plugin = env.started(off).await;
    let id = env.request("alice@example.com", &["dev"], &[(SCHEDULES, &["Primary"])]);
    let marker = env.request("bob@example.com", &["dev"], &[(NOTIFY, &["Primary"])]);
    env.wait_alert(&marker, "a later request handled", |_| true)
        .await;
    assert_eq!(state(&env, &id), (PENDING, 0));
    assert!(env.kit.plugin_data(&id, "opsgenie").is_none());
    plugin.shutdown().await;
}
