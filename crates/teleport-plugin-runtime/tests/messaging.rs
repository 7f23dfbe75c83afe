//! The messaging state machine against the in-process Teleport: lifecycle,
//! catch-up, restarts, replicas, retries, Go-state continuation.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{Harness, PLUGIN, RecordingBot, Sent, WAIT, data, eventually};
use teleport_testkit::{Method, Verdict};

#[tokio::test]
async fn lifecycle_posts_relays_reviews_and_resolves_once() {
    let h = Harness::new().await;
    let bot = Arc::new(RecordingBot::default());
    let plugin = h.start_plugin(bot.clone(), "r1");

    let request = h
        .kit
        .create_request("alice@example.com", &["dev"], "deploy hotfix")
        .unwrap();
    let id = request.metadata.unwrap().name;
    eventually("two root messages", WAIT, || bot.requests_sent().len() == 2).await;
    let mut recipients: Vec<_> = bot.requests_sent().into_iter().map(|(_, r)| r).collect();
    recipients.sort();
    assert_eq!(recipients, ["chan-a", "chan-b"]);

    // Go-compatible keys are written.
    let stored = h
        .kit
        .wait_for_plugin_data(&id, PLUGIN, "messages", WAIT)
        .await
        .unwrap();
    assert_eq!(stored["user"], "alice@example.com");
    assert_eq!(stored["roles"], "dev");
    assert_eq!(stored["request_reason"], "deploy hotfix");
    assert_eq!(stored["messages"].split(',').count(), 2);

    h.kit
        .review(&id, "bob", Verdict::Approve, "fine by me")
        .unwrap();
    eventually("review replies on both messages", WAIT, || {
        bot.sent()
            .iter()
            .filter(|s| matches!(s, Sent::Review { .. }))
            .count()
            == 2
    })
    .await;
    eventually("both messages updated to APPROVED", WAIT, || {
        bot.sent()
            .iter()
            .filter(|s| matches!(s, Sent::Update { status, .. } if status == "APPROVED"))
            .count()
            == 2
    })
    .await;
    eventually("requester told", WAIT, || {
        bot.sent()
            .iter()
            .any(|s| matches!(s, Sent::Requester { status, .. } if status == "APPROVED"))
    })
    .await;
    eventually("lease released", WAIT, || {
        data(&h.kit, &id).get("claim").is_none_or(String::is_empty)
    })
    .await;
    let stored = data(&h.kit, &id);
    assert_eq!(stored["resolution"], "APPROVED");
    assert_eq!(stored["reviews_count"], "1");

    // A later expiry of an approved request changes nothing.
    h.kit.expire(&id).unwrap();
    let before = bot.sent().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        bot.sent().len(),
        before,
        "nothing is sent after resolution: {:?}",
        bot.sent()
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn expiry_marks_every_message_expired() {
    let h = Harness::new().await;
    let bot = Arc::new(RecordingBot::default());
    let plugin = h.start_plugin(bot.clone(), "r1");
    let id = h
        .kit
        .create_request("alice", &["dba"], "")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    // "dba" has its own entry, so "*" is not added.
    eventually("one message", WAIT, || bot.requests_sent().len() == 1).await;
    assert_eq!(bot.requests_sent()[0].1, "dba-team");
    eventually("recorded", WAIT, || {
        data(&h.kit, &id).contains_key("messages")
    })
    .await;
    h.kit.expire(&id).unwrap();
    eventually("expired", WAIT, || {
        bot.sent()
            .iter()
            .any(|s| matches!(s, Sent::Update { status, .. } if status == "EXPIRED"))
    })
    .await;
    eventually("resolution stored", WAIT, || {
        data(&h.kit, &id).get("resolution").map(String::as_str) == Some("EXPIRED")
    })
    .await;
    // As Go's Slack plugin: the requester hears of every outcome, expiry included, once.
    eventually("requester told of the expiry", WAIT, || {
        bot.sent()
            .iter()
            .any(|s| matches!(s, Sent::Requester { .. }))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        bot.sent()
            .iter()
            .filter(|s| matches!(s, Sent::Requester { .. }))
            .count(),
        1
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn requests_made_while_down_are_posted_at_start_and_a_restart_does_not_repost() {
    let h = Harness::new().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            h.kit
                .create_request("alice", &["dev"], &format!("r{n}"))
                .unwrap()
                .metadata
                .unwrap()
                .name,
        );
    }
    // Resolved before the plugin ever saw it: nothing to post.
    let approved = h
        .kit
        .create_request("carol", &["dev"], "old")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    h.kit.approve(&approved, "done").unwrap();

    let bot = Arc::new(RecordingBot::default());
    let plugin = h.start_plugin(bot.clone(), "first");
    eventually("6 root messages", WAIT, || bot.requests_sent().len() == 6).await;
    for id in &ids {
        eventually("recorded", WAIT, || {
            let d = data(&h.kit, id);
            d.get("messages").is_some_and(|m| m.split(',').count() == 2)
                && d.get("claim").is_none_or(String::is_empty)
        })
        .await;
    }
    plugin.shutdown().await;

    let reads_before = h.kit.call_count(Method::GetPluginData);
    let plugin = h.start_plugin(bot.clone(), "second");
    // The catch-up pass reads every request's data; then nothing more is sent.
    eventually("catch-up pass done", WAIT, || {
        h.kit.call_count(Method::GetPluginData) >= reads_before + 4
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        bot.requests_sent().len(),
        6,
        "restart re-posted: {:?}",
        bot.sent()
    );
    assert!(!bot.requests_sent().iter().any(|(id, _)| id == &approved));

    // And it continues where the first process left off.
    h.kit.review(&ids[0], "bob", Verdict::Deny, "no").unwrap();
    eventually("deny relayed and resolved", WAIT, || {
        bot.sent()
            .iter()
            .filter(|s| matches!(s, Sent::Update { status, .. } if status == "DENIED"))
            .count()
            == 2
    })
    .await;
    plugin.shutdown().await;
}

#[tokio::test]
async fn two_replicas_post_each_of_200_requests_exactly_once() {
    let h = Harness::new().await;
    let bot = Arc::new(RecordingBot::default());
    let a = h.start_plugin(bot.clone(), "replica-a");
    let b = h.start_plugin(bot.clone(), "replica-b");
    h.kit.wait_for_watchers(2, WAIT).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..200 {
        ids.push(
            h.kit
                .create_request(&format!("user{n}"), &["dba"], "burst")
                .unwrap()
                .metadata
                .unwrap()
                .name,
        );
    }
    eventually("200 posts", Duration::from_secs(60), || {
        bot.requests_sent().len() >= 200
    })
    .await;
    for id in &ids {
        eventually("settled", WAIT, || {
            let d = data(&h.kit, id);
            d.contains_key("messages") && d.get("claim").is_none_or(String::is_empty)
        })
        .await;
    }
    let sent = bot.requests_sent();
    let unique: std::collections::HashSet<_> = sent.iter().collect();
    assert_eq!(sent.len(), 200, "duplicates posted");
    assert_eq!(unique.len(), 200);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn transient_failures_are_retried_until_posted_once() {
    let h = Harness::new().await;
    let bot = Arc::new(RecordingBot::default());
    bot.transient_failures.store(5, Ordering::SeqCst);
    let plugin = h.start_plugin(bot.clone(), "r1");
    let id = h
        .kit
        .create_request("alice", &["dev"], "")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    eventually("both posted despite the outage", WAIT, || {
        bot.requests_sent().len() == 2
    })
    .await;
    assert_eq!(bot.transient_failures.load(Ordering::SeqCst), 0);
    eventually("settled", WAIT, || {
        data(&h.kit, &id).get("claim").is_none_or(String::is_empty)
    })
    .await;
    assert_eq!(bot.requests_sent().len(), 2);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_broken_recipient_does_not_block_the_others() {
    let h = Harness::new().await;
    let bot = Arc::new(RecordingBot::default());
    bot.broken_recipients
        .lock()
        .unwrap()
        .insert("chan-a".into());
    let plugin = h.start_plugin(bot.clone(), "r1");
    let id = h
        .kit
        .create_request("alice", &["dev"], "")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    eventually("chan-b posted", WAIT, || bot.requests_sent().len() == 1).await;
    eventually("failure recorded", WAIT, || {
        data(&h.kit, &id).get("failed_to").map(String::as_str) == Some("chan-a")
    })
    .await;
    assert_eq!(bot.requests_sent()[0].1, "chan-b");
    plugin.shutdown().await;
}

#[tokio::test]
async fn stream_drop_and_server_restart_lose_nothing() {
    let h = Harness::new().await;
    let bot = Arc::new(RecordingBot::default());
    let plugin = h.start_plugin(bot.clone(), "r1");
    h.kit.wait_for_watchers(1, WAIT).await.unwrap();

    h.kit.drop_watchers();
    h.kit
        .create_request("alice", &["dba"], "during drop")
        .unwrap();
    eventually("posted after the drop", WAIT, || {
        bot.requests_sent().len() == 1
    })
    .await;

    h.kit.stop().await;
    h.kit.create_request("bob", &["dba"], "while down").unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    h.kit.restart().await.unwrap();
    eventually("posted after the restart", WAIT, || {
        bot.requests_sent().len() == 2
    })
    .await;
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_dead_replicas_lease_lapses_and_only_the_rest_is_sent() {
    let h = Harness::new().await;
    let id = h
        .kit
        .create_request("alice", &["dev"], "")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    let until = SystemTime::now() + Duration::from_millis(1500);
    let millis = until
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let claim = format!("dead-replica {millis}");
    h.kit
        .put_plugin_data(
            "access_request",
            &id,
            PLUGIN,
            &[
                ("user", "alice"),
                ("roles", "dev"),
                ("claim", &claim),
                ("recipients", "chan-a,chan-b"),
                ("sent_to", "chan-a"),
                ("messages", "chan-a/77"),
            ],
        )
        .unwrap();
    let bot = Arc::new(RecordingBot::default());
    let plugin = h.start_plugin(bot.clone(), "survivor");
    eventually("the rest is sent", WAIT, || bot.requests_sent().len() == 1).await;
    assert_eq!(bot.requests_sent()[0].1, "chan-b");
    assert!(SystemTime::now() >= until, "sent before the lease lapsed");
    eventually("recorded", WAIT, || {
        data(&h.kit, &id)["messages"].split(',').count() == 2
    })
    .await;
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_go_plugins_state_is_continued() {
    let h = Harness::new().await;
    let id = h
        .kit
        .create_request("alice", &["dev"], "legacy")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    h.kit
        .put_plugin_data(
            "access_request",
            &id,
            PLUGIN,
            &[
                ("user", "alice"),
                ("roles", "dev"),
                ("request_reason", "legacy"),
                ("messages", "C0GO/1700000000.000100"),
            ],
        )
        .unwrap();
    let bot = Arc::new(RecordingBot::default());
    let plugin = h.start_plugin(bot.clone(), "upgraded");
    h.kit.wait_for_watchers(1, WAIT).await.unwrap();
    h.kit.review(&id, "bob", Verdict::Approve, "ok").unwrap();
    eventually("resolved in the Go message", WAIT, || {
        bot.sent().iter().any(|s| matches!(s, Sent::Update { message, status } if message == "C0GO/1700000000.000100" && status == "APPROVED"))
    })
    .await;
    assert!(bot.requests_sent().is_empty(), "no second broadcast");
    assert!(bot.sent().contains(&Sent::Review {
        message: "C0GO/1700000000.000100".into(),
        author: "bob".into()
    }));
    plugin.shutdown().await;
}
