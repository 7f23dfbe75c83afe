//! The fake Slack over real loopback HTTP with a plain reqwest client: shapes, auth, faults, down/up.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use teleport_fakes::{FakeSlack, FakeSlackOptions, Fault, RateLimit};

const TOKEN: &str = "xoxb-test-token";
const WAIT: Duration = Duration::from_secs(10);

fn client() -> reqwest::Client {
    // reqwest is built without a crypto provider; plain HTTP still needs one to build.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("reqwest client")
}

async fn fake() -> FakeSlack {
    FakeSlack::start(
        FakeSlackOptions::default()
            .token(TOKEN)
            .channel("C0001", "access-requests")
            .user("alice@example.com", "U0ALICE"),
    )
    .await
}

async fn call(fake: &FakeSlack, method: &str, body: Value) -> (u16, Option<String>, Value) {
    let response = client()
        .post(format!("{}{method}", fake.base_url()))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

#[tokio::test]
async fn auth_test_accepts_only_the_configured_bearer_token() {
    let fake = fake().await;
    let url = format!("{}auth.test", fake.base_url());

    let ok: Value = client()
        .post(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["ok"], true);
    for field in ["user_id", "team_id", "team", "url"] {
        assert!(ok[field].is_string(), "auth.test lacks {field}: {ok}");
    }

    let wrong: Value = client()
        .post(&url)
        .bearer_auth("xoxb-wrong")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wrong, json!({"ok": false, "error": "invalid_auth"}));

    let missing: Value = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(missing, json!({"ok": false, "error": "not_authed"}));

    // The form-encoded `token` argument is the other way Slack accepts a token.
    let form: Value = client()
        .post(&url)
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(form["ok"], true);
    assert_eq!(fake.call_count("auth.test"), 4);
}

#[tokio::test]
async fn post_reply_and_update_round_trip_with_history() {
    let fake = fake().await;
    let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]);

    let (status, _, root) = call(
        &fake,
        "chat.postMessage",
        json!({"channel": "#access-requests", "blocks": blocks}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(root["ok"], true, "{root}");
    assert_eq!(root["channel"], "C0001", "names resolve to the channel ID");
    let root_ts = root["ts"].as_str().unwrap().to_owned();
    assert_eq!(root["message"]["ts"], root_ts.as_str());
    assert_eq!(root["message"]["blocks"], blocks);

    let (_, _, reply) = call(
        &fake,
        "chat.postMessage",
        json!({"channel": "C0001", "thread_ts": root_ts, "text": "reviewed"}),
    )
    .await;
    assert_eq!(reply["ok"], true, "{reply}");
    let reply_ts = reply["ts"].as_str().unwrap().to_owned();
    assert!(
        reply_ts > root_ts,
        "ts must increase: {root_ts} then {reply_ts}"
    );

    // Form-encoded update with blocks as a JSON string, the way some clients send it.
    let updated: Value = client()
        .post(format!("{}chat.update", fake.base_url()))
        .bearer_auth(TOKEN)
        .form(&[
            ("channel", "C0001"),
            ("ts", root_ts.as_str()),
            (
                "blocks",
                r#"[{"type":"section","text":{"type":"mrkdwn","text":"approved"}}]"#,
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(updated["ok"], true, "{updated}");
    assert_eq!(updated["channel"], "C0001");
    assert_eq!(updated["ts"], root_ts.as_str());
    assert!(updated["message"].is_object());

    let roots = fake.root_messages();
    assert_eq!(roots.len(), 1);
    let replies = fake.thread_replies("C0001", &root_ts);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].posted.text.as_deref(), Some("reviewed"));
    let stored = fake.message("C0001", &root_ts).unwrap();
    assert_eq!(stored.posted.block_texts(), ["hello"]);
    assert_eq!(stored.edits.len(), 1);
    assert_eq!(stored.current().block_texts(), ["approved"]);
    assert!(stored.edits[0].received >= stored.received);
    assert_eq!(fake.messages().len(), 2);
    assert_eq!(fake.call_count("chat.postMessage"), 2);
    assert_eq!(fake.call_count("chat.update"), 1);
}

#[tokio::test]
async fn errors_use_slack_codes() {
    let fake = fake().await;
    let cases = [
        (
            "chat.postMessage",
            json!({"channel": "#nope", "text": "x"}),
            "channel_not_found",
        ),
        ("chat.postMessage", json!({"channel": "C0001"}), "no_text"),
        (
            "chat.postMessage",
            json!({"channel": "C0001", "text": "x".repeat(4001)}),
            "msg_too_long",
        ),
        (
            "chat.postMessage",
            json!({"channel": "C0001", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "y".repeat(3001)}}]}),
            "invalid_blocks",
        ),
        (
            "chat.postMessage",
            json!({"channel": "C0001", "thread_ts": "1.000001", "text": "x"}),
            "thread_not_found",
        ),
        (
            "chat.update",
            json!({"channel": "C0001", "ts": "1.000001", "text": "x"}),
            "message_not_found",
        ),
        (
            "users.lookupByEmail",
            json!({"email": "bob@example.com"}),
            "users_not_found",
        ),
        ("no.such.method", json!({}), "unknown_method"),
    ];
    for (method, body, code) in cases {
        let (status, _, answer) = call(&fake, method, body).await;
        assert_eq!(status, 200, "{method}");
        assert_eq!(answer, json!({"ok": false, "error": code}), "{method}");
    }
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn direct_messages_to_user_ids_and_lookup_by_email() {
    let fake = fake().await;
    let found: Value = client()
        .get(format!("{}users.lookupByEmail", fake.base_url()))
        .bearer_auth(TOKEN)
        .query(&[("email", "Alice@Example.com")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["ok"], true);
    assert_eq!(found["user"]["id"], "U0ALICE");
    assert_eq!(found["user"]["profile"]["email"], "Alice@Example.com");

    let bob = fake.add_user("bob@example.com");
    let (_, _, dm) = call(
        &fake,
        "chat.postMessage",
        json!({"channel": bob, "text": "hi"}),
    )
    .await;
    assert_eq!(dm["ok"], true, "{dm}");
    assert_eq!(dm["channel"], bob.as_str());
}

#[tokio::test]
async fn injected_429_carries_retry_after_then_recovers() {
    let fake = fake().await;
    fake.control().fail_next_for(
        "chat.postMessage",
        2,
        Fault::RateLimited {
            retry_after_secs: 3,
        },
    );
    let body = json!({"channel": "C0001", "text": "x"});

    // Other methods are not affected by a per-method fault.
    let (status, _, _) = call(&fake, "auth.test", json!({})).await;
    assert_eq!(status, 200);
    for _ in 0..2 {
        let (status, retry_after, answer) = call(&fake, "chat.postMessage", body.clone()).await;
        assert_eq!(status, 429);
        assert_eq!(retry_after.as_deref(), Some("3"));
        assert_eq!(answer["error"], "ratelimited");
    }
    let (status, _, answer) = call(&fake, "chat.postMessage", body).await;
    assert_eq!((status, answer["ok"].clone()), (200, json!(true)));
    assert_eq!(fake.call_count("chat.postMessage"), 3);
    assert_eq!(fake.messages().len(), 1, "faulted calls store nothing");
}

#[tokio::test]
async fn injected_5xx_and_rate_limit_mode() {
    let fake = fake().await;
    fake.control()
        .fail_next(1, Fault::ServerError { status: 503 });
    let (status, _, _) = call(&fake, "auth.test", json!({})).await;
    assert_eq!(status, 503);

    fake.control().set_rate_limit(Some(RateLimit {
        calls: 2,
        per: Duration::from_secs(60),
    }));
    let statuses: Vec<u16> = auth_test_statuses(&fake, 3).await;
    assert_eq!(statuses, [200, 200, 429]);
    fake.control().clear_faults();
    assert_eq!(call(&fake, "auth.test", json!({})).await.0, 200);
}

async fn auth_test_statuses(fake: &FakeSlack, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(call(fake, "auth.test", json!({})).await.0);
    }
    out
}

