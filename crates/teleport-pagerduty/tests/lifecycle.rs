//! The incident lifecycle against the in-process Teleport and the fake PagerDuty: one
//! incident per request, a note per review, the resolution note and the incident resolved;
//! nothing for requests without annotations; retries, restarts and two replicas without a
//! second incident or a repeated note; a Go plugin's record continued.

use crate::common;

use std::time::{Duration, Instant, SystemTime};

use common::{BOT_EMAIL, Env, NOTIFY, NOTIFY_SERVICE, SERVICES, WAIT, id_of};
use teleport_fakes::Fault;
use teleport_pagerduty::client::{NewIncident, PagerDutyApi};
use teleport_pagerduty::config::AutoApproval;
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
use teleport_plugin_testsupport::{lapsed_lease, unix_millis};
use teleport_testkit::Verdict;
use teleport_testkit::wire::types::RequestState;

fn closed(data: &std::collections::HashMap<String, String>) -> bool {
    data.get("close_progress").map(String::as_str) == Some("done")
        && data.get("claim").is_none_or(String::is_empty)
}

#[tokio::test]
async fn incident_notes_and_resolution_on_approval() {
    let env = Env::new().await;
    let plugin = env.started(AutoApproval::default()).await;

    // Two approvals are needed, so the first review leaves the request pending.
    let id = id_of(
        env.kit
            .new_request("alice@example.com", &["dev"])
            .reason("fix the outage")
            .threshold("two", 2, 1)
            .system_annotation(NOTIFY, &[NOTIFY_SERVICE])
            .create()
            .unwrap(),
    );
    let incident = env.wait_incident(&id, "the incident", |_| true).await;
    assert_eq!(incident.title, "Access request from alice@example.com");
    assert_eq!(incident.status, "triggered");
    assert_eq!(incident.created_by, BOT_EMAIL);
    let details = incident.details.clone().unwrap();
    assert!(
        details
            .starts_with("alice@example.com requested permissions for roles dev on Teleport at "),
        "{details}"
    );
    assert!(details.contains("\nReason: fix the outage"), "{details}");

    let data = env
        .wait_data(&id, "the incident recorded", |d| {
            d.get("incident_id").is_some() && d.get("claim").is_none_or(String::is_empty)
        })
        .await;
    assert_eq!(data["incident_id"], incident.id);
    assert_eq!(data["service_id"], incident.service_id);
    assert_eq!(data["user"], "alice@example.com");
    assert_eq!(data["roles"], "dev");
    assert_eq!(data["request_reason"], "fix the outage");
    assert!(data["created"].parse::<i64>().unwrap() > 1_600_000_000);

    env.kit
        .review(&id, "bob", Verdict::Approve, "looks fine")
        .unwrap();
    let with_note = env
        .wait_incident(&id, "the review note", |i| i.notes.len() == 1)
        .await;
    let note = &with_note.notes[0].content;
    assert!(note.starts_with("bob reviewed the request at "), "{note}");
    assert!(
        note.ends_with(".\nResolution: APPROVED.\nReason: looks fine."),
        "{note}"
    );
    assert_eq!(with_note.status, "triggered");

    env.kit
        .review(&id, "carol", Verdict::Approve, "finally okay")
        .unwrap();
    let resolved = env
        .wait_incident(&id, "the incident resolved", |i| i.status == "resolved")
        .await;
    let notes: Vec<&str> = resolved.notes.iter().map(|n| n.content.as_str()).collect();
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(
        notes[1].starts_with("carol reviewed the request at "),
        "{notes:?}"
    );
    assert_eq!(
        notes[2],
        "Access request has been approved\nReason: finally okay"
    );
    assert_eq!(
        resolved.status_changes,
        [("resolved".to_owned(), BOT_EMAIL.to_owned())]
    );

    let data = env.wait_data(&id, "the record closed", closed).await;
    assert_eq!(data["resolution"], "approved");
    assert_eq!(data["resolve_reason"], "finally okay");
    assert_eq!(data["reviews_count"], "2");
    assert_eq!(env.incidents_for(&id).len(), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn denial_and_expiry_close_the_incident() {
    let env = Env::new().await;
    let plugin = env.started(AutoApproval::default()).await;
    let denied = env.notify_request("alice@example.com");
    let expired = env.notify_request("bob@example.com");
    env.wait_data(&denied, "incident", |d| d.contains_key("incident_id"))
        .await;
    env.wait_data(&expired, "incident", |d| d.contains_key("incident_id"))
        .await;

    env.kit.deny(&denied, "not now").unwrap();
    env.kit.expire(&expired).unwrap();

    let incident = env
        .wait_incident(&denied, "denied and resolved", |i| i.status == "resolved")
        .await;
    let notes: Vec<&str> = incident.notes.iter().map(|n| n.content.as_str()).collect();
    assert_eq!(notes, ["Access request has been denied\nReason: not now"]);
    let incident = env
        .wait_incident(&expired, "expired and resolved", |i| i.status == "resolved")
        .await;
    let notes: Vec<&str> = incident.notes.iter().map(|n| n.content.as_str()).collect();
    assert_eq!(notes, ["Access request has been expired"]);
    assert_eq!(
        env.wait_data(&denied, "closed", closed).await["resolution"],
        "denied"
    );
    assert_eq!(
        env.wait_data(&expired, "closed", closed).await["resolution"],
        "expired"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn requests_without_the_annotations_are_left_alone() {
    let env = Env::new().await;
    let plugin = env.started(AutoApproval::default()).await;
    let calls_at_start = env.pd.calls().len();

    let plain = env.request("alice@example.com", &["dev"], &[]);
    let other = env.request(
        "alice@example.com",
        &["dev"],
        &[("some_other_annotation", &["x"])],
    );
    let empty = env.request(
        "alice@example.com",
        &["dev"],
        &[(NOTIFY, &[]), (SERVICES, &[""])],
    );
    // A request that does concern the plugin, handled after the others: once its incident
    // is recorded, the others have been seen too.
    let marker = env.notify_request("bob@example.com");
    env.wait_data(&marker, "the marker's incident", |d| {
        d.contains_key("incident_id")
    })
    .await;
    env.kit.approve(&plain, "ok").unwrap();
    env.kit.expire(&other).unwrap();
    env.kit.deny(&marker, "no").unwrap();
    env.wait_data(&marker, "marker closed", closed).await;

    for id in [&plain, &other, &empty] {
        assert!(
            env.kit.plugin_data(id, "pagerduty").is_none(),
            "no record for {id}"
        );
        assert!(env.incidents_for(id).is_empty());
    }
    let new_calls: Vec<String> = env.pd.calls()[calls_at_start..]
        .iter()
        .map(|c| c.method.clone())
        .collect();
    assert!(
        new_calls
            .iter()
            .all(|m| m != "GET /users" && m != "GET /oncalls"),
        "only the marker request reached PagerDuty: {new_calls:?}"
    );
    assert_eq!(env.pd.incidents().len(), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_server_error_on_create_is_retried_into_one_incident() {
    let env = Env::new().await;
    let plugin = env.started(AutoApproval::default()).await;
    env.pd
        .control()
        .fail_next_for("POST /incidents", 2, Fault::ServerError { status: 500 });
    let id = env.notify_request("alice@example.com");
    let incident = env
        .wait_incident(&id, "the incident after retries", |_| true)
        .await;
    env.wait_data(&id, "recorded", |d| {
        d.get("incident_id") == Some(&incident.id)
    })
    .await;
    assert_eq!(env.pd.call_count("POST /incidents"), 3);
    assert_eq!(env.incidents_for(&id).len(), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_lost_create_answer_does_not_open_a_second_incident() {
    let env = Env::new().await;
    let plugin = env.started(AutoApproval::default()).await;
    // PagerDuty creates the incident but the answer never arrives.
    env.pd.lose_next_responses("POST /incidents", 1);
    let id = env.notify_request("alice@example.com");
    let data = env
        .wait_data(&id, "the incident recorded", |d| {
            d.contains_key("incident_id")
        })
        .await;
    let incidents = env.incidents_for(&id);
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(data["incident_id"], incidents[0].id);
    assert_eq!(
        env.pd.call_count("POST /incidents"),
        2,
        "the retry was refused as a duplicate"
    );
    assert!(env.pd.calls().iter().any(|c| c.method == "GET /incidents"
        && c.query_values("incident_key") == [format!("teleport-access-request/{id}").as_str()]));

    env.kit.review(&id, "bob", Verdict::Deny, "no").unwrap();
    let incident = env
        .wait_incident(&id, "resolved", |i| i.status == "resolved")
        .await;
    assert_eq!(incident.notes.len(), 2);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_rate_limited_note_waits_for_retry_after_and_is_posted_once() {
    let env = Env::new().await;
    let plugin = env.started(AutoApproval::default()).await;
    let id = id_of(
        env.kit
            .new_request("alice@example.com", &["dev"])
            .threshold("two", 2, 2)
            .system_annotation(NOTIFY, &[NOTIFY_SERVICE])
            .create()
            .unwrap(),
    );
    env.wait_data(&id, "incident", |d| d.contains_key("incident_id"))
        .await;
    env.pd.control().fail_next_for(
        "POST /incidents/{id}/notes",
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let reviewed = Instant::now();
    env.kit.review(&id, "bob", Verdict::Approve, "ok").unwrap();
    let incident = env
        .wait_incident(&id, "the note", |i| i.notes.len() == 1)
        .await;
    assert!(
        reviewed.elapsed() >= Duration::from_millis(900),
        "Retry-After was honoured"
    );
    assert_eq!(env.pd.call_count("POST /incidents/{id}/notes"), 2);
    env.wait_data(&id, "count saved", |d| {
        d.get("reviews_count").map(String::as_str) == Some("1")
    })
    .await;
    assert_eq!(env.pd.incident(&incident.id).unwrap().notes.len(), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn pagerduty_down_then_up_opens_the_incident_once() {
    let env = Env::new().await;
    let plugin = env.started(AutoApproval::default()).await;
    env.pd.down().await;
    let id = env.notify_request("alice@example.com");
    // Give the plugin time to fail a few times while PagerDuty is away.
    env.kit
        .wait_for("a record while PagerDuty is down", WAIT, |s| {
            s.plugin_data_of("access_request", &id, "pagerduty")
                .is_some()
        })
        .await
        .unwrap();
    // Let a few attempts fail against the closed port (not an assertion: any number is fine).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(env.pd.incidents().is_empty());
    env.pd.up().await.unwrap();
    env.wait_incident(&id, "the incident", |_| true).await;
    env.wait_data(&id, "recorded", |d| d.contains_key("incident_id"))
        .await;
    assert_eq!(env.incidents_for(&id).len(), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_restart_catches_up_with_a_decision_made_while_down() {
    let env = Env::new().await;
    let plugin = env.started(AutoApproval::default()).await;
    let id = env.notify_request("alice@example.com");
    env.wait_data(&id, "incident recorded and lease released", |d| {
        d.contains_key("incident_id") && d.get("claim").is_none_or(String::is_empty)
    })
    .await;
    plugin.shutdown().await;

    env.kit
        .review(&id, "bob", Verdict::Approve, "while you were out")
        .unwrap();
    let second = env.started(AutoApproval::default()).await;
    let incident = env
        .wait_incident(&id, "resolved after restart", |i| i.status == "resolved")
        .await;
    let notes: Vec<&str> = incident.notes.iter().map(|n| n.content.as_str()).collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes[0].starts_with("bob reviewed the request"),
        "{notes:?}"
    );
    assert_eq!(
        notes[1],
        "Access request has been approved\nReason: while you were out"
    );
    assert_eq!(env.incidents_for(&id).len(), 1);
    assert_eq!(env.pd.call_count("POST /incidents"), 1);
    second.shutdown().await;
}

fn api(env: &Env) -> PagerDutyApi {
    let http = http_client(&HttpClientOptions::default()).unwrap();
    PagerDutyApi::new(
        http,
        &env.pd.base_url(),
        &Secret::new(common::API_KEY),
        BOT_EMAIL,
    )
    .unwrap()
}

/// Opens the request's incident the way an earlier process (ours that died, or the Go
/// plugin) did; returns the service ID and the incident ID.
async fn earlier_incident(env: &Env, id: &str, details: &str) -> (String, String) {
    let service = api(env)
        .find_service_by_name(NOTIFY_SERVICE)
        .await
        .unwrap()
        .unwrap();
    let incident = api(env)
        .create_incident(&NewIncident {
            title: "Access request from alice@example.com".into(),
            service_id: service.id.clone(),
            incident_key: format!("teleport-access-request/{id}"),
            details: details.into(),
        })
        .await
        .unwrap();
    (service.id, incident.id)
}

#[tokio::test]
async fn a_process_that_died_after_creating_the_incident_is_taken_over() {
    let env = Env::new().await;
    let id = env.notify_request("alice@example.com");
    // What a replica leaves when it dies between creating the incident and saving its ID:
    // the service chosen, the incident open in PagerDuty, its lease lapsed.
    let (service_id, existing_id) =
        earlier_incident(&env, &id, "created by the process that died").await;
    let lapsed = lapsed_lease();
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "pagerduty",
            &[
                ("service_id", &service_id),
                ("user", "alice@example.com"),
                ("roles", "dev"),
                ("claim", &lapsed),
            ],
        )
        .unwrap();

    let plugin = env.started(AutoApproval::default()).await;
    let data = env
        .wait_data(&id, "the open incident adopted", |d| {
            d.contains_key("incident_id")
        })
        .await;
    assert_eq!(data["incident_id"], existing_id);
    env.kit.approve(&id, "ok").unwrap();
    let incident = env
        .wait_incident(&id, "resolved", |i| i.status == "resolved")
        .await;
    assert_eq!(incident.id, existing_id);
    assert_eq!(env.incidents_for(&id).len(), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_live_lease_is_respected_until_it_lapses() {
    let env = Env::new().await;
    let id = env.notify_request("alice@example.com");
    // Another replica holds the request for 1.5 s more.
    let until = SystemTime::now() + Duration::from_millis(1500);
    let claim = format!("other-replica {}", unix_millis(until));
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "pagerduty",
            &[
                ("user", "alice@example.com"),
                ("roles", "dev"),
                ("claim", &claim),
            ],
        )
        .unwrap();

    let plugin = env.started(AutoApproval::default()).await;
    env.wait_incident(&id, "the incident after the lease lapsed", |_| true)
        .await;
    assert!(
        SystemTime::now() >= until,
        "the incident was opened while the other replica held the lease"
    );
    let data = env
        .wait_data(&id, "recorded", |d| {
            d.contains_key("incident_id") && d.get("claim").is_none_or(String::is_empty)
        })
        .await;
    assert_eq!(data["user"], "alice@example.com");
    assert_eq!(env.incidents_for(&id).len(), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn two_replicas_open_one_incident_and_post_each_note_once() {
    let env = Env::new().await;
    let first = env.start(AutoApproval::default(), Duration::from_secs(30));
    let second = env.start(AutoApproval::default(), Duration::from_secs(30));
    env.kit.wait_for_watchers(2, WAIT).await.unwrap();

    let ids: Vec<String> = (0..6)
        .map(|_| env.notify_request("alice@example.com"))
        .collect();
    for id in &ids {
        env.wait_data(id, "incident", |d| d.contains_key("incident_id"))
            .await;
    }
    for id in &ids {
        env.kit.review(id, "bob", Verdict::Approve, "fine").unwrap();
    }
    for id in &ids {
        env.wait_data(id, "closed", closed).await;
        let incidents = env.incidents_for(id);
        assert_eq!(incidents.len(), 1, "{incidents:#?}");
        assert_eq!(
            incidents[0].notes.len(),
            2,
            "one review note and one resolution note: {:#?}",
            incidents[0].notes
        );
        assert_eq!(incidents[0].status_changes.len(), 1);
    }
    assert_eq!(env.pd.call_count("POST /incidents"), 6);
    first.shutdown().await;
    second.shutdown().await;
}

#[tokio::test]
async fn a_go_plugin_record_is_continued() {
    let env = Env::new().await;
    let id = id_of(
        env.kit
            .new_request("alice@example.com", &["dev"])
            .threshold("three", 3, 3)
            .system_annotation(NOTIFY, &[NOTIFY_SERVICE])
            .create()
            .unwrap(),
    );
    env.kit.review(&id, "bob", Verdict::Approve, "one").unwrap();
    env.kit
        .review(&id, "carol", Verdict::Approve, "two")
        .unwrap();
    // The Go plugin opened the incident and relayed the first review, then was replaced.
    let (service_id, existing_id) = earlier_incident(&env, &id, "from Go").await;
    api(&env)
        .add_note(&existing_id, "bob reviewed the request (by Go)")
        .await
        .unwrap();
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "pagerduty",
            &[
                ("incident_id", &existing_id),
                ("service_id", &service_id),
                ("user", "alice@example.com"),
                ("roles", "dev"),
                ("created", "1700000000"),
                ("request_reason", ""),
                ("reviews_count", "1"),
            ],
        )
        .unwrap();

    let plugin = env.started(AutoApproval::default()).await;
    let incident = env
        .wait_incident(&id, "the second review relayed", |i| i.notes.len() == 2)
        .await;
    assert!(
        incident.notes[1]
            .content
            .starts_with("carol reviewed the request"),
        "{:#?}",
        incident.notes
    );
    env.wait_data(&id, "count", |d| {
        d.get("reviews_count").map(String::as_str) == Some("2")
    })
    .await;
    env.kit.deny(&id, "changed my mind").unwrap();
    let incident = env
        .wait_incident(&id, "resolved", |i| i.status == "resolved")
        .await;
    assert_eq!(incident.notes.len(), 3);
    let data = env.wait_data(&id, "closed", closed).await;
    assert_eq!(
        data["resolution"], "denied",
        "lower case, as the Go plugin writes it"
    );
    assert_eq!(data["created"], "1700000000", "Go's keys are kept");
    assert_eq!(env.incidents_for(&id).len(), 1);
    assert_eq!(env.request_state(&id).0, RequestState::Denied as i32);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_go_record_already_resolved_is_left_alone() {
    let env = Env::new().await;
    let id = env.notify_request("alice@example.com");
    let (service_id, existing_id) = earlier_incident(&env, &id, "from Go").await;
    env.kit.approve(&id, "done").unwrap();
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "pagerduty",
            &[
                ("incident_id", &existing_id),
                ("service_id", &service_id),
                ("user", "alice@example.com"),
                ("resolution", "approved"),
                ("resolve_reason", "done"),
            ],
        )
        .unwrap();
    let reads = env.kit.call_count(teleport_testkit::Method::GetPluginData);
    let plugin = env.started(AutoApproval::default()).await;
    // The catch-up pass reads the record...
    env.kit
        .wait_for("the record read", WAIT, |s| {
            s.call_count(teleport_testkit::Method::GetPluginData) > reads
        })
        .await
        .unwrap();
    // ...and, Go having closed the incident already, writes nothing to PagerDuty.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(env.pd.incident(&existing_id).unwrap().notes.is_empty());
    assert!(
        env.pd
            .calls()
            .iter()
            .all(|c| c.method != "PUT /incidents/{id}")
    );
    assert_eq!(env.data(&id)["resolution"], "approved");
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_failing_step_releases_its_lease_so_a_restart_does_not_wait() {
    let env = Env::new().await;
    env.pd
        .control()
        .fail_next_for("POST /incidents", 1000, Fault::ServerError { status: 503 });
    // A lease far longer than the test may wait.
    let first = env.start(AutoApproval::default(), Duration::from_secs(300));
    env.kit.wait_for_watchers(1, WAIT).await.unwrap();
    let id = env.notify_request("alice@example.com");
    env.pd
        .control()
        .wait_until(WAIT, || {
            (env.pd.call_count("POST /incidents") >= 2).then_some(())
        })
        .await
        .expect("the plugin keeps trying");
    first.shutdown().await;
    let data = env.data(&id);
    assert!(data.get("claim").is_none_or(String::is_empty), "{data:?}");
    assert!(!data.contains_key("incident_id"));

    env.pd.control().clear_faults();
    let second = env.start(AutoApproval::default(), Duration::from_secs(300));
    env.wait_incident(&id, "the incident, without waiting for a lease", |_| true)
        .await;
    assert_eq!(env.incidents_for(&id).len(), 1);
    second.shutdown().await;
}
