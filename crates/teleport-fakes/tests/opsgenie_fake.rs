//! The fake Opsgenie speaks Opsgenie's v2 alert API: asynchronous creates de-duplicated by
//! alias, notes, closing, on-call participants, the key check and injected faults.

use serde_json::{Value, json};
use teleport_fakes::opsgenie::{ALERT_REQUEST, CREATE_ALERT};
use teleport_fakes::{FakeOpsgenie, FakeOpsgenieOptions, Fault};

const KEY: &str = "genie-key";

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().expect("client")
}

async fn call(
    fake: &FakeOpsgenie,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client()
        .request(method, format!("{}{path}", fake.base_url()))
        .header("Authorization", format!("GenieKey {KEY}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn alerts_are_created_asynchronously_deduplicated_noted_and_closed() {
    let fake = FakeOpsgenie::start(
        FakeOpsgenieOptions::default()
            .api_key(KEY)
            .processing_polls(1),
    )
    .await;
    let alert = json!({
        "message": "Access request from alice@example.com",
        "alias": "teleport-access-request/r1",
        "description": "why",
        "responders": [{ "type": "schedule", "name": "Primary" }],
        "priority": "P3",
    });
    let (status, created) = call(
        &fake,
        reqwest::Method::POST,
        "/v2/alerts",
        Some(alert.clone()),
    )
    .await;
    assert_eq!(status, 202);
    let request_id = created["requestId"].as_str().expect("requestId").to_owned();

    // Not processed on the first poll, then the alert ID.
    let path = format!("/v2/alerts/requests/{request_id}");
    let (status, _) = call(&fake, reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 404);
    let (status, done) = call(&fake, reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 200);
    let alert_id = done["data"]["alertId"]
        .as_str()
        .expect("alertId")
        .to_owned();
    assert_eq!(fake.call_count(ALERT_REQUEST), 2);

    // The same alias while open: the same alert, counted twice.
    let (_, again) = call(
        &fake,
        reqwest::Method::POST,
        "/v2/alerts",
        Some(alert.clone()),
    )
    .await;
    let path = format!(
        "/v2/alerts/requests/{}",
        again["requestId"].as_str().unwrap()
    );
    call(&fake, reqwest::Method::GET, &path, None).await;
    let (_, done) = call(&fake, reqwest::Method::GET, &path, None).await;
    assert_eq!(done["data"]["alertId"], alert_id.as_str());
    assert_eq!(fake.alerts().len(), 1);
    assert_eq!(fake.alerts()[0].count, 2);

    let notes = format!("/v2/alerts/{alert_id}/notes?identifierType=id");
    let (status, _) = call(
        &fake,
        reqwest::Method::POST,
        &notes,
        Some(json!({ "note": "reviewed" })),
    )
    .await;
    assert_eq!(status, 202);
    let close = format!("/v2/alerts/{alert_id}/close?identifierType=id");
    let (status, _) = call(
        &fake,
        reqwest::Method::POST,
        &close,
        Some(json!({ "note": "approved" })),
    )
    .await;
    assert_eq!(status, 202);
    let stored = fake
        .with_state(|s| s.alert(&alert_id).cloned())
        .expect("alert");
    assert_eq!(stored.notes, ["reviewed"]);
    assert_eq!(stored.closed.as_deref(), Some("approved"));
    assert_eq!(stored.priority, "P3");

    // A closed alert's alias opens a new alert.
    call(&fake, reqwest::Method::POST, "/v2/alerts", Some(alert)).await;
    assert_eq!(fake.alerts().len(), 2);
    let (status, _) = call(
        &fake,
        reqwest::Method::POST,
        "/v2/alerts/nope/notes?identifierType=id",
        Some(json!({ "note": "x" })),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn on_call_participants_by_schedule_name() {
    let fake = FakeOpsgenie::start(FakeOpsgenieOptions::default().api_key(KEY).schedule(
        "11111111-1111-4111-8111-111111111111",
        "Primary",
        &["bob@example.com"],
    ))
    .await;
    let path = "/v2/schedules/Primary/on-calls?scheduleIdentifierType=name&flat=true";
    let (status, body) = call(&fake, reqwest::Method::GET, path, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["onCallRecipients"], json!(["bob@example.com"]));
    assert_eq!(body["data"]["_parent"]["name"], "Primary");
    fake.set_on_call("Primary", &[]);
    let (_, body) = call(&fake, reqwest::Method::GET, path, None).await;
    assert_eq!(body["data"]["onCallRecipients"], json!([]));
    let (status, _) = call(
        &fake,
        reqwest::Method::GET,
        "/v2/schedules/Nope/on-calls?scheduleIdentifierType=name&flat=true",
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_wrong_key_and_injected_faults() {
    let fake = FakeOpsgenie::start(FakeOpsgenieOptions::default().api_key(KEY)).await;
    let response = client()
        .get(format!(
            "{}/v2/heartbeats/teleport-access-heartbeat/ping",
            fake.base_url()
        ))
        .header("Authorization", "GenieKey wrong")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 401);
    let (status, _) = call(
        &fake,
        reqwest::Method::GET,
        "/v2/heartbeats/teleport-access-heartbeat/ping",
        None,
    )
    .await;
    assert_eq!(status, 202);

    fake.control().fail_next_for(
        CREATE_ALERT,
        1,
        Fault::RateLimited {
            retry_after_secs: 2,
        },
    );
    let response = client()
        .post(format!("{}/v2/alerts", fake.base_url()))
        .header("Authorization", format!("GenieKey {KEY}"))
        .json(&json!({ "message": "m" }))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(response.headers()["x-ratelimit-state"], "THROTTLED");
    let (status, _) = call(
        &fake,
        reqwest::Method::POST,
        "/v2/alerts",
        Some(json!({ "message": "" })),
    )
    .await;
    assert_eq!(status, 422);
}
