//! The fake Jira itself, over its own HTTPS: auth, the two search flavours (Cloud's removed
//! classic search, Data Center's missing `search/jql`), bounded JQL, paging, and faults.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use teleport_fakes::jira::Flavour;
use teleport_fakes::{FakeJira, FakeJiraOptions};

fn client(fake: &FakeJira) -> reqwest::Client {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(fake.ca_pem().as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}

async fn call(
    fake: &FakeJira,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client(fake)
        .request(method, format!("{}{path}", fake.base_url()))
        .basic_auth("jira-bot@example.com", Some("jira-api-token"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

const BOUNDED: &str = r#"project = "TD2" AND status in ("Approved", "Denied") AND updated >= "-10m" ORDER BY updated DESC"#;

#[tokio::test]
async fn cloud_search_pages_by_token_and_the_classic_search_is_gone() {
    let fake = FakeJira::start(FakeJiraOptions::default()).await;
    let bob = fake.add_user("Bob", "bob@example.com");
    for n in 0..3 {
        let id = fake.create_issue(
            &format!("issue {n}"),
            &[("teleportAccessRequestId", json!(format!("req-{n}")))],
        );
        fake.move_issue(&id, "Approved", &bob);
    }
    fake.create_issue("still pending", &[]);

    let (status, first) = call(
        &fake,
        reqwest::Method::POST,
        "/rest/api/2/search/jql",
        Some(json!({
            "jql": BOUNDED, "maxResults": 50, "fields": ["status"], "expand": "changelog",
            "properties": ["teleportAccessRequestId"],
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["issues"].as_array().unwrap().len(), 2, "pages of 2");
    assert_eq!(first["issues"][0]["fields"]["status"]["name"], "Approved");
    assert_eq!(
        first["issues"][0]["properties"]["teleportAccessRequestId"], "req-2",
        "newest first"
    );
    assert_eq!(
        first["issues"][0]["changelog"]["histories"][0]["author"]["accountId"],
        bob.account_id
    );
    let token = first["nextPageToken"].as_str().unwrap().to_owned();
    let (_, second) = call(
        &fake,
        reqwest::Method::POST,
        "/rest/api/2/search/jql",
        Some(json!({
            "jql": BOUNDED, "nextPageToken": token,
        })),
    )
    .await;
    assert_eq!(second["issues"].as_array().unwrap().len(), 1);
    assert_eq!(second["isLast"], true);

    let (status, gone) = call(
        &fake,
        reqwest::Method::GET,
        "/rest/api/2/search?jql=project%3DTD2",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::GONE);
    assert!(
        gone["errorMessages"][0]
            .as_str()
            .unwrap()
            .contains("search/jql")
    );
    let (status, _) = call(
        &fake,
        reqwest::Method::POST,
        "/rest/api/2/search/jql",
        Some(json!({"jql": "status = Approved"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unbounded JQL is refused on Cloud"
    );
    assert_eq!(fake.queries().len(), 3);
}

#[tokio::test]
async fn data_center_has_only_the_classic_search_and_user_names() {
    let fake = FakeJira::start(FakeJiraOptions::default().flavour(Flavour::DataCenter)).await;
    let carol = fake.add_user("Carol Admin", "carol@example.com");
    let id = fake.create_issue("x", &[]);
    fake.move_issue(&id, "Denied", &carol);
    let (status, _) = call(
        &fake,
        reqwest::Method::POST,
        "/rest/api/2/search/jql",
        Some(json!({"jql": BOUNDED})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, found) = call(&fake, reqwest::Method::GET, "/rest/api/2/search?jql=project%20%3D%20TD2%20AND%20updated%20%3E%3D%20%22-5m%22&expand=changelog", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["total"], 1);
    let author = &found["issues"][0]["changelog"]["histories"][0]["author"];
    assert_eq!(author["name"], "carol.admin");
    assert!(
        author.get("accountId").is_none(),
        "Data Center has no account IDs"
    );
}

#[tokio::test]
async fn auth_workflow_and_faults() {
    let fake = FakeJira::start(FakeJiraOptions::default()).await;
    let response = client(&fake)
        .get(format!("{}/rest/api/2/myself", fake.base_url()))
        .basic_auth("jira-bot@example.com", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let (status, created) = call(&fake, reqwest::Method::POST, "/rest/api/2/issue", Some(json!({
        "fields": {"project": {"key": "TD2"}, "issuetype": {"name": "Task"}, "summary": "s", "description": "d"},
        "properties": [{"key": "teleportAccessRequestId", "value": "req-1"}],
    }))).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, issue) = call(
        &fake,
        reqwest::Method::GET,
        &format!("/rest/api/2/issue/{id}?expand=transitions"),
        None,
    )
    .await;
    let to: Vec<&str> = issue["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["to"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(to, ["Approved", "Denied", "Expired"]);
    let (status, _) = call(
        &fake,
        reqwest::Method::POST,
        &format!("/rest/api/2/issue/{id}/transitions"),
        Some(json!({"transition": {"id": "21"}})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(fake.issue(&id).unwrap().status, "Approved");

    fake.control().rate_limit_next(1, 3);
    let response = client(&fake)
        .get(format!("{}/rest/api/2/myself", fake.base_url()))
        .basic_auth("jira-bot@example.com", Some("jira-api-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "3");
    assert_eq!(fake.call_count("GET /myself"), 2);
}
