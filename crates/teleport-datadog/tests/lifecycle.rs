//! A request's whole life in Datadog: the incident with Go's fields and notification
//! handles, a timeline cell per review, the resolution cell and `PATCH` to resolved on
//! approval, denial or expiry, 429/5xx retried without duplicates, an unrecorded create
//! (its answer lost, or its replica killed) found by a search instead of repeated, a Go
//! record continued, and the start-up check of the `incident_write` permission.

use crate::common;

use std::time::Duration;

use common::{Env, WAIT, approval, fake_options};
use teleport_fakes::Fault;
use teleport_fakes::datadog::{
    ADD_TIMELINE_CELL, CREATE_INCIDENT, SEARCH_INCIDENTS, UPDATE_INCIDENT,
};
use teleport_plugin_testsupport::{access_request, lapsed_lease, request_id, startup_error};
use teleport_testkit::{Verdict, access_monitoring_rule};

#[tokio::test]
async fn incident_review_cells_and_resolution_on_approval() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    let created = env
        .kit
        .new_request("bob@example.com", &["dev"])
        .reason("fix the outage")
        .suggested_reviewers(&["carol@example.com", "not an address"])
        .create()
        .expect("request");
    let id = request_id(&created);
    let incident = env.wait_incident(&id, "the incident", |_| true).await;
    assert_eq!(incident.title, "Access request from bob@example.com");
    let summary = incident.field("summary");
    assert!(
        summary.starts_with(&format!(
            "You have a new Access Request:\n\nID: {id}\nCluster: "
        )),
        "{summary}"
    );
    assert!(
        summary.contains("\nUser: bob@example.com\nRole(s): dev"),
        "{summary}"
    );
    assert_eq!(incident.state(), "active");
    assert_eq!(incident.field("detection_method"), "employee");
    assert_eq!(incident.field("severity"), "SEV-2");
    assert_eq!(incident.field("root_cause"), "fix the outage");
    // role_to_recipients' "dev" entry is a team; the suggested reviewer's address a handle.
    assert_eq!(incident.field_values("teams"), ["dev-team"]);
    assert_eq!(incident.notification_handles, ["@carol@example.com"]);
    assert_eq!(env.wait_incident_id(&id).await, incident.id);
    let data = env.data(&id);
    assert_eq!(data["user"], "bob@example.com");
    assert_eq!(data["roles"], "dev");
    assert_eq!(data["request_reason"], "fix the outage");

    env.kit
        .review(&id, "carol@example.com", Verdict::Approve, "looks fine")
        .expect("review");
    let resolved = env
        .wait_incident(&id, "the incident resolved", |i| i.state() == "resolved")
        .await;
    assert_eq!(
        resolved.timeline,
        [
            "carol@example.com reviewed the request.\nResolution: APPROVED.\nReason: looks fine.",
            "Access request is ✅ APPROVED\nReason: looks fine",
        ]
    );
    let data = env
        .wait_data(&id, "the record synced", |d| {
            d.get("synced").is_some_and(|s| s == "APPROVED")
                && d.get("claim").is_none_or(String::is_empty)
        })
        .await;
    assert_eq!(data["resolution"], "APPROVED", "Go's upper-case tag");
    assert_eq!(data["reviews_count"], "1");
    assert_eq!(env.incidents_for(&id).len(), 1);
    assert_eq!(env.dd.call_count(CREATE_INCIDENT), 1);
    assert_eq!(env.dd.call_count(UPDATE_INCIDENT), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn denied_and_expired_requests_resolve_their_incidents() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    let denied = env.request("bob@example.com", &["ops"], &[]);
    let expired = env.request("bob@example.com", &["ops"], &[]);
    for id in [&denied, &expired] {
        env.wait_incident_id(id).await;
    }
    // "ops" has no entry: the "*" recipients, an address as a handle and a team.
    let incident = &env.incidents_for(&denied)[0];
    assert_eq!(incident.field_values("teams"), ["platform"]);
    assert_eq!(incident.notification_handles, ["@oncall@example.com"]);

    env.kit.deny(&denied, "not now").expect("deny");
    env.kit.expire(&expired).expect("expire");
    let incident = env
        .wait_incident(&denied, "denied", |i| i.state() == "resolved")
        .await;
    assert_eq!(
        incident.timeline,
        ["Access request is ❌ DENIED\nReason: not now"]
    );
    let incident = env
        .wait_incident(&expired, "expired", |i| i.state() == "resolved")
        .await;
    assert_eq!(incident.timeline, ["Access request is ⌛ EXPIRED"]);
    env.wait_data(&expired, "recorded", |d| {
        d.get("resolution").is_some_and(|r| r == "EXPIRED")
            && d.get("synced").is_some_and(|s| s == "EXPIRED")
    })
    .await;
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_promoted_request_leaves_its_incident_open_as_go_does() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    let id = env.request("bob@example.com", &["dev"], &[]);
    let incident = env.wait_incident_id(&id).await;
    env.kit.promote(&id, "platform-access").expect("promote");
    let data = env
        .wait_data(&id, "the promotion recorded", |d| {
            d.get("synced").is_some_and(|s| s == "PROMOTED")
        })
        .await;
    assert_eq!(data["resolution"], "PROMOTED");
    let stored = env
        .dd
        .with_state(|s| s.incident(&incident).cloned())
        .expect("incident");
    assert_eq!(stored.state(), "active");
    assert!(stored.timeline.is_empty(), "{:?}", stored.timeline);
    assert_eq!(env.dd.call_count(UPDATE_INCIDENT), 0);
    plugin.shutdown().await;
}

