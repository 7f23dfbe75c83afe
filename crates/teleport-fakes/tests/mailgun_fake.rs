//! The fake Mailgun's events API: every accepted mail is an `accepted` event, filtered by
//! `message-id`, `event` and `begin`/`end` as documented, behind the key check and the
//! injected faults the messages API has.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use teleport_fakes::Fault;
use teleport_fakes::mailgun::{FakeMailgun, FakeMailgunOptions, MailgunMessage};

fn mail(to: &str, message_id: &str) -> MailgunMessage {
    MailgunMessage {
        domain: "mail.example.com".to_owned(),
        fields: vec![
            ("from".to_owned(), "teleport@example.com".to_owned()),
            ("to".to_owned(), to.to_owned()),
            ("subject".to_owned(), "Role Request r1".to_owned()),
            ("text".to_owned(), "hello".to_owned()),
            ("h:Message-Id".to_owned(), message_id.to_owned()),
        ],
        ..MailgunMessage::default()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn events(fake: &FakeMailgun, key: &str, query: &[(&str, String)]) -> (u16, Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::new()
        .get(format!("{}/mail.example.com/events", fake.api_base()))
        .basic_auth("api", Some(key))
        .query(query)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            e["message"]["headers"]["message-id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn accepted_mails_are_events_filtered_by_message_id_type_and_time() {
    let fake = FakeMailgun::start(FakeMailgunOptions::default()).await;
    fake.accept(mail("a@example.com", "<r1.a@example.com>"));
    fake.accept(mail("b@example.com", "<r1.b@example.com>"));
    let now = now_secs();
    let around = |id: &str| {
        vec![
            ("message-id", id.to_owned()),
            ("event", "accepted".to_owned()),
            ("begin", (now - 60).to_string()),
            ("end", (now + 60).to_string()),
        ]
    };

    let (status, page) = events(&fake, "key-fake", &around("r1.a@example.com")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(&page), ["r1.a@example.com"]);
    let event = &page["items"][0];
    assert_eq!(event["event"], "accepted");
    assert_eq!(event["recipient"], "a@example.com");
    let at = event["timestamp"].as_f64().expect("seconds");
    assert!((at - now as f64).abs() < 5.0, "{at} vs {now}");
    assert!(page["paging"]["next"].is_string());

    // No filter on the ID: both, oldest first; newest first when `end` comes before `begin`.
    let (_, page) = events(
        &fake,
        "key-fake",
        &[
            ("begin", (now - 60).to_string()),
            ("end", (now + 60).to_string()),
        ],
    )
    .await;
    assert_eq!(ids(&page), ["r1.a@example.com", "r1.b@example.com"]);
    let (_, page) = events(
        &fake,
        "key-fake",
        &[
            ("begin", (now + 60).to_string()),
            ("end", (now - 60).to_string()),
        ],
    )
    .await;
    assert_eq!(ids(&page), ["r1.b@example.com", "r1.a@example.com"]);

    // Outside the time range, another event type, an unknown ID: nothing.
    let (_, page) = events(
        &fake,
        "key-fake",
        &[
            ("message-id", "r1.a@example.com".to_owned()),
            ("begin", (now + 30).to_string()),
            ("end", (now + 60).to_string()),
        ],
    )
    .await;
    assert!(ids(&page).is_empty(), "{page}");
    let mut delivered = around("r1.a@example.com");
    delivered[1].1 = "delivered".to_owned();
    let (_, page) = events(&fake, "key-fake", &delivered).await;
    assert!(ids(&page).is_empty(), "{page}");
    let (_, page) = events(&fake, "key-fake", &around("r2.a@example.com")).await;
    assert!(ids(&page).is_empty(), "{page}");

    // A bad time is refused.
    let (status, _) = events(&fake, "key-fake", &[("begin", "soon".to_owned())]).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_events_api_checks_the_key_and_takes_the_injected_faults() {
    let fake = FakeMailgun::start(FakeMailgunOptions::default()).await;
    let query = [("message-id", "r1.a@example.com".to_owned())];
    let (status, _) = events(&fake, "key-wrong", &query).await;
    assert_eq!(status, 401);

    fake.control().fail_next_for(
        "events",
        1,
        Fault::RateLimited {
            retry_after_secs: 3,
        },
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::new()
        .get(format!("{}/mail.example.com/events", fake.api_base()))
        .basic_auth("api", Some("key-fake"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "3");

    fake.control()
        .refuse_all(Some(Fault::ServerError { status: 503 }));
    let (status, _) = events(&fake, "key-fake", &query).await;
    assert_eq!(status, 503);
    fake.control().refuse_all(None);
    let (status, _) = events(&fake, "key-fake", &query).await;
    assert_eq!(status, 200);
    assert_eq!(fake.control().call_count("events"), 4);
    assert_eq!(fake.control().call_count("messages"), 0);
}
