//! On-call auto-approval against the in-process Teleport and the fake PagerDuty: on call →
//! approved by the plugin's own user; not on call, a role outside `allowed_roles`, an
//! escalation level above the limit, another schedule → untouched; dry run → logged only.

use crate::common;

use teleport_plugin_testsupport::wait_auto_approval;

use common::{Env, NOTIFY, NOTIFY_SERVICE, PLUGIN_USER, SERVICES, WAIT};
use teleport_pagerduty::config::{AutoApproval, PagerDutyLimits};
use teleport_testkit::wire::types::RequestState;

const PENDING: i32 = RequestState::Pending as i32;
const APPROVED: i32 = RequestState::Approved as i32;

/// Waits until the plugin has taken its on-call decision and returns it.
async fn decision(env: &Env, id: &str) -> String {
    wait_auto_approval(&env.kit, id, "pagerduty", WAIT).await
}

fn on_call_request(env: &Env, user: &str, roles: &[&str], services: &[&str]) -> String {
    env.request(
        user,
        roles,
        &[(NOTIFY, &[NOTIFY_SERVICE]), (SERVICES, services)],
    )
}

#[tokio::test]
async fn an_on_call_requester_is_approved_by_the_plugin_and_the_incident_closes() {
    let env = Env::new().await;
    env.on_call("alice@example.com", "ep1", 1, Some("Primary"));
    let plugin = env.started(AutoApproval::default()).await;

    let id = on_call_request(&env, "alice@example.com", &["dev"], &["service 1"]);
    let approved = env
        .kit
        .wait_for_request(&id, WAIT, |r| r.spec.as_ref().unwrap().state == APPROVED)
        .await
        .unwrap();
    let reviews = approved.spec.unwrap().reviews;
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].author, PLUGIN_USER);
    assert_eq!(reviews[0].proposed_state, APPROVED);
    assert_eq!(
        reviews[0].reason,
        "Access requested by user Alice Oncall (alice@example.com) who is on call in service(s) \
         service 1"
    );
    assert_eq!(decision(&env, &id).await, "approved");

    // The incident gets the plugin's review as a note, then the resolution, then closes.
    let incident = env
        .wait_incident(&id, "resolved", |i| i.status == "resolved")
        .await;
    let notes: Vec<&str> = incident.notes.iter().map(|n| n.content.as_str()).collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes[0].starts_with("access-plugin reviewed the request at "),
        "{notes:?}"
    );
    assert!(
        notes[0].contains("Resolution: APPROVED.\nReason: Access requested by user Alice Oncall"),
        "{notes:?}"
    );
    assert!(
        notes[1].starts_with("Access request has been approved"),
        "{notes:?}"
    );

    // The lookups paged: alice's e-mail and "service 1" each match fillers first.
    let calls = env.pd.calls();
    let oncalls: Vec<_> = calls
        .iter()
        .filter(|c| c.method == "GET /oncalls")
        .collect();
    assert_eq!(
        oncalls[0].query_values("user_ids[]"),
        [env.users["alice@example.com"].as_str()]
    );
    assert_eq!(
        oncalls[0].query_values("escalation_policy_ids[]"),
        [env.policies["ep1"].as_str()]
    );
    assert!(calls.iter().filter(|c| c.method == "GET /users").count() >= 2);
    plugin.shutdown().await;
}

#[tokio::test]
async fn on_call_in_the_second_listed_service_counts_and_services_alone_suffice() {
    let env = Env::new().await;
    env.on_call("carol@example.com", "ep2", 1, None);
    let plugin = env.started(AutoApproval::default()).await;
    // No notify annotation: no incident, but the on-call check still runs (as in Go).
    let id = env.request(
        "carol@example.com",
        &["ops"],
        &[(SERVICES, &["service 1", "service 2"])],
    );
    let approved = env
        .kit
        .wait_for_request(&id, WAIT, |r| r.spec.as_ref().unwrap().state == APPROVED)
        .await
        .unwrap();
    let reason = &approved.spec.unwrap().reviews[0].reason;
    assert!(reason.ends_with("service(s) service 2"), "{reason}");
    assert_eq!(decision(&env, &id).await, "approved");
    assert!(env.pd.incidents().is_empty());
    assert!(!env.data(&id).contains_key("incident_id"));
    plugin.shutdown().await;
}

