//! A request's whole life in Opsgenie: the alert (created asynchronously), review notes, the
//! alert closed on approval, denial or expiry, and 429/5xx retried without duplicates.

use crate::common;

use std::time::Duration;

use common::{Env, NOTIFY, TEAMS, approval};
use serde_json::json;
use teleport_fakes::Fault;
use teleport_fakes::opsgenie::{ADD_NOTE, ALERT_REQUEST, CLOSE_ALERT, CREATE_ALERT};
use teleport_testkit::Verdict;

#[tokio::test]
async fn alert_review_notes_and_close_on_approval() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    let id = env.request(
        "bob@example.com",
        &["dev"],
        &[
            (NOTIFY, &["Primary", "11111111-1111-4111-8111-111111111111"]),
            (TEAMS, &["Platform"]),
        ],
    );
    let alert = env.wait_alert(&id, "the alert", |_| true).await;
    assert_eq!(alert.message, "Access request from bob@example.com");
    assert!(
        alert
            .description
            .starts_with("bob@example.com requested permissions for roles dev on Teleport at "),
        "{}",
        alert.description
    );
    assert!(
        alert.description.contains("\nReason: fix the outage"),
        "{}",
        alert.description
    );
    assert_eq!(alert.priority, "P2");
    assert_eq!(
        alert.responders,
        [
            json!({ "type": "schedule", "name": "Primary" }),
            json!({ "type": "schedule", "id": "11111111-1111-4111-8111-111111111111" }),
            json!({ "type": "team", "name": "Platform" }),
        ]
    );
    // The ID is learned once Opsgenie has processed the create (the fake: second poll).
    let data = env
        .wait_data(&id, "the alert ID", |d| {
            d.get("alert_id").is_some_and(|a| !a.is_empty())
                && d.get("claim").is_none_or(String::is_empty)
        })
        .await;
    assert_eq!(data["alert_id"], alert.id);
    assert!(
        data.get("alert_request").is_none_or(String::is_empty),
        "{data:?}"
    );
    assert_eq!(data["user"], "bob@example.com");
    assert!(env.og.call_count(ALERT_REQUEST) >= 2);

    env.kit
        .review(&id, "carol@example.com", Verdict::Approve, "looks fine")
        .expect("review");
    env.wait_alert(&id, "the review note", |a| a.notes.len() == 1)
        .await;
    env.kit.approve(&id, "ship it").expect("approve");
    let closed = env
        .wait_alert(&id, "the close", |a| a.closed.is_some())
        .await;
    assert_eq!(closed.notes.len(), 1, "{:?}", closed.notes);
    assert!(
        closed.notes[0].starts_with("carol@example.com reviewed the request at "),
        "{:?}",
        closed.notes
    );
    assert!(
        closed.notes[0].ends_with("Resolution: APPROVED.\nReason: looks fine."),
        "{:?}",
        closed.notes
    );
    assert_eq!(
        closed.closed.as_deref(),
        Some("Access request has been approved\nReason: looks fine")
    );
    let data = env
        .wait_data(&id, "the record closed", |d| {
            d.get("close_progress").is_some_and(|p| p == "done")
        })
        .await;
    assert_eq!(data["resolution"], "approved");
    assert_eq!(data["reviews_count"], "1");
    assert_eq!(env.alerts_for(&id).len(), 1);
    assert_eq!(env.alerts_for(&id)[0].count, 1, "one create");
    plugin.shutdown().await;
}

