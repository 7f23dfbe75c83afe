//! A request's whole life in ServiceNow: the incident (Go's fields and texts), a work note
//! per review, the incident resolved on approval or expiry and closed on denial, the
//! assignee from access monitoring rules, 429/5xx retried without duplicates, and a Go
//! plugin's record continued.

use crate::common;

use std::time::Duration;

use common::{CLOSE_CODE, Env, approval, correlation};
use teleport_fakes::Fault;
use teleport_fakes::servicenow::{
    CREATE_INCIDENT, LIST_INCIDENTS, UPDATE_INCIDENT, WHO_IS_ON_CALL,
};
use teleport_plugin_testsupport::lapsed_lease;
use teleport_testkit::{Verdict, access_monitoring_rule};

#[tokio::test]
async fn incident_work_notes_and_resolution_on_approval() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    let created = env
        .kit
        .new_request("bob", &["dev", "ops"])
        .reason("fix the outage")
        .suggested_reviewers(&["carol", "dave"])
        // Two approvals needed: the review leaves it pending, the approval resolves it.
        .threshold("two", 2, 1)
        .create()
        .expect("request");
    let id = teleport_plugin_testsupport::request_id(&created);
    let incident = env.wait_incident(&id, "the incident", |_| true).await;
    assert_eq!(
        incident.short_description,
        "Teleport access request from user bob"
    );
    assert_eq!(
        incident.description,
        format!(
            "Teleport user bob submitted access request for roles dev, ops on Teleport cluster example.com.\n\
             Reason: fix the outage\n\
             Click this link to review the request in Teleport: https://teleport.example.com/web/requests/{id}\n"
        )
    );
    assert_eq!(incident.caller_id, "bob");
    assert_eq!(
        incident.assigned_to, "carol",
        "the first suggested reviewer"
    );
    assert_eq!(incident.incident_state, "1");
    let data = env.wait_recorded(&id).await;
    assert_eq!(data["incident_id"], incident.sys_id);
    assert_eq!(data["user"], "bob");
    assert_eq!(data["roles"], "dev,ops");
    assert_eq!(data["request_reason"], "fix the outage");
    assert!(data.get("state").is_none_or(String::is_empty), "{data:?}");

    env.kit
        .review(&id, "carol", Verdict::Approve, "looks fine")
        .expect("review");
    let noted = env
        .wait_incident(&id, "the work note", |i| i.work_notes.len() == 1)
        .await;
    assert!(
        noted.work_notes[0].starts_with("carol reviewed the request at "),
        "{:?}",
        noted.work_notes
    );
    assert!(
        noted.work_notes[0].ends_with(".\nResolution: APPROVED.\nReason: looks fine."),
        "{:?}",
        noted.work_notes
    );
    env.kit.approve(&id, "ship it").expect("approve");
    let resolved = env
        .wait_incident(&id, "the resolution", |i| i.incident_state == "6")
        .await;
    assert_eq!(resolved.close_code, CLOSE_CODE);
    assert_eq!(
        resolved.close_notes,
        format!("Access request has been {CLOSE_CODE}\nReason: ship it")
    );
    assert_eq!(resolved.work_notes.len(), 1, "{:?}", resolved.work_notes);
    let data = env
        .wait_data(&id, "the record resolved", |d| {
            d.get("close_progress").is_some_and(|p| p == "done")
        })
        .await;
    assert_eq!(data["state"], "6");
    assert_eq!(data["resolution"], "approved");
    assert_eq!(data["resolve_reason"], "ship it");
    assert_eq!(data["reviews_count"], "1");
    assert_eq!(env.incidents_for(&id).len(), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn denied_requests_close_and_expired_ones_resolve_their_incidents() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    let denied = env.request("bob", &["dev"], &[]);
    let expired = env.request("bob", &["ops"], &[]);
    for id in [&denied, &expired] {
        env.wait_recorded(id).await;
    }
    env.kit.deny(&denied, "not now").expect("deny");
    env.kit.expire(&expired).expect("expire");
    let incident = env
        .wait_incident(&denied, "denied", |i| !i.close_notes.is_empty())
        .await;
    assert_eq!(incident.incident_state, "7", "denied: closed");
    assert_eq!(
        incident.close_notes,
        format!("Access request has been {CLOSE_CODE}\nReason: not now")
    );
    let incident = env
        .wait_incident(&expired, "expired", |i| !i.close_notes.is_empty())
        .await;
    assert_eq!(incident.incident_state, "6", "expired: resolved");
    assert_eq!(
        incident.close_notes,
        format!("Access request has been {CLOSE_CODE}\n")
    );
    let data = env
        .wait_data(&expired, "recorded", |d| {
            d.get("close_progress").is_some_and(|p| p == "done")
        })
        .await;
    assert_eq!(data["resolution"], "expired");
    assert_eq!(data["state"], "6");
    assert_eq!(env.data(&denied)["state"], "7");
    plugin.shutdown().await;
}

