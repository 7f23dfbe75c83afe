//! The fake PagerDuty over real HTTP: auth, paging, the `From` rule, incident_key
//! de-duplication, notes, status changes, recorded calls and fault injection.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use teleport_fakes::pagerduty::{FakeOnCall, FakeSchedule};
use teleport_fakes::{FakePagerDuty, FakePagerDutyOptions, Fault};

const KEY: &str = "pd-test-key";

async fn fake() -> FakePagerDuty {
    FakePagerDuty::start(FakePagerDutyOptions::default().api_key(KEY).page_size(2)).await
}

fn client() -> reqwest::Client {
    // reqwest is built without a crypto provider; plain HTTP still needs one to build.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn get(fake: &FakePagerDuty, path_and_query: &str) -> (StatusCode, Value) {
    let response = client()
        .get(format!("{}{path_and_query}", fake.base_url()))
        .header("Authorization", format!("Token token={KEY}"))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn write(
    fake: &FakePagerDuty,
    method: reqwest::Method,
    path: &str,
    from: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut request = client()
        .request(method, format!("{}{path}", fake.base_url()))
        .header("Authorization", format!("Token token={KEY}"))
        .json(&body);
    if let Some(from) = from {
        request = request.header("From", from);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn new_incident(service: &str, key: &str) -> Value {
    json!({ "incident": {
        "type": "incident",
        "title": "Access request from alice",
        "service": { "id": service, "type": "service_reference" },
        "incident_key": key,
        "body": { "type": "incident_body", "details": "details" },
    }})
}

#[tokio::test]
async fn wrong_key_is_unauthorized() {
    let fake = fake().await;
    let response = client()
        .get(format!("{}/abilities", fake.base_url()))
        .header("Authorization", "Token token=wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Unauthorized");
    let (status, body) = get(&fake, "/abilities").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["abilities"].as_array().is_some_and(|a| !a.is_empty()));
}

#[tokio::test]
async fn lists_are_paged_and_filtered_by_query() {
    let fake = fake().await;
    for n in 0..5 {
        fake.add_user(&format!("User {n}"), &format!("user{n}@example.com"));
    }
    let (_, first) = get(&fake, "/users?limit=100").await;
    assert_eq!(first["users"].as_array().unwrap().len(), 2);
    assert_eq!(first["limit"], 2);
    assert_eq!(first["more"], true);
    let (_, last) = get(&fake, "/users?limit=100&offset=4").await;
    assert_eq!(last["users"][0]["email"], "user4@example.com");
    assert_eq!(last["more"], false);
    let (_, found) = get(&fake, "/users?query=USER3%40example").await;
    assert_eq!(found["users"].as_array().unwrap().len(), 1);
    assert_eq!(found["users"][0]["name"], "User 3");
}

#[tokio::test]
async fn services_name_their_policy_and_oncalls_filter_by_user_and_policy() {
    let fake = fake().await;
    let alice = fake.add_user("Alice", "alice@example.com");
    let bob = fake.add_user("Bob", "bob@example.com");
    let ep1 = fake.add_escalation_policy("EP one");
    let ep2 = fake.add_escalation_policy("EP two");
    fake.add_service("Service 1", &ep1);
    fake.add_oncall(FakeOnCall {
        user_id: alice.clone(),
        escalation_policy_id: ep1.clone(),
        escalation_level: 1,
        schedule: Some(FakeSchedule {
            id: "PSCHED1".into(),
            name: "Primary".into(),
        }),
    });
    fake.add_oncall(FakeOnCall {
        user_id: alice.clone(),
        escalation_policy_id: ep2.clone(),
        escalation_level: 2,
        schedule: None,
    });
    fake.add_oncall(FakeOnCall {
        user_id: bob,
        escalation_policy_id: ep1.clone(),
        escalation_level: 1,
        schedule: None,
    });

    let (_, services) = get(&fake, "/services?query=service%201").await;
    assert_eq!(
        services["services"][0]["escalation_policy"]["id"],
        ep1.as_str()
    );
    assert_eq!(
        services["services"][0]["escalation_policy"]["summary"],
        "EP one"
    );

    let (_, oncalls) = get(
        &fake,
        &format!("/oncalls?user_ids[]={alice}&escalation_policy_ids[]={ep1}"),
    )
    .await;
    let entries = oncalls["oncalls"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["escalation_level"], 1);
    assert_eq!(entries[0]["schedule"]["summary"], "Primary");
    assert_eq!(entries[0]["user"]["type"], "user_reference");

    let (_, both) = get(
        &fake,
        &format!("/oncalls?user_ids[]={alice}&escalation_policy_ids[]={ep1}&escalation_policy_ids[]={ep2}"),
    )
    .await;
    assert_eq!(both["oncalls"].as_array().unwrap().len(), 2);
    assert_eq!(both["oncalls"][1]["schedule"], Value::Null);
}

#[tokio::test]
async fn incidents_need_from_and_open_keys_are_not_duplicated() {
    let fake = fake().await;
    fake.add_user("Bot", "bot@example.com");
    let ep = fake.add_escalation_policy("EP");
    let service = fake.add_service("Notifications", &ep);

    let (status, body) = write(
        &fake,
        reqwest::Method::POST,
        "/incidents",
        None,
        new_incident(&service, "k1"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = write(
        &fake,
        reqwest::Method::POST,
        "/incidents",
        Some("nobody@example.com"),
        new_incident(&service, "k1"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, created) = write(
        &fake,
        reqwest::Method::POST,
        "/incidents",
        Some("bot@example.com"),
        new_incident(&service, "k1"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["incident"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["incident"]["status"], "triggered");

    let (status, duplicate) = write(
        &fake,
        reqwest::Method::POST,
        "/incidents",
        Some("bot@example.com"),
        new_incident(&service, "k1"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        duplicate["error"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("already exists")
    );

    let (_, by_key) = get(
        &fake,
        &format!("/incidents?incident_key=k1&service_ids[]={service}"),
    )
    .await;
    assert_eq!(by_key["incidents"][0]["id"], id.as_str());

    let (status, note) = write(
        &fake,
        reqwest::Method::POST,
        &format!("/incidents/{id}/notes"),
        Some("bot@example.com"),
        json!({"note": {"content": "hello"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(note["note"]["content"], "hello");

    let (status, _) = write(
        &fake,
        reqwest::Method::PUT,
        &format!("/incidents/{id}"),
        Some("bot@example.com"),
        json!({"incident": {"type": "incident_reference", "status": "resolved"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let incident = fake.incident(&id).unwrap();
    assert_eq!(incident.status, "resolved");
    assert_eq!(incident.notes[0].content, "hello");
    assert_eq!(
        incident.status_changes,
        [("resolved".to_owned(), "bot@example.com".to_owned())]
    );

    // A resolved incident no longer blocks its key.
    let (status, _) = write(
        &fake,
        reqwest::Method::POST,
        "/incidents",
        Some("bot@example.com"),
        new_incident(&service, "k1"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(fake.incidents().len(), 2);

    let calls = fake.calls();
    let creates: Vec<_> = calls
        .iter()
        .filter(|c| c.method == "POST /incidents")
        .collect();
    assert_eq!(creates.len(), 5);
    assert_eq!(creates[2].from.as_deref(), Some("bot@example.com"));
    assert_eq!(
        creates[2].body.as_ref().unwrap()["incident"]["incident_key"],
        "k1"
    );
    assert_eq!(creates[2].status, 201);
    assert!(calls.iter().any(|c| c.method == "PUT /incidents/{id}"));
    assert!(
        calls
            .iter()
            .any(|c| c.method == "POST /incidents/{id}/notes")
    );
}

#[tokio::test]
async fn faults_are_recorded_and_lost_responses_still_take_effect() {
    let fake = fake().await;
    fake.add_user("Bot", "bot@example.com");
    let ep = fake.add_escalation_policy("EP");
    let service = fake.add_service("Notifications", &ep);

    fake.control().fail_next_for(
        "GET /users",
        1,
        Fault::RateLimited {
            retry_after_secs: 7,
        },
    );
    let response = client()
        .get(format!("{}/users", fake.base_url()))
        .header("Authorization", format!("Token token={KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "7");
    fake.control().server_error_next(1);
    let (status, _) = get(&fake, "/users").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(fake.call_count("GET /users"), 2);
    assert_eq!(
        fake.calls().iter().map(|c| c.status).collect::<Vec<_>>(),
        [429, 500]
    );

    fake.lose_next_responses("POST /incidents", 1);
    let (status, _) = write(
        &fake,
        reqwest::Method::POST,
        "/incidents",
        Some("bot@example.com"),
        new_incident(&service, "k2"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        fake.incidents().len(),
        1,
        "the lost call still created the incident"
    );

    let waited = fake
        .wait_for(Duration::from_secs(5), |s| {
            s.incidents_with_key("k2").next().map(|i| i.id.clone())
        })
        .await
        .unwrap();
    assert_eq!(waited, fake.incidents()[0].id);
}