#[tokio::test]
async fn denied_and_expired_requests_close_their_alerts() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    let denied = env.request("bob@example.com", &["dev"], &[(NOTIFY, &["Primary"])]);
    let expired = env.request("bob@example.com", &["ops"], &[(TEAMS, &["Platform"])]);
    for id in [&denied, &expired] {
        env.wait_data(id, "the alert ID", |d| {
            d.get("alert_id").is_some_and(|a| !a.is_empty())
                && d.get("claim").is_none_or(String::is_empty)
        })
        .await;
    }
    env.kit.deny(&denied, "not now").expect("deny");
    env.kit.expire(&expired).expect("expire");
    let alert = env
        .wait_alert(&denied, "denied", |a| a.closed.is_some())
        .await;
    assert_eq!(
        alert.closed.as_deref(),
        Some("Access request has been denied\nReason: not now")
    );
    let alert = env
        .wait_alert(&expired, "expired", |a| a.closed.is_some())
        .await;
    assert_eq!(
        alert.closed.as_deref(),
        Some("Access request has been expired")
    );
    env.wait_data(&expired, "recorded", |d| {
        d.get("resolution").is_some_and(|r| r == "expired")
    })
    .await;
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_request_without_schedules_or_teams_is_left_alone() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    let id = env.request("bob@example.com", &["dev"], &[]);
    // A request the plugin acts on, made after it, shows the first was seen and skipped.
    let other = env.request("bob@example.com", &["dev"], &[(NOTIFY, &["Primary"])]);
    env.wait_alert(&other, "the second alert", |_| true).await;
    assert!(env.alerts_for(&id).is_empty());
    assert!(env.kit.plugin_data(&id, "opsgenie").is_none());
    plugin.shutdown().await;
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_without_duplicates() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    let control = env.og.control();
    control.fail_next_for(
        CREATE_ALERT,
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    control.fail_next_for(CREATE_ALERT, 1, Fault::ServerError { status: 502 });
    control.fail_next_for(ALERT_REQUEST, 1, Fault::ServerError { status: 503 });
    let id = env.request("bob@example.com", &["dev"], &[(NOTIFY, &["Primary"])]);
    env.wait_data(&id, "the alert ID", |d| {
        d.get("alert_id").is_some_and(|a| !a.is_empty())
            && d.get("claim").is_none_or(String::is_empty)
    })
    .await;
    assert_eq!(env.og.call_count(CREATE_ALERT), 3, "2 faults + 1 create");
    assert_eq!(env.alerts_for(&id).len(), 1);

    control.fail_next_for(
        ADD_NOTE,
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    control.fail_next_for(CLOSE_ALERT, 1, Fault::ServerError { status: 500 });
    env.kit
        .review(&id, "carol@example.com", Verdict::Deny, "")
        .expect("review");
    let closed = env.wait_alert(&id, "closed", |a| a.closed.is_some()).await;
    assert_eq!(closed.notes.len(), 1, "one note: {:?}", closed.notes);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.og.call_count(ADD_NOTE), 2, "1 fault + 1 note");
    assert_eq!(env.og.call_count(CLOSE_ALERT), 2, "1 fault + 1 close");
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_go_plugin_record_is_continued() {
    let env = Env::new().await;
    let id = env.request("bob@example.com", &["dev"], &[(NOTIFY, &["Primary"])]);
    // What the hosted Go plugin left: its alert and its record, with one review noted.
    let go_alert = go_plugin_alert(&env, &id).await;
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "opsgenie",
            &[
                ("alert_id", go_alert.as_str()),
                ("service_id", ""),
                ("user", "bob@example.com"),
                ("roles", "dev"),
                ("request_reason", "fix the outage"),
                ("reviews_count", ""),
            ],
        )
        .expect("seed");
    let plugin = env.started(approval()).await;
    env.kit.deny(&id, "no").expect("deny");
    let closed = env.wait_alert(&id, "closed", |a| a.closed.is_some()).await;
    assert_eq!(closed.id, go_alert);
    assert_eq!(env.alerts_for(&id).len(), 1, "no second alert");
    assert_eq!(closed.count, 1, "no second create");
    plugin.shutdown().await;
}

/// Opens the request's alert as the Go plugin did, straight through the API; its ID.
async fn go_plugin_alert(env: &Env, id: &str) -> String {
    let http = teleport_plugin_runtime::http::http_client(&Default::default()).expect("http");
    let api = teleport_opsgenie::client::OpsgenieApi::new(
        http,
        &env.og.base_url(),
        teleport_plugin_runtime::config::Secret::new(common::API_KEY),
    )
    .expect("api");
    let request_id = api
        .create_alert(&teleport_opsgenie::client::NewAlert {
            message: "Access request from bob@example.com".into(),
            alias: format!("teleport-access-request/{id}"),
            description: "by the Go plugin".into(),
            responders: Vec::new(),
            priority: None,
        })
        .await
        .expect("create");
    loop {
        match api.alert_of_request(&request_id).await {
            Ok(alert) => return alert,
            Err(teleport_opsgenie::client::OpsgenieError::Processing) => {}
            Err(error) => panic!("{error}"),
        }
    }
}