#[tokio::test]
async fn latency_delays_answers() {
    let fake = FakeSlack::start(
        FakeSlackOptions::default()
            .token(TOKEN)
            .latency(Duration::from_millis(50)),
    )
    .await;
    let started = Instant::now();
    assert_eq!(call(&fake, "auth.test", json!({})).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(50));
}

#[tokio::test]
async fn down_refuses_connections_and_up_serves_on_the_same_port() {
    let fake = fake().await;
    let client = client();
    let url = format!("{}auth.test", fake.base_url());
    let addr = fake.local_addr();
    // A pooled keep-alive connection must not survive `down`.
    assert!(
        client
            .post(&url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );

    fake.down().await;
    let err = client
        .post(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.is_connect() || err.is_request(),
        "expected a connection failure: {err:?}"
    );
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "port must be closed"
    );

    fake.up().await.unwrap();
    assert_eq!(fake.local_addr(), addr);
    let ok: Value = client
        .post(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["ok"], true);
}

#[tokio::test]
async fn wait_for_wakes_on_recorded_messages() {
    let fake = fake().await;
    let base = fake.base_url();
    let poster = tokio::spawn(async move {
        for i in 0..3 {
            client()
                .post(format!("{base}chat.postMessage"))
                .bearer_auth(TOKEN)
                .json(&json!({"channel": "C0001", "text": format!("m{i}")}))
                .send()
                .await
                .unwrap();
        }
    });
    let third = fake
        .wait_for(WAIT, |state| state.root_messages().nth(2).cloned())
        .await
        .expect("three messages");
    assert_eq!(third.posted.text.as_deref(), Some("m2"));
    poster.await.unwrap();

    let timed_out = fake
        .wait_for(Duration::from_millis(20), |state| {
            state.root_messages().nth(3).cloned()
        })
        .await;
    assert!(timed_out.is_err());
    assert_eq!(
        fake.wait_for_calls("chat.postMessage", 3, WAIT).await,
        Ok(3)
    );
}
