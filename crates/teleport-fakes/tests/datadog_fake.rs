//! The fake Datadog speaks Datadog's API as the plugin uses it: both keys required (403
//! otherwise), incidents created, searched, given timeline cells and resolved by `PATCH`,
//! the permissions list, the unstable On-Call teams with their users `included`, and
//! injected faults in Datadog's 429 shape.

use serde_json::{Value, json};
use teleport_fakes::datadog::{CREATE_INCIDENT, ON_CALL_TEAMS, SEARCH_INCIDENTS};
use teleport_fakes::{FakeDatadog, FakeDatadogOptions, Fault};

const API_KEY: &str = "dd-api";
const APP_KEY: &str = "dd-app";

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().expect("client")
}

async fn call_with(
    fake: &FakeDatadog,
    keys: (&str, &str),
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = client()
        .request(method, format!("{}{path}", fake.base_url()))
        .header("DD-API-KEY", keys.0)
        .header("DD-APPLICATION-KEY", keys.1);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn call(
    fake: &FakeDatadog,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let (status, _, body) = call_with(fake, (API_KEY, APP_KEY), method, path, body).await;
    (status, body)
}

fn options() -> FakeDatadogOptions {
    FakeDatadogOptions::default()
        .keys(API_KEY, APP_KEY)
        .team("Site Reliability", "sre", &["alice@example.com"])
        .team("Night", "night", &[])
}

#[tokio::test]
async fn incidents_are_created_annotated_and_resolved() {
    let fake = FakeDatadog::start(options()).await;
    let incident = json!({
        "data": {
            "type": "incidents",
            "attributes": {
                "title": "Access request from bob@example.com",
                "fields": {
                    "summary": { "type": "textbox", "value": "ID: r1\n" },
                    "state": { "type": "dropdown", "value": "active" },
                    "teams": { "type": "multiselect", "value": ["platform"] },
                },
                "notification_handles": [{ "handle": "@carol@example.com" }],
            },
        }
    });
    let (status, created) = call(
        &fake,
        reqwest::Method::POST,
        "/api/v2/incidents",
        Some(incident),
    )
    .await;
    assert_eq!(status, 201);
    let id = created["data"]["id"].as_str().expect("id").to_owned();

    let cell = json!({
        "data": {
            "type": "incident_timeline_cells",
            "attributes": { "cell_type": "markdown", "content": { "content": "a review" } },
        }
    });
    let path = format!("/api/v2/incidents/{id}/timeline");
    let (status, _) = call(&fake, reqwest::Method::POST, &path, Some(cell.clone())).await;
    assert_eq!(status, 201);
    let (status, _) = call(
        &fake,
        reqwest::Method::POST,
        "/api/v2/incidents/nope/timeline",
        Some(cell),
    )
    .await;
    assert_eq!(status, 404);

    let resolve = json!({
        "data": {
            "id": id,
            "type": "incidents",
            "attributes": { "fields": { "state": { "type": "dropdown", "value": "resolved" } } },
        }
    });
    let path = format!("/api/v2/incidents/{id}");
    let (status, updated) = call(&fake, reqwest::Method::PATCH, &path, Some(resolve)).await;
    assert_eq!(status, 200);
    assert_eq!(
        updated["data"]["attributes"]["fields"]["state"]["value"],
        "resolved"
    );

    let stored = fake.incidents();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].state(), "resolved");
    assert_eq!(stored[0].field_values("teams"), ["platform"]);
    assert_eq!(stored[0].notification_handles, ["@carol@example.com"]);
    assert_eq!(stored[0].timeline, ["a review"]);
}

fn new_incident(title: &str, summary: &str) -> Value {
    json!({
        "data": {
            "type": "incidents",
            "attributes": {
                "title": title,
                "fields": { "summary": { "type": "textbox", "value": summary } },
            },
        }
    })
}