#[tokio::test]
async fn an_access_monitoring_rule_routes_the_incident() {
    let env = Env::new().await;
    env.kit
        .upsert_access_monitoring_rule(access_monitoring_rule(
            "dba",
            "datadog",
            r#"access_request.spec.roles.contains("dba")"#,
            &["dba-oncall@example.com", "dba-team"],
        ));
    let plugin = env.started(approval()).await;
    let routed = env.request("bob@example.com", &["dba"], &[]);
    let incident = env
        .wait_incident(&routed, "the routed incident", |_| true)
        .await;
    assert_eq!(incident.field_values("teams"), ["dba-team"]);
    assert_eq!(incident.notification_handles, ["@dba-oncall@example.com"]);
    let other = env.request("bob@example.com", &["dev"], &[]);
    let incident = env
        .wait_incident(&other, "role_to_recipients", |_| true)
        .await;
    assert_eq!(incident.field_values("teams"), ["dev-team"]);
    assert!(incident.notification_handles.is_empty());
    plugin.shutdown().await;
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_without_duplicates() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    let control = env.dd.control();
    control.fail_next_for(
        CREATE_INCIDENT,
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    control.fail_next_for(CREATE_INCIDENT, 1, Fault::ServerError { status: 502 });
    let id = env.request("bob@example.com", &["dev"], &[]);
    env.wait_incident_id(&id).await;
    assert_eq!(env.dd.call_count(CREATE_INCIDENT), 3, "2 faults + 1 create");
    assert_eq!(env.incidents_for(&id).len(), 1);

    control.fail_next_for(
        ADD_TIMELINE_CELL,
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    control.fail_next_for(UPDATE_INCIDENT, 1, Fault::ServerError { status: 500 });
    env.kit
        .review(&id, "carol@example.com", Verdict::Deny, "")
        .expect("review");
    let resolved = env
        .wait_incident(&id, "resolved", |i| i.state() == "resolved")
        .await;
    assert_eq!(
        resolved.timeline,
        [
            "carol@example.com reviewed the request.\nResolution: DENIED.",
            "Access request is ❌ DENIED",
        ],
        "each cell once"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.dd.call_count(ADD_TIMELINE_CELL), 3, "1 fault + 2 cells");
    assert_eq!(env.dd.call_count(UPDATE_INCIDENT), 2, "1 fault + 1 update");
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_create_that_timed_out_after_datadog_processed_it_is_not_repeated() {
    let env = Env::new().await;
    let plugin = env.started(approval()).await;
    // Datadog stores the incident, but the answer is lost (a proxy's 504).
    env.dd.lose_create_answers(1);
    let id = env.request("bob@example.com", &["dev"], &[]);
    let recorded = env.wait_incident_id(&id).await;
    let incidents = env.incidents_for(&id);
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(recorded, incidents[0].id);
    assert_eq!(
        env.dd.call_count(CREATE_INCIDENT),
        1,
        "found, not created again"
    );
    assert_eq!(env.dd.call_count(SEARCH_INCIDENTS), 1, "one search");
    // A request whose create was answered is never searched for.
    let other = env.request("bob@example.com", &["dev"], &[]);
    env.wait_incident_id(&other).await;
    assert_eq!(env.dd.call_count(SEARCH_INCIDENTS), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn an_incident_created_by_a_replica_killed_before_recording_it_is_found_not_repeated() {
    let env = Env::new().await;
    let id = env.request("bob@example.com", &["dev"], &[]);
    // The killed replica's create reached Datadog; its record kept only its lease.
    let request = access_request(&id, "bob@example.com", &["dev"], "fix the outage");
    let summary = teleport_datadog::render::incident_summary(&request, "cluster", None);
    let created = create_incident(&env, &summary).await;
    // Newer, so the first hit: it quotes the ID, but not on its own `ID:` line.
    create_incident(&env, &format!("Follows up on {id}")).await;
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "datadog",
            &[
                ("user", "bob@example.com"),
                ("roles", "dev"),
                ("claim", &lapsed_lease()),
            ],
        )
        .expect("seed");
    let plugin = env.started(approval()).await;
    assert_eq!(
        env.wait_incident_id(&id).await,
        created,
        "the incident found is recorded"
    );
    assert_eq!(env.incidents_for(&id).len(), 1, "no second incident");
    assert_eq!(
        env.dd.call_count(CREATE_INCIDENT),
        2,
        "only the killed replica's and the follow-up's creates"
    );
    assert_eq!(env.dd.call_count(SEARCH_INCIDENTS), 1);
    let data = env.data(&id);
    assert_eq!(data["sent_to"], "dev-team", "{data:?}");
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_go_plugin_record_is_continued() {
    let env = Env::new().await;
    let id = env.request("bob@example.com", &["dev"], &[]);
    // What Go's teleport-datadog left: its incident and its record.
    let go_incident = go_plugin_incident(&env).await;
    let messages = format!("{go_incident}/{go_incident}");
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "datadog",
            &[
                ("user", "bob@example.com"),
                ("roles", "dev"),
                ("request_reason", "fix the outage"),
                ("reviews_count", ""),
                ("resolution", ""),
                ("resolve_reason", ""),
                ("messages", messages.as_str()),
            ],
        )
        .expect("seed");
    let plugin = env.started(approval()).await;
    env.kit
        .review(&id, "carol@example.com", Verdict::Deny, "no")
        .expect("review");
    let resolved = env
        .dd
        .wait_for(WAIT, |s| {
            s.incident(&go_incident)
                .filter(|i| i.state() == "resolved")
                .cloned()
        })
        .await
        .expect("the Go incident resolved");
    assert_eq!(
        resolved.timeline,
        [
            "carol@example.com reviewed the request.\nResolution: DENIED.\nReason: no.",
            "Access request is ❌ DENIED\nReason: no",
        ]
    );
    assert_eq!(env.dd.incidents().len(), 1, "no second incident");
    let data = env
        .wait_data(&id, "synced", |d| {
            d.get("synced").is_some_and(|s| s == "DENIED")
        })
        .await;
    assert_eq!(data["messages"], messages);
    assert_eq!(data["resolution"], "DENIED");
    plugin.shutdown().await;
}

#[tokio::test]
async fn start_up_fails_when_incident_write_is_restricted() {
    let env = Env::with(fake_options().restrict("incident_write")).await;
    let config = env.config(approval());
    let error = startup_error(Duration::from_secs(60), async move {
        teleport_datadog::run(config, Default::default()).await
    })
    .await;
    assert!(error.contains("incident_write"), "{error}");
    assert!(!error.contains(common::API_KEY) && !error.contains(common::APP_KEY));
    assert_eq!(env.dd.call_count(CREATE_INCIDENT), 0);
}

/// Creates an incident as the Go plugin did, straight through the API; its ID.
async fn go_plugin_incident(env: &Env) -> String {
    create_incident(env, "by the Go plugin").await
}

/// Creates an incident with this summary straight through the API; its ID.
async fn create_incident(env: &Env, summary: &str) -> String {
    let http = teleport_plugin_runtime::http::http_client(&Default::default()).expect("http");
    let api = teleport_datadog::client::DatadogApi::new(
        http,
        &env.dd.base_url(),
        teleport_plugin_runtime::config::Secret::new(common::API_KEY),
        teleport_plugin_runtime::config::Secret::new(common::APP_KEY),
    )
    .expect("api");
    api.create_incident(&teleport_datadog::client::NewIncident {
        title: "Access request from bob@example.com".into(),
        summary: summary.into(),
        severity: "SEV-3".into(),
        root_cause: String::new(),
        teams: vec!["dev-team".into()],
        notification_handles: Vec::new(),
    })
    .await
    .expect("create")
}