#[tokio::test]
async fn access_monitoring_rules_name_the_assignee() {
    let env = Env::new().await;
    env.kit
        .upsert_access_monitoring_rule(access_monitoring_rule(
            "servicenow-dev",
            "servicenow",
            r#"access_request.spec.roles.contains("dev")"#,
            &["dave", "erin"],
        ));
    let plugin = env.started(approval()).await;
    let routed = env
        .kit
        .new_request("bob", &["dev"])
        .suggested_reviewers(&["carol"])
        .create()
        .expect("request");
    let routed = teleport_plugin_testsupport::request_id(&routed);
    let other = env.request("bob", &["ops"], &[]);
    let incident = env.wait_incident(&routed, "routed", |_| true).await;
    assert_eq!(incident.assigned_to, "dave", "the rule's first recipient");
    let incident = env.wait_incident(&other, "not routed", |_| true).await;
    assert_eq!(incident.assigned_to, "", "no rule, no suggested reviewer");
    plugin.shutdown().await;
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_without_duplicates() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    let control = env.sn.control();
    control.fail_next_for(
        CREATE_INCIDENT,
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    control.fail_next_for(CREATE_INCIDENT, 1, Fault::ServerError { status: 502 });
    let id = env.request("bob", &["dev"], &[]);
    env.wait_recorded(&id).await;
    assert_eq!(env.sn.call_count(CREATE_INCIDENT), 3, "2 faults + 1 create");
    assert_eq!(env.incidents_for(&id).len(), 1);

    control.fail_next_for(
        UPDATE_INCIDENT,
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    control.fail_next_for(UPDATE_INCIDENT, 1, Fault::ServerError { status: 503 });
    env.kit
        .review(&id, "carol", Verdict::Deny, "")
        .expect("review");
    let closed = env
        .wait_incident(&id, "closed", |i| i.incident_state == "7")
        .await;
    assert_eq!(
        closed.work_notes.len(),
        1,
        "one note: {:?}",
        closed.work_notes
    );
    assert!(
        closed.work_notes[0].ends_with("Resolution: DENIED.\n"),
        "{:?}",
        closed.work_notes
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        env.sn.call_count(UPDATE_INCIDENT),
        4,
        "2 faults + 1 note + 1 resolution"
    );
    assert_eq!(env.sn.with_state(|s| s.incidents.len()), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_create_that_timed_out_after_servicenow_processed_it_is_not_repeated() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    // ServiceNow stores the incident, but the answer is lost (a proxy's 504).
    env.sn.lose_create_answers(1);
    let lookups_before = env.sn.call_count(LIST_INCIDENTS);
    let id = env.request("bob", &["dev"], &[]);
    let data = env.wait_recorded(&id).await;
    let incidents = env.incidents_for(&id);
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(data["incident_id"], incidents[0].sys_id);
    assert_eq!(
        env.sn.call_count(CREATE_INCIDENT),
        1,
        "found, not created again"
    );
    assert_eq!(
        env.sn.call_count(LIST_INCIDENTS) - lookups_before,
        1,
        "one lookup"
    );
    // A request whose create was answered is never looked up.
    let other = env.request("bob", &["dev"], &[]);
    env.wait_recorded(&other).await;
    assert_eq!(env.sn.call_count(LIST_INCIDENTS) - lookups_before, 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn an_incident_created_by_a_replica_killed_before_recording_it_is_found_not_repeated() {
    let env = Env::new().await;
    let id = env.request("bob", &["dev"], &[]);
    // The killed replica's create reached ServiceNow; its record kept only its lease.
    let created = go_plugin_incident(&env, &id).await;
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "servicenow",
            &[
                ("user", "bob"),
                ("roles", "dev"),
                ("claim", &lapsed_lease()),
            ],
        )
        .expect("seed");
    let plugin = env.started(approval()).await;
    let data = env.wait_recorded(&id).await;
    assert_eq!(
        data["incident_id"], created,
        "the incident found is recorded"
    );
    assert_eq!(env.incidents_for(&id).len(), 1, "no second incident");
    assert_eq!(
        env.sn.call_count(CREATE_INCIDENT),
        1,
        "only the killed replica's create"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_go_plugin_record_is_continued_and_a_finished_one_left_alone() {
    let env = Env::new().await;
    // alice is on call, but Go had its one chance at the auto-approval when it created
    // the record.
    let open = env.request(
        "alice",
        &["dev"],
        &[(common::SCHEDULES, &[common::PRIMARY])],
    );
    let finished = env.request("bob", &["dev"], &[]);
    // What the hosted Go plugin left: its incidents and records (one resolved already).
    let go_open = go_plugin_incident(&env, &open).await;
    let go_finished = go_plugin_incident(&env, &finished).await;
    for (id, incident, state) in [(&open, &go_open, ""), (&finished, &go_finished, "6")] {
        env.kit
            .put_plugin_data(
                "access_request",
                id,
                "servicenow",
                &[
                    ("incident_id", incident.as_str()),
                    ("user", "bob"),
                    ("roles", "dev"),
                    ("created", "1700000000"),
                    ("request_reason", "fix the outage"),
                    ("reviews_count", ""),
                    ("state", state),
                    ("resolve_reason", ""),
                ],
            )
            .expect("seed");
    }
    let plugin = env.started(approval()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        env.sn.call_count(WHO_IS_ON_CALL),
        0,
        "no second on-call check"
    );
    env.kit.deny(&open, "no").expect("deny: still pending");
    env.kit.deny(&finished, "no").expect("deny");
    let closed = env
        .wait_incident(&open, "closed", |i| i.incident_state == "7")
        .await;
    assert_eq!(closed.sys_id, go_open);
    assert_eq!(env.incidents_for(&open).len(), 1, "no second incident");
    // The finished one is not touched again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let untouched = env.incidents_for(&finished);
    assert_eq!(untouched.len(), 1);
    assert_eq!(untouched[0].updates, 0, "{untouched:?}");
    plugin.shutdown().await;
}

/// Opens the request's incident as the Go plugin did, straight through the API; its ID.
async fn go_plugin_incident(env: &Env, id: &str) -> String {
    let http = teleport_plugin_runtime::http::http_client(&Default::default()).expect("http");
    let api = teleport_servicenow::client::ServiceNowApi::new(
        http,
        &env.sn.base_url(),
        common::USERNAME,
        teleport_plugin_runtime::config::Secret::new(common::API_TOKEN),
    )
    .expect("api");
    api.create_incident(&teleport_servicenow::client::NewIncident {
        short_description: "Teleport access request from user bob".into(),
        description: "by the Go plugin".into(),
        caller_id: "bob".into(),
        assigned_to: String::new(),
        correlation_id: correlation(id),
    })
    .await
    .expect("create")
}
