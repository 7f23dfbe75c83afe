//! A request's whole life in Teams: cards to people (the app installed for them) and
//! channels, reviews shown by replacing the cards, the outcome, expiry, and Microsoft's
//! rate limits and server errors retried without duplicates.

use crate::common;

use common::*;
use teleport_fakes::Fault;
use teleport_fakes::msteams::{INSTALL_APP, MsActivity, POST_ACTIVITY, PUT_ACTIVITY, TOKEN};
use teleport_msteams::record::TeamsMessage;
use teleport_testkit::Verdict;

fn stored_messages(env: &Env, id: &str) -> Vec<TeamsMessage> {
    let data = env.kit.plugin_data(id, "msteams").expect("data");
    data["messages"]
        .split(',')
        .map(|m| TeamsMessage::decode(m).expect("Go's encoding"))
        .collect()
}

#[tokio::test]
async fn cards_to_people_and_a_channel_show_reviews_and_the_approval() {
    let env = Env::start(fake_options()).await;
    let link = channel_link(CHANNEL, GROUP);
    let path = env.write_config(
        SECRET,
        false,
        &format!("\"*\" = [\"{BOB}\", \"{CAROL_ID}\", \"{link}\"]"),
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    let request = env
        .kit
        .new_request("alice@example.com", &["editor"])
        .reason("deploy the hotfix")
        .threshold("two approvals", 2, 1)
        .suggested_reviewers(&["dave@example.com"])
        .create()
        .expect("request");
    let id = request_id(&request);

    // One card each: Bob's chat (the app installed for him first), Carol's, the channel;
    // the suggested reviewer is unknown to the tenant and skipped.
    let activities = env
        .fake
        .wait_for(WAIT, |s| {
            (s.activities.len() == 3).then(|| s.activities.clone())
        })
        .await
        .expect("three cards");
    let bob_chat = chat_of(&env.fake, BOB_ID).expect("app installed for Bob");
    let carol_chat = chat_of(&env.fake, CAROL_ID).expect("Carol's chat");
    let mut conversations: Vec<_> = activities.iter().map(|a| a.conversation.clone()).collect();
    conversations.sort();
    let mut expected = vec![bob_chat.clone(), carol_chat, CHANNEL.to_owned()];
    expected.sort();
    assert_eq!(conversations, expected);
    assert_eq!(
        env.fake.call_count(INSTALL_APP),
        1,
        "installed for Bob only"
    );
    let card = &activities[0];
    assert_eq!(card.region, "emea");
    assert_eq!(card.posted.activity["type"], "message");
    assert!(
        card.posted.activity["from"]["id"]
            .as_str()
            .is_some_and(|from| from.starts_with("29:")),
        "{}",
        card.posted.activity
    );
    let text = card.text();
    for expected in [
        format!("Access Request {id}"),
        "⏳".to_owned(),
        "PENDING".to_owned(),
        "teleport.example.com".to_owned(),
        "alice@example.com".to_owned(),
        "editor".to_owned(),
        "deploy the hotfix".to_owned(),
        format!("tsh request review --approve {id}"),
        format!("tsh request review --deny {id}"),
    ] {
        assert!(text.contains(&expected), "{expected} in {text}");
    }
    assert_eq!(card.current()["version"], "1.2");

    // Plugin data in Go's form: base64 JSON {id, ts, rid}, rid as configured.
    env.wait_for_messages_saved(&id, 3).await;
    let mut rids: Vec<_> = stored_messages(&env, &id)
        .into_iter()
        .map(|m| {
            assert!(env.fake.with_state(|s| s.activity(&m.id).is_some()));
            assert!(m.timestamp.ends_with(" UTC"), "{}", m.timestamp);
            m.recipient
        })
        .collect();
    rids.sort();
    let mut configured = vec![BOB.to_owned(), CAROL_ID.to_owned(), link.clone()];
    configured.sort();
    assert_eq!(rids, configured);
    let data = env.kit.plugin_data(&id, "msteams").expect("data");
    assert_eq!(data["user"], "alice@example.com");
    assert_eq!(data["roles"], "editor");

    // A review replaces every card, still pending, with a "Reviews" section.
    env.kit
        .review(&id, "carol@example.com", Verdict::Approve, "looks fine")
        .expect("review");
    env.fake
        .wait_for(WAIT, |s| {
            s.activities
                .iter()
                .all(|a| a.updates.len() == 1)
                .then_some(())
        })
        .await
        .expect("an update per card");
    for activity in env.fake.activities() {
        let text = activity.text();
        assert!(text.contains("PENDING"), "{text}");
        assert!(text.contains("Reviews"), "{text}");
        assert!(text.contains("carol@example.com"), "{text}");
        assert!(text.contains("looks fine"), "{text}");
    }

    // The approval: each card replaced once more.
    env.kit.approve(&id, "ship it").expect("approve");
    env.wait_for_synced(&id, "APPROVED").await;
    for activity in env.fake.activities() {
        assert_eq!(activity.updates.len(), 2, "replaced exactly twice");
        let text = activity.text();
        assert!(text.contains("✅"), "{text}");
        assert!(text.contains("APPROVED"), "{text}");
        assert!(text.contains("Resolution reason"), "{text}");
        assert!(text.contains("ship it"), "{text}");
        assert!(!text.contains("tsh request review"), "{text}");
        assert!(
            text.contains("looks fine"),
            "the review still shows: {text}"
        );
    }
    let data = env.kit.plugin_data(&id, "msteams").expect("data");
    assert_eq!(data["resolution"], "APPROVED");
    assert_eq!(data["resolve_reason"], "ship it");
    assert_eq!(data["reviews_count"], "1");
    plugin.shutdown().await;
}

fn only_card(env: &Env) -> MsActivity {
    env.fake
        .with_state(|s| s.activities.first().cloned())
        .expect("a card")
}

#[tokio::test]
async fn a_denying_review_resolves_with_one_replacement() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(SECRET, false, &format!("\"*\" = \"{CAROL}\""));
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    env.wait_for_messages_saved(&id, 1).await;

    env.kit
        .review(&id, "bob@example.com", Verdict::Deny, "not now")
        .expect("review");
    env.wait_for_synced(&id, "DENIED").await;
    let card = only_card(&env);
    assert_eq!(card.updates.len(), 1, "the review and the outcome in one");
    let text = card.text();
    assert!(text.contains("❌"), "{text}");
    assert!(text.contains("DENIED"), "{text}");
    assert!(text.contains("not now"), "{text}");
    assert_eq!(
        card.current()["body"][1]["columns"][1]["items"][0]["color"],
        "Attention"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn an_expired_request_is_marked_expired() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(SECRET, false, &format!("\"*\" = \"{CAROL}\""));
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    env.wait_for_messages_saved(&id, 1).await;
    env.kit.expire(&id).expect("expire");
    env.wait_for_synced(&id, "EXPIRED").await;
    let card = only_card(&env);
    assert_eq!(card.updates.len(), 1);
    let text = card.text();
    assert!(text.contains("⌛"), "{text}");
    assert!(text.contains("EXPIRED"), "{text}");
    assert!(text.contains("alice@example.com"), "{text}");
    assert!(!text.contains("tsh request review"), "{text}");
    plugin.shutdown().await;
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_without_duplicates() {
    let env = Env::start(fake_options()).await;
    let link = channel_link(CHANNEL, GROUP);
    let path = env.write_config(SECRET, false, &format!("\"*\" = [\"{CAROL}\", \"{link}\"]"));
    // The first token request fails too: nothing can be sent until it passes.
    env.fake
        .control()
        .fail_next_for(TOKEN, 1, Fault::ServerError { status: 503 });
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    let control = env.fake.control();
    control.fail_next_for(
        POST_ACTIVITY,
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    control.fail_next_for(POST_ACTIVITY, 1, Fault::ServerError { status: 502 });
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    env.wait_for_messages_saved(&id, 2).await;
    assert_eq!(
        env.fake.with_state(|s| s.activities.len()),
        2,
        "one card each"
    );
    assert_eq!(env.fake.call_count(POST_ACTIVITY), 4, "2 faults + 2 cards");

    control.fail_next_for(
        PUT_ACTIVITY,
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    control.fail_next_for(PUT_ACTIVITY, 1, Fault::ServerError { status: 503 });
    env.kit.deny(&id, "no").expect("deny");
    env.wait_for_synced(&id, "DENIED").await;
    env.fake.with_state(|s| {
        for activity in &s.activities {
            assert_eq!(activity.updates.len(), 1, "replaced once");
            assert!(activity.text().contains("DENIED"));
        }
    });
    assert_eq!(env.fake.call_count(PUT_ACTIVITY), 4, "2 faults + 2 updates");
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_concurrent_install_conflict_is_ignored() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(SECRET, false, &format!("\"*\" = \"{BOB}\""));
    // Another replica installs at the same moment: Graph answers 409 Conflict.
    env.fake.conflict_next_installs(1);
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    env.wait_for_messages_saved(&id, 1).await;
    let bob_chat = chat_of(&env.fake, BOB_ID).expect("installed");
    assert_eq!(only_card(&env).conversation, bob_chat);
    assert_eq!(
        env.fake.call_count(INSTALL_APP),
        1,
        "the 409 is not retried"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn an_installation_graph_does_not_list_yet_is_retried() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(SECRET, false, &format!("\"*\" = \"{BOB}\""));
    // Graph shows a new installation only from the second lookup after the install.
    env.fake.set_install_lag(1);
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    env.wait_for_messages_saved(&id, 1).await;
    let bob_chat = chat_of(&env.fake, BOB_ID).expect("installed");
    assert_eq!(only_card(&env).conversation, bob_chat);
    assert_eq!(env.fake.with_state(|s| s.activities.len()), 1, "one card");
    let data = env.kit.plugin_data(&id, "msteams").expect("data");
    assert!(
        data.get("failed_to").is_none_or(String::is_empty),
        "not given up: {data:?}"
    );
    assert_eq!(stored_messages(&env, &id)[0].recipient, BOB);
    // Looked up before the install, after it (not listed yet), and again on the retry.
    let lookups = env
        .fake
        .call_count("GET /graph/v1.0/users/{user}/teamwork/installedApps");
    assert_eq!(lookups, 3);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_go_plugin_record_is_continued() {
    let env = Env::start(fake_options()).await;
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    // What Go's plugin left: its card in Carol's chat and its record.
    let carol_chat = chat_of(&env.fake, CAROL_ID).expect("chat");
    let activity = env.fake.add_activity(
        &carol_chat,
        serde_json::json!({ "type": "AdaptiveCard", "body": [] }),
    );
    let message = TeamsMessage {
        id: activity.clone(),
        timestamp: "02 Jan 26 15:04 UTC".into(),
        recipient: CAROL.into(),
    };
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "msteams",
            &[
                ("user", "alice@example.com"),
                ("roles", "editor"),
                ("request_reason", "deploy"),
                ("reviews_count", ""),
                ("messages", message.encode().as_str()),
            ],
        )
        .expect("seed");

    let path = env.write_config(SECRET, false, &format!("\"*\" = \"{CAROL}\""));
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    env.kit.approve(&id, "").expect("approve");
    env.wait_for_synced(&id, "APPROVED").await;
    let card = env
        .fake
        .with_state(|s| s.activity(&activity).cloned())
        .expect("Go's card");
    assert_eq!(card.updates.len(), 1, "Go's card replaced");
    assert!(card.text().contains("APPROVED"), "{}", card.text());
    assert_eq!(
        env.fake.with_state(|s| s.activities.len()),
        1,
        "nothing re-posted"
    );
    plugin.shutdown().await;
}