#[tokio::test]
async fn requesters_not_on_call_for_the_listed_services_are_left_pending() {
    let env = Env::new().await;
    // bob is on call, but only for service 3's policy; alice is not in PagerDuty's on-calls at all.
    env.on_call("bob@example.com", "ep3", 1, None);
    let plugin = env.started(AutoApproval::default()).await;
    let bob = on_call_request(
        &env,
        "bob@example.com",
        &["dev"],
        &["service 1", "service 2"],
    );
    let stranger = on_call_request(&env, "nobody@example.com", &["dev"], &["service 1"]);
    let not_email = on_call_request(&env, "alice", &["dev"], &["service 1"]);
    let unknown_service = on_call_request(&env, "bob@example.com", &["dev"], &["no such service"]);
    for id in [&bob, &stranger, &not_email, &unknown_service] {
        assert_eq!(decision(&env, id).await, "declined", "{id}");
        assert_eq!(env.request_state(id), (PENDING, 0));
        // The incident is still opened and stays open.
        env.wait_data(id, "incident", |d| d.contains_key("incident_id"))
            .await;
    }
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_role_outside_allowed_roles_is_never_auto_approved() {
    let env = Env::new().await;
    env.on_call("alice@example.com", "ep1", 1, None);
    let limits = AutoApproval {
        allowed_roles: Some(vec!["dev".into()]),
        ..AutoApproval::default()
    };
    let plugin = env.started(limits).await;
    let mixed = on_call_request(&env, "alice@example.com", &["dev", "ops"], &["service 1"]);
    assert_eq!(decision(&env, &mixed).await, "declined");
    assert_eq!(env.request_state(&mixed), (PENDING, 0));
    assert_eq!(
        env.pd.call_count("GET /oncalls"),
        0,
        "decided before asking PagerDuty"
    );

    let allowed = on_call_request(&env, "alice@example.com", &["dev"], &["service 1"]);
    assert_eq!(decision(&env, &allowed).await, "approved");
    assert_eq!(env.request_state(&allowed).0, APPROVED);
    plugin.shutdown().await;
}

#[tokio::test]
async fn escalation_levels_beyond_the_limit_do_not_count() {
    let env = Env::new().await;
    env.on_call("alice@example.com", "ep1", 2, None);
    env.on_call("carol@example.com", "ep2", 3, None);
    env.on_call("carol@example.com", "ep2", 1, Some("Primary"));
    let limits = AutoApproval {
        limits: PagerDutyLimits {
            max_escalation_level: Some(1),
            ..PagerDutyLimits::default()
        },
        ..AutoApproval::default()
    };
    let plugin = env.started(limits).await;
    let second_level = on_call_request(&env, "alice@example.com", &["dev"], &["service 1"]);
    assert_eq!(decision(&env, &second_level).await, "declined");
    assert_eq!(env.request_state(&second_level), (PENDING, 0));

    // carol is on call at levels 3 and 1 in ep2: level 1 counts.
    let first_level = on_call_request(&env, "carol@example.com", &["dev"], &["service 2"]);
    assert_eq!(decision(&env, &first_level).await, "approved");
    let request = env.kit.get_request(&first_level).unwrap();
    let reason = &request.spec.unwrap().reviews[0].reason;
    assert!(reason.ends_with("in service(s) service 2"), "{reason}");
    plugin.shutdown().await;
}

#[tokio::test]
async fn only_the_named_schedules_count() {
    let env = Env::new().await;
    env.on_call("alice@example.com", "ep1", 1, Some("Secondary"));
    env.on_call("bob@example.com", "ep1", 1, None);
    env.on_call("carol@example.com", "ep2", 1, Some("Primary"));
    let limits = AutoApproval {
        limits: PagerDutyLimits {
            schedules: Some(vec!["primary".into()]),
            ..PagerDutyLimits::default()
        },
        ..AutoApproval::default()
    };
    let plugin = env.started(limits).await;
    let secondary = on_call_request(&env, "alice@example.com", &["dev"], &["service 1"]);
    let direct = on_call_request(&env, "bob@example.com", &["dev"], &["service 1"]);
    let primary = on_call_request(&env, "carol@example.com", &["dev"], &["service 2"]);
    assert_eq!(decision(&env, &secondary).await, "declined");
    assert_eq!(
        decision(&env, &direct).await,
        "declined",
        "no schedule at all does not match"
    );
    assert_eq!(decision(&env, &primary).await, "approved");
    assert_eq!(env.request_state(&secondary), (PENDING, 0));
    assert_eq!(env.request_state(&direct), (PENDING, 0));
    plugin.shutdown().await;
}

#[tokio::test]
async fn dry_run_decides_but_does_not_review() {
    let env = Env::new().await;
    env.on_call("alice@example.com", "ep1", 1, None);
    let limits = AutoApproval {
        dry_run: true,
        ..AutoApproval::default()
    };
    let plugin = env.started(limits).await;
    let id = on_call_request(&env, "alice@example.com", &["dev"], &["service 1"]);
    assert_eq!(decision(&env, &id).await, "dry_run");
    assert_eq!(env.request_state(&id), (PENDING, 0));
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_plugin_without_review_rights_records_the_refusal_once() {
    let env = Env::new().await;
    env.on_call("alice@example.com", "ep1", 1, None);
    let plugin = env.started(AutoApproval::default()).await;
    // The plugin's role covers dev and ops only.
    let id = on_call_request(&env, "alice@example.com", &["admin"], &["service 1"]);
    assert_eq!(decision(&env, &id).await, "refused");
    assert_eq!(env.request_state(&id), (PENDING, 0));
    assert_eq!(
        env.kit
            .call_count(teleport_testkit::Method::SubmitAccessReview),
        1
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn an_earlier_review_by_the_plugin_is_not_an_error() {
    let env = Env::new().await;
    env.on_call("alice@example.com", "ep1", 1, None);
    // Two approvals needed; the plugin's user already reviewed (e.g. before a crash that
    // lost the record of it).
    let id = common::id_of(
        env.kit
            .new_request("alice@example.com", &["dev"])
            .threshold("two", 2, 2)
            .system_annotation(SERVICES, &["service 1"])
            .create()
            .unwrap(),
    );
    env.kit
        .review(
            &id,
            PLUGIN_USER,
            teleport_testkit::Verdict::Approve,
            "earlier",
        )
        .unwrap();
    let plugin = env.started(AutoApproval::default()).await;
    assert_eq!(decision(&env, &id).await, "approved");
    assert_eq!(env.request_state(&id), (PENDING, 1));
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_request_the_go_plugin_already_evaluated_is_not_auto_approved_again() {
    let env = Env::new().await;
    env.on_call("alice@example.com", "ep1", 1, None);
    // Left by the Go plugin: it opened the incident and, in that same handling, tried the
    // auto-approval (alice was not on call then). Go would not try again; neither may we.
    let go = on_call_request(&env, "alice@example.com", &["dev"], &["service 1"]);
    env.kit
        .put_plugin_data(
            "access_request",
            &go,
            "pagerduty",
            &[
                ("incident_id", "PGOINC1"),
                ("service_id", "PGOSVC1"),
                ("user", "alice@example.com"),
                ("roles", "dev"),
                ("created", "1700000000"),
                ("request_reason", ""),
            ],
        )
        .unwrap();
    let plugin = env.started(AutoApproval::default()).await;

    // A new request is approved: the plugin is at work, and has caught up with the old one.
    let fresh = on_call_request(&env, "alice@example.com", &["dev"], &["service 1"]);
    assert_eq!(decision(&env, &fresh).await, "approved");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    assert_eq!(env.request_state(&go), (PENDING, 0));
    assert_eq!(
        env.kit
            .call_count(teleport_testkit::Method::SubmitAccessReview),
        1,
        "only the new request was reviewed"
    );
    assert!(
        !env.data(&go).contains_key("auto_approval"),
        "the Go record is left as it was: {:?}",
        env.data(&go)
    );
    plugin.shutdown().await;
}