/// The IDs of a search's hits, in the order answered.
fn hit_ids(answer: &Value) -> Vec<String> {
    answer["data"]["attributes"]["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .map(|hit| hit["data"]["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn incidents_are_searched_by_text_newest_first_a_page_at_a_time() {
    let fake = FakeDatadog::start(options()).await;
    let mut ids = Vec::new();
    for summary in ["ID: r-1\nUser: bob", "ID: r-2\nUser: bob", "ID: r-1\nagain"] {
        let body = new_incident("Access request from bob", summary);
        let (_, created) = call(
            &fake,
            reqwest::Method::POST,
            "/api/v2/incidents",
            Some(body),
        )
        .await;
        ids.push(created["data"]["id"].as_str().expect("id").to_owned());
    }
    let search = |query: &str| format!("/api/v2/incidents/search?{query}");

    let (status, answer) = call(
        &fake,
        reqwest::Method::GET,
        &search("query=%22r-1%22&sort=-created&page%5Bsize%5D=10"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["type"], "incidents_search_results");
    assert_eq!(answer["data"]["attributes"]["total"], 2);
    assert_eq!(hit_ids(&answer), [ids[2].clone(), ids[0].clone()]);
    let hit = &answer["data"]["attributes"]["incidents"][0]["data"];
    assert_eq!(hit["type"], "incidents");
    assert_eq!(
        hit["attributes"]["fields"]["summary"]["value"],
        "ID: r-1\nagain"
    );

    let (_, oldest) = call(
        &fake,
        reqwest::Method::GET,
        &search("query=bob&page[size]=1&page[offset]=1"),
        None,
    )
    .await;
    assert_eq!(
        hit_ids(&oldest),
        [ids[1].clone()],
        "creation order, offset 1"
    );
    assert_eq!(oldest["meta"]["pagination"]["next_offset"], 2);

    let (_, none) = call(
        &fake,
        reqwest::Method::GET,
        &search("query=%22r-3%22"),
        None,
    )
    .await;
    assert!(hit_ids(&none).is_empty());
    for bad in [
        "sort=-created",
        "query=state%3Aactive",
        "query=x&page[size]=101",
    ] {
        let (status, body) = call(&fake, reqwest::Method::GET, &search(bad), None).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["errors"][0].is_string(), "{body}");
    }
    assert_eq!(fake.call_count(SEARCH_INCIDENTS), 6);
}

#[tokio::test]
async fn a_lost_create_answer_still_stores_the_incident() {
    let fake = FakeDatadog::start(options()).await;
    fake.lose_create_answers(1);
    let body = new_incident("Access request from bob", "ID: r-1");
    let (status, _) = call(
        &fake,
        reqwest::Method::POST,
        "/api/v2/incidents",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 504);
    let (status, _) = call(
        &fake,
        reqwest::Method::POST,
        "/api/v2/incidents",
        Some(body),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(fake.incidents().len(), 2);
}

#[tokio::test]
async fn keys_permissions_on_call_teams_and_faults() {
    let fake = FakeDatadog::start(options().restrict("incident_write")).await;
    let (status, _, body) = call_with(
        &fake,
        (API_KEY, "wrong"),
        reqwest::Method::GET,
        "/api/v2/permissions",
        None,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body, json!({ "errors": ["Forbidden"] }));

    let (status, permissions) =
        call(&fake, reqwest::Method::GET, "/api/v2/permissions", None).await;
    assert_eq!(status, 200);
    let write = permissions["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|p| p["attributes"]["name"] == "incident_write")
        .expect("incident_write");
    assert_eq!(write["attributes"]["restricted"], true);

    let (status, teams) = call(
        &fake,
        reqwest::Method::GET,
        "/api/unstable/on-call/teams",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(teams["data"][0]["attributes"]["handle"], "sre");
    let user_id = teams["data"][0]["relationships"]["oncall_users"]["data"][0]["id"].clone();
    assert_eq!(teams["included"][0]["id"], user_id);
    assert_eq!(
        teams["included"][0]["attributes"]["email"],
        "alice@example.com"
    );
    assert_eq!(fake.call_count(ON_CALL_TEAMS), 1);

    fake.control().fail_next_for(
        CREATE_INCIDENT,
        1,
        Fault::RateLimited {
            retry_after_secs: 3,
        },
    );
    let (status, headers, _) = call_with(
        &fake,
        (API_KEY, APP_KEY),
        reqwest::Method::POST,
        "/api/v2/incidents",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(headers["X-RateLimit-Reset"], "3");
    assert_eq!(fake.call_count(CREATE_INCIDENT), 1);
}
