//! The fake ServiceNow speaks the Table API and the on-call API as the plugin uses them:
//! basic auth, `{"result": ...}` answers, incidents created, noted and resolved (with the
//! close-info data policy), users, who is on call, and injected faults.

use serde_json::{Value, json};
use teleport_fakes::servicenow::{CREATE_INCIDENT, WHO_IS_ON_CALL};
use teleport_fakes::{FakeServiceNow, FakeServiceNowOptions, Fault};

async fn call(
    fake: &FakeServiceNow,
    method: reqwest::Method,
    path: &str,
    password: &str,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().build().expect("client");
    let mut request = client
        .request(method, format!("{}{path}", fake.base_url()))
        .basic_auth("svc", Some(password));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        headers,
    )
}

fn options() -> FakeServiceNowOptions {
    FakeServiceNowOptions::default()
        .credentials("svc", "pw")
        .user("u1", "alice")
        .rota("r1", &["u1"])
}

#[tokio::test]
async fn incidents_are_created_noted_and_resolved() {
    use reqwest::Method;
    let fake = FakeServiceNow::start(options()).await;
    let (status, _, _) = call(
        &fake,
        Method::GET,
        "/api/now/table/incident?sysparm_limit=1",
        "wrong",
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, body, _) = call(
        &fake,
        Method::GET,
        "/api/now/table/incident?sysparm_limit=1",
        "pw",
        None,
    )
    .await;
    assert_eq!((status, body), (200, json!({ "result": [] })));

    let (status, created, _) = call(
        &fake,
        Method::POST,
        "/api/now/v1/table/incident",
        "pw",
        Some(json!({ "short_description": "s", "description": "d", "caller_id": "alice", "correlation_id": "c1" })),
    )
    .await;
    assert_eq!(status, 201);
    let sys_id = created["result"]["sys_id"]
        .as_str()
        .expect("sys_id")
        .to_owned();
    let path = format!("/api/now/v1/table/incident/{sys_id}");
    let (status, _, _) = call(
        &fake,
        Method::PATCH,
        &path,
        "pw",
        Some(json!({ "work_notes": "n1" })),
    )
    .await;
    assert_eq!(status, 200);
    // Resolving without close info breaks the data policy.
    let (status, refused, _) = call(
        &fake,
        Method::PATCH,
        &path,
        "pw",
        Some(json!({ "incident_state": "6" })),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        refused["error"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("Data Policy")
    );
    let (status, _, _) = call(
        &fake,
        Method::PATCH,
        &path,
        "pw",
        Some(json!({ "incident_state": "6", "close_code": "Solution provided", "close_notes": "done" })),
    )
    .await;
    assert_eq!(status, 200);
    let incident = fake
        .with_state(|s| s.incident(&sys_id).cloned())
        .expect("incident");
    assert_eq!(incident.work_notes, ["n1"]);
    assert_eq!(incident.incident_state, "6");
    assert_eq!(incident.close_code, "Solution provided");
    assert_eq!(incident.caller_id, "alice");
    assert_eq!(fake.with_state(|s| s.incidents_correlated("c1").len()), 1);
    let (status, _, _) = call(
        &fake,
        Method::PATCH,
        "/api/now/v1/table/incident/nope",
        "pw",
        Some(json!({ "work_notes": "x" })),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn who_is_on_call_users_and_faults() {
    use reqwest::Method;
    let fake = FakeServiceNow::start(options()).await;
    let (status, body, _) = call(
        &fake,
        Method::GET,
        "/api/now/on_call_rota/whoisoncall?rota_ids=r1&date_time=2026-01-02%2015:04:05",
        "pw",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"][0]["userId"], "u1");
    let (status, _, _) = call(
        &fake,
        Method::GET,
        "/api/now/on_call_rota/whoisoncall?rota_ids=r1&date_time=tomorrow",
        "pw",
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, body, _) = call(
        &fake,
        Method::GET,
        "/api/now/table/sys_user/u1?sysparm_fields=user_name",
        "pw",
        None,
    )
    .await;
    assert_eq!(
        (status, body),
        (200, json!({ "result": { "user_name": "alice" } }))
    );
    let (status, _, _) = call(&fake, Method::GET, "/api/now/table/sys_user/u2", "pw", None).await;
    assert_eq!(status, 404);

    fake.control().fail_next_for(
        CREATE_INCIDENT,
        1,
        Fault::RateLimited {
            retry_after_secs: 3,
        },
    );
    let (status, _, headers) = call(
        &fake,
        Method::POST,
        "/api/now/v1/table/incident",
        "pw",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "3");
    fake.control()
        .fail_next_for(WHO_IS_ON_CALL, 1, Fault::ServerError { status: 503 });
    let (status, _, _) = call(
        &fake,
        Method::GET,
        "/api/now/on_call_rota/whoisoncall?rota_ids=r1",
        "pw",
        None,
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(fake.call_count(CREATE_INCIDENT), 1);
}
