//! On-call auto-approval against the in-process Teleport and the fake ServiceNow: on call →
//! approved once by the plugin's own user; not on call, a role outside `allowed_roles`, a
//! rota outside `rotas` → untouched; dry run → logged only; disabled → nothing.

use crate::common;

use teleport_plugin_testsupport::{state_and_reviews, wait_auto_approval};

use common::{ALICE_ID, Env, PLUGIN_USER, PRIMARY, SCHEDULES, SECONDARY, WAIT, approval};
use teleport_fakes::servicenow::{GET_USER, WHO_IS_ON_CALL};
use teleport_servicenow::config::{AutoApproval, ServiceNowLimits};
use teleport_testkit::wire::types::RequestState;

const PENDING: i32 = RequestState::Pending as i32;
const APPROVED: i32 = RequestState::Approved as i32;

async fn decision(env: &Env, id: &str) -> String {
    wait_auto_approval(&env.kit, id, "servicenow", WAIT).await
}

fn state(env: &Env, id: &str) -> (i32, usize) {
    state_and_reviews(&env.kit, id)
}

#[tokio::test]
async fn an_on_call_requester_is_approved_once() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    let id = env.request("alice", &["dev"], &[(SCHEDULES, &[SECONDARY, PRIMARY])]);
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
        format!("Access requested by user alice who is on call on service(s) {PRIMARY}")
    );
    assert_eq!(decision(&env, &id).await, "approved");
    // Both rotas asked, at a time in ServiceNow's layout; both on-call users looked up.
    assert_eq!(env.sn.call_count(WHO_IS_ON_CALL), 2);
    assert_eq!(env.sn.call_count(GET_USER), 2);
    let times = env.sn.with_state(|s| s.on_call_times.clone());
    assert!(times.iter().all(|t| t.len() == 19), "{times:?}");
    // The plugin's own review becomes a work note, and the incident resolves with it.
    let incident = env
        .wait_incident(&id, "resolved", |i| i.incident_state == "6")
        .await;
    assert_eq!(incident.work_notes.len(), 1, "{:?}", incident.work_notes);
    assert!(incident.work_notes[0].starts_with("access-plugin reviewed the request"));
    plugin.shutdown().await;
}

#[tokio::test]
async fn off_call_wrong_role_or_other_rota_are_untouched() {
    let env = Env::new().await;
    let limits = AutoApproval {
        allowed_roles: Some(vec!["dev".into()]),
        limits: ServiceNowLimits {
            rotas: Some(vec![PRIMARY.to_uppercase()]),
        },
        ..AutoApproval::default()
    };
    let plugin = env.started(limits).await;
    let off_call = env.request("bob", &["dev"], &[(SCHEDULES, &[PRIMARY])]);
    let wrong_role = env.request("alice", &["ops"], &[(SCHEDULES, &[PRIMARY])]);
    let other_rota = env.request("alice", &["dev"], &[(SCHEDULES, &[SECONDARY])]);
    // The rota ID of a user, not of a rota: ServiceNow knows no such rota.
    let unknown_rota = env.request("alice", &["dev"], &[(SCHEDULES, &[ALICE_ID])]);
    for id in [&off_call, &wrong_role, &other_rota] {
        assert_eq!(decision(&env, id).await, "declined");
        assert_eq!(state(&env, id), (PENDING, 0));
    }
    assert_eq!(decision(&env, &unknown_rota).await, "declined");
    assert_eq!(state(&env, &unknown_rota), (PENDING, 0));
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
    let id = env.request("alice", &["dev"], &[(SCHEDULES, &[PRIMARY])]);
    assert_eq!(decision(&env, &id).await, "dry_run");
    assert_eq!(state(&env, &id), (PENDING, 0));
    plugin.shutdown().await;

    let env = Env::new().await;
    let off = AutoApproval {
        enabled: false,
        ..AutoApproval::default()
    };
    let plugin = env.started(off).await;
    let id = env.request("alice", &["dev"], &[(SCHEDULES, &[PRIMARY])]);
    env.wait_recorded(&id).await;
    assert_eq!(env.data(&id)["auto_approval"], "pending", "never decided");
    assert_eq!(state(&env, &id), (PENDING, 0));
    assert_eq!(env.sn.call_count(WHO_IS_ON_CALL), 0);
    plugin.shutdown().await;
}

#[tokio::test]
async fn on_call_lookups_are_retried_through_rate_limits_and_server_errors() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    let control = env.sn.control();
    control.fail_next_for(
        WHO_IS_ON_CALL,
        1,
        teleport_fakes::Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    control.fail_next_for(
        GET_USER,
        1,
        teleport_fakes::Fault::ServerError { status: 503 },
    );
    let id = env.request("alice", &["dev"], &[(SCHEDULES, &[PRIMARY])]);
    let approved = env
        .kit
        .wait_for_request(&id, WAIT, |r| {
            r.spec.as_ref().is_some_and(|s| s.state == APPROVED)
        })
        .await
        .expect("approved");
    assert_eq!(
        approved.spec.expect("spec").reviews.len(),
        1,
        "approved once"
    );
    assert_eq!(decision(&env, &id).await, "approved");
    assert_eq!(env.incidents_for(&id).len(), 1, "one incident");
    plugin.shutdown().await;
}
