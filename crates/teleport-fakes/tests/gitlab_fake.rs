//! The fake GitLab over real HTTP: auth, the project by ID and by path, paging with `Link`,
//! labels and "already exists", hooks (create, update, 404, delete), issues with filters and
//! updates that record label events and system notes, members (direct and inherited),
//! faults, down/up, and the `Issue Hook` delivered with its secret.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use teleport_fakes::gitlab::{ISSUE_HOOK, access};
use teleport_fakes::{FakeGitlab, FakeGitlabOptions, Fault};

const TOKEN: &str = "glpat-test";

async fn fake() -> FakeGitlab {
    FakeGitlab::start(
        FakeGitlabOptions::default()
            .token(TOKEN)
            .project(42, "ops/access")
            .user(7, "maria", Some(access::MAINTAINER))
            .user(8, "rita", Some(access::REPORTER))
            .inherited_member(9, "owen", access::OWNER)
            .user(10, "stranger", None),
    )
    .await
}

fn client() -> reqwest::Client {
    // reqwest is built without a crypto provider; plain HTTP still needs one to build.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn call(
    fake: &FakeGitlab,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let url = if path.starts_with("http") {
        path.to_owned()
    } else {
        format!("{}/api/v4{path}", fake.base_url())
    };
    let mut request = client().request(method, url).header("PRIVATE-TOKEN", TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// Every item of a list, following `rel="next"` links.
async fn all_pages(fake: &FakeGitlab, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut next = Some(path.to_owned());
    while let Some(path) = next {
        let (status, headers, page) = call(fake, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        items.extend(page.as_array().unwrap().iter().cloned());
        next = next_link(&headers);
    }
    items
}

fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(", ")
        .find(|part| part.ends_with("rel=\"next\""))
        .and_then(|part| part.split(['<', '>']).nth(1))
        .map(str::to_owned)
}

#[tokio::test]
async fn auth_and_the_project_by_id_and_path() {
    let fake = fake().await;
    let anonymous = client()
        .get(format!("{}/api/v4/projects/42", fake.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body, json!({ "message": "401 Unauthorized" }));

    let (status, _, by_id) = call(&fake, Method::GET, "/projects/42", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_id["path_with_namespace"], "ops/access");
    let (status, _, by_path) = call(&fake, Method::GET, "/projects/ops%2Faccess", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_path["id"], 42);
    let (status, _, missing) = call(&fake, Method::GET, "/projects/43", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["message"], "404 Project Not Found");

    let (_, _, me) = call(&fake, Method::GET, "/user", None).await;
    assert_eq!(me["username"], "teleport-bot");
}

#[tokio::test]
async fn labels_page_with_link_headers_and_refuse_duplicates() {
    let fake = fake().await;
    for (name, color) in [("a", "#111111"), ("b", "#222222"), ("c", "#333333")] {
        let (status, _, label) = call(
            &fake,
            Method::POST,
            "/projects/42/labels",
            Some(json!({ "name": name, "color": color })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(label["name"], name);
    }
    let (status, _, body) = call(
        &fake,
        Method::POST,
        "/projects/42/labels",
        Some(json!({ "name": "a", "color": "#444444" })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["message"], "Label already exists");

    let (_, headers, first) = call(&fake, Method::GET, "/projects/42/labels", None).await;
    assert_eq!(first.as_array().unwrap().len(), 2, "page_size caps pages");
    assert_eq!(headers["x-total"], "3");
    let next = next_link(&headers).expect("a next link");
    let (_, headers, second) = call(&fake, Method::GET, &next, None).await;
    assert_eq!(second[0]["name"], "c");
    assert!(next_link(&headers).is_none(), "the last page has no next");
}

#[tokio::test]
async fn hooks_need_a_maintainer_and_update_404_and_delete() {
    let fake = fake().await;
    let (status, _, hook) = call(
        &fake,
        Method::POST,
        "/projects/42/hooks",
        Some(json!({ "url": "https://plugin.example.com/webhook", "token": "s3cret", "issues_events": true, "push_events": false })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(hook.get("token").is_none(), "the secret is never shown");
    let id = hook["id"].as_u64().unwrap();
    let (status, _, _) = call(
        &fake,
        Method::PUT,
        &format!("/projects/42/hooks/{id}"),
        Some(json!({ "url": "https://plugin.example.com/webhook", "token": "n3w" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let stored = fake.hooks();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].token, "n3w");
    assert!(stored[0].issues_events && !stored[0].push_events);
    assert_eq!(stored[0].updates, 1);

    let (status, _, body) = call(
        &fake,
        Method::PUT,
        "/projects/42/hooks/999",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "404 Not found");
    let (status, _, _) = call(
        &fake,
        Method::DELETE,
        &format!("/projects/42/hooks/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(fake.hooks().is_empty());

    let developer = FakeGitlab::start(
        FakeGitlabOptions::default()
            .token(TOKEN)
            .project(42, "ops/access")
            .bot_access(access::DEVELOPER),
    )
    .await;
    let (status, _, _) = call(&developer, Method::GET, "/projects/42/hooks", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn issues_filters_updates_notes_and_label_events() {
    let fake = fake().await;
    let (status, _, issue) = call(
        &fake,
        Method::POST,
        "/projects/42/issues",
        Some(json!({ "title": "Access request from alice", "description": "Request ID is `r1`.", "labels": "Teleport: Pending" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(issue["labels"], json!(["Teleport: Pending"]));
    let iid = issue["iid"].as_u64().unwrap();
    fake.open_issue_as(7, "unrelated", "no id here");

    let (_, _, found) = call(
        &fake,
        Method::GET,
        "/projects/42/issues?search=r1&in=description",
        None,
    )
    .await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    let since = found[0]["updated_at"].as_str().unwrap().to_owned();
    let (_, _, opened) = call(
        &fake,
        Method::GET,
        &format!(
            "/projects/42/issues?state=opened&updated_after={since}&order_by=updated_at&sort=asc"
        ),
        None,
    )
    .await;
    assert_eq!(opened.as_array().unwrap().len(), 2);

    let change = fake.add_label_as(iid, 8, "Teleport: Approved");
    assert_eq!(change.previous, ["Teleport: Pending"]);
    assert_eq!(change.current, ["Teleport: Pending", "Teleport: Approved"]);
    fake.add_note_as(iid, 8, "approving, on call");

    let (status, _, closed) = call(
        &fake,
        Method::PUT,
        &format!("/projects/42/issues/{iid}"),
        Some(json!({ "state_event": "close", "remove_labels": "Teleport: Pending", "add_labels": "Teleport: Denied" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(closed["state"], "closed");
    assert_eq!(
        closed["labels"],
        json!(["Teleport: Approved", "Teleport: Denied"])
    );
    let (_, _, opened) = call(&fake, Method::GET, "/projects/42/issues?state=opened", None).await;
    assert_eq!(
        opened.as_array().unwrap().len(),
        1,
        "the closed one is filtered out"
    );

    let events = all_pages(
        &fake,
        &format!("/projects/42/issues/{iid}/resource_label_events?per_page=100"),
    )
    .await;
    let summary: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            (
                e["user"]["username"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["label"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let row = |u: &str, a: &str, l: &str| (u.to_owned(), a.to_owned(), l.to_owned());
    assert_eq!(
        summary,
        [
            row("teleport-bot", "add", "Teleport: Pending"),
            row("rita", "add", "Teleport: Approved"),
            row("teleport-bot", "remove", "Teleport: Pending"),
            row("teleport-bot", "add", "Teleport: Denied"),
        ]
    );

    let notes = all_pages(&fake, &format!("/projects/42/issues/{iid}/notes?sort=asc")).await;
    let users: Vec<&Value> = notes.iter().filter(|n| n["system"] == false).collect();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["body"], "approving, on call");
    assert_eq!(users[0]["author"]["username"], "rita");
    assert!(
        notes
            .iter()
            .any(|n| n["system"] == true && n["body"] == "closed")
    );
}

#[tokio::test]
async fn members_direct_and_inherited() {
    let fake = fake().await;
    let (status, _, maria) = call(&fake, Method::GET, "/projects/42/members/all/7", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (maria["username"].clone(), maria["access_level"].clone()),
        (json!("maria"), json!(40))
    );
    let (status, _, owen) = call(&fake, Method::GET, "/projects/42/members/all/9", None).await;
    assert_eq!(
        (status, owen["access_level"].clone()),
        (StatusCode::OK, json!(50))
    );
    let (status, _, _) = call(&fake, Method::GET, "/projects/42/members/9", None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "inherited members are only in members/all"
    );
    let (status, _, _) = call(&fake, Method::GET, "/projects/42/members/all/10", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn faults_and_down_up() {
    let fake = fake().await;
    fake.control().fail_next(
        1,
        Fault::RateLimited {
            retry_after_secs: 7,
        },
    );
    fake.control().fail_next_for(
        "GET /api/v4/projects/{project}",
        1,
        Fault::ServerError { status: 502 },
    );
    let response = client()
        .get(format!("{}/api/v4/projects/42/labels", fake.base_url()))
        .header("PRIVATE-TOKEN", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "7");
    let (status, _, body) = call(&fake, Method::GET, "/projects/42", None).await;
    assert_eq!(
        (status, body["message"].clone()),
        (StatusCode::BAD_GATEWAY, json!("502 Bad Gateway"))
    );
    assert_eq!(fake.call_count("GET /api/v4/projects/{project}"), 1);

    fake.down().await;
    let refused = client()
        .get(format!("{}/api/v4/projects/42", fake.base_url()))
        .send()
        .await;
    assert!(refused.is_err());
    fake.up().await.unwrap();
    let (status, _, _) = call(&fake, Method::GET, "/projects/42", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn issue_hook_is_delivered_with_the_hooks_secret() {
    let fake = fake().await;
    type Seen = Arc<Mutex<Vec<(HeaderMap, Value)>>>;
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/webhook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let record = record.clone();
            async move {
                let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                record.lock().unwrap().push((headers, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    fake.add_hook(&url, "hook-secret");
    let iid = fake.open_issue_as(1, "Access request from alice", "Request ID is `r1`.");
    fake.add_label_as(iid, 1, "Teleport: Pending");
    let change = fake.add_label_as(iid, 7, "Teleport: Approved");
    let body = fake
        .issue_hook_body(iid, 7, "update", Some(&change))
        .unwrap();
    let results = fake.deliver_issue_hook(&client(), &body).await;
    assert_eq!(results, [(url.clone(), Ok(204))]);

    let seen = seen.lock().unwrap();
    let (headers, body) = &seen[0];
    assert_eq!(headers["x-gitlab-event"], ISSUE_HOOK);
    assert_eq!(headers["x-gitlab-token"], "hook-secret");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body["object_kind"], "issue");
    assert_eq!(body["user"]["username"], "maria");
    assert_eq!(body["object_attributes"]["iid"], iid);
    assert_eq!(body["object_attributes"]["action"], "update");
    let titles = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|l| l["title"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        titles(&body["changes"]["labels"]["previous"]),
        ["Teleport: Pending"]
    );
    assert_eq!(
        titles(&body["changes"]["labels"]["current"]),
        ["Teleport: Pending", "Teleport: Approved"]
    );
}
