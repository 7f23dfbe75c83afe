//! The opt-in look-up of a posted card (`[msapi] lookup_posted`). A replica killed between
//! the Bot Framework accepting a card and recording it leaves a lapsed lease; with the
//! look-up on, the replica taking over finds the card in Graph's listing of the chat or
//! channel (newest first, a page at a time) and records it instead of posting again, and
//! later updates replace it. Off (the default, as Go) nothing is read and the card is
//! posted again; without the read permission (403) the card is posted once and the log
//! names the permission.

use crate::common;

use std::time::Duration;

use common::*;
use teleport_fakes::msteams::{LIST_CHANNEL_MESSAGES, LIST_CHAT_MESSAGES, POST_ACTIVITY};
use teleport_msteams::record::TeamsMessage;
use teleport_msteams::render;
use teleport_plugin_runtime::messaging::{RequestView, Status};
use teleport_plugin_testsupport::{
    access_request, lapsed_lease, log_file, start_plugin, terminate,
};

const BINARY: &str = env!("CARGO_BIN_EXE_teleport-msteams");
const LOOKUP_ON: &str = "lookup_posted = true";

/// The card this plugin posts for a pending request `id`.
fn card_for(id: &str) -> serde_json::Value {
    render::request_card(&RequestView {
        request: access_request(id, "alice@example.com", &["editor"], ""),
        cluster: "teleport.example.com".into(),
        web_base: None,
        status: Status::Pending,
        resolve_reason: String::new(),
        resources: Vec::new(),
        logins_by_role: Default::default(),
    })
}

fn other_request(n: u32) -> String {
    format!("0e1d2c3b-0000-4000-8000-{n:012}")
}

/// The cards in `conversation` made for request `id`.
fn cards_of(env: &Env, conversation: &str, id: &str) -> Vec<String> {
    env.fake.with_state(|s| {
        s.in_conversation(conversation)
            .filter(|a| render::request_id_of(&a.posted.card) == Some(id))
            .map(|a| a.id.clone())
            .collect()
    })
}

fn stored_message(env: &Env, id: &str) -> TeamsMessage {
    let data = env.kit.plugin_data(id, "msteams").expect("data");
    TeamsMessage::decode(&data["messages"]).expect("one message in Go's encoding")
}

/// A request whose card the killed replica posted to `conversation` — after another
/// request's card and before five more, so the look-up pages — without recording it; its
/// lease lapsed a moment ago. Returns the request ID and the card's activity ID.
fn killed_after_posting(env: &Env, conversation: &str) -> (String, String) {
    let request = env
        .kit
        .new_request("alice@example.com", &["editor"])
        .create()
        .expect("request");
    let id = request_id(&request);
    env.fake
        .add_activity(conversation, card_for(&other_request(1)));
    let posted = env.fake.add_activity(conversation, card_for(&id));
    for n in 2..7 {
        env.fake
            .add_activity(conversation, card_for(&other_request(n)));
    }
    let lapsed = lapsed_lease();
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "msteams",
            &[
                ("user", "alice@example.com"),
                ("roles", "editor"),
                ("claim", &lapsed),
            ],
        )
        .expect("the killed replica's record");
    (id, posted)
}

#[tokio::test]
async fn a_card_posted_by_a_replica_killed_before_recording_it_is_found_not_repeated() {
    let env = Env::start(fake_options().message_page_size(2)).await;
    let chat = chat_of(&env.fake, CAROL_ID).expect("Carol has the app");
    let (id, posted) = killed_after_posting(&env, &chat);

    let recipients = format!("\"*\" = \"{CAROL}\"");
    let path = env.write_config_with(SECRET, false, &recipients, LOOKUP_ON);
    let plugin = env.spawn(&path);
    env.wait_for_messages_saved(&id, 1).await;
    let stored = stored_message(&env, &id);
    assert_eq!(stored.id, posted);
    assert_eq!(stored.recipient, CAROL);
    assert!(stored.timestamp.ends_with(" UTC"), "{}", stored.timestamp);
    assert_eq!(cards_of(&env, &chat, &id), std::slice::from_ref(&posted));
    assert_eq!(
        env.fake.call_count(POST_ACTIVITY),
        0,
        "nothing posted again"
    );
    assert!(
        env.fake.call_count(LIST_CHAT_MESSAGES) >= 3,
        "paged back to the card: five newer cards, two a page"
    );

    // The card found is the one the outcome replaces.
    env.kit.approve(&id, "ship it").expect("approve");
    env.wait_for_synced(&id, "APPROVED").await;
    let card = env
        .fake
        .with_state(|s| s.activity(&posted).cloned())
        .expect("the card");
    assert_eq!(card.updates.len(), 1);
    assert!(card.text().contains("APPROVED"), "{}", card.text());
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_card_in_a_channel_is_found_through_the_channels_listing() {
    let env = Env::start(fake_options().message_page_size(3)).await;
    let (id, posted) = killed_after_posting(&env, CHANNEL);

    let link = channel_link(CHANNEL, GROUP);
    let recipients = format!("\"*\" = \"{link}\"");
    let path = env.write_config_with(SECRET, false, &recipients, LOOKUP_ON);
    let plugin = env.spawn(&path);
    env.wait_for_messages_saved(&id, 1).await;
    let stored = stored_message(&env, &id);
    assert_eq!(stored.id, posted);
    assert_eq!(stored.recipient, link);
    assert_eq!(cards_of(&env, CHANNEL, &id), [posted]);
    assert_eq!(env.fake.call_count(POST_ACTIVITY), 0);
    assert!(env.fake.call_count(LIST_CHANNEL_MESSAGES) >= 2);
    assert_eq!(env.fake.call_count(LIST_CHAT_MESSAGES), 0);
    plugin.shutdown().await;
}

#[tokio::test]
async fn without_the_option_nothing_is_read_and_the_card_is_posted_again_as_in_go() {
    let env = Env::start(fake_options()).await;
    let chat = chat_of(&env.fake, CAROL_ID).expect("Carol has the app");
    let (id, posted) = killed_after_posting(&env, &chat);

    let path = env.write_config(SECRET, false, &format!("\"*\" = \"{CAROL}\""));
    let plugin = env.spawn(&path);
    env.wait_for_messages_saved(&id, 1).await;
    let cards = cards_of(&env, &chat, &id);
    assert_eq!(cards.len(), 2, "{cards:?}");
    assert_ne!(stored_message(&env, &id).id, posted);
    assert_eq!(env.fake.call_count(POST_ACTIVITY), 1);
    assert_eq!(env.fake.call_count(LIST_CHAT_MESSAGES), 0);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_new_request_reads_nothing_with_the_option_on() {
    let env = Env::start(fake_options()).await;
    let link = channel_link(CHANNEL, GROUP);
    let recipients = format!("\"*\" = [\"{CAROL}\", \"{link}\"]");
    let path = env.write_config_with(SECRET, false, &recipients, LOOKUP_ON);
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    let request = env
        .kit
        .new_request("alice@example.com", &["editor"])
        .create()
        .expect("request");
    let id = request_id(&request);
    env.wait_for_messages_saved(&id, 2).await;
    assert_eq!(env.fake.call_count(POST_ACTIVITY), 2);
    assert_eq!(env.fake.call_count(LIST_CHAT_MESSAGES), 0);
    assert_eq!(env.fake.call_count(LIST_CHANNEL_MESSAGES), 0);
    plugin.shutdown().await;
}

#[tokio::test]
async fn without_the_permission_the_card_is_posted_once_and_the_log_names_it() {
    let env = Env::start(fake_options()).await;
    env.fake.deny_message_reads(true);
    let chat = chat_of(&env.fake, CAROL_ID).expect("Carol has the app");
    let (id, posted) = killed_after_posting(&env, &chat);

    let recipients = format!("\"*\" = \"{CAROL}\"");
    let path = env.write_config_with(SECRET, false, &recipients, LOOKUP_ON);
    let log = env.dir.path().join("plugin.log");
    let (stdout, stderr) = log_file(&log);
    let mut child = start_plugin(BINARY, &path, stdout, stderr);
    env.wait_for_messages_saved(&id, 1).await;
    // Settled: the record is released; nothing more comes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = terminate(&mut child, Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status}");

    assert_eq!(env.fake.call_count(POST_ACTIVITY), 1, "posted once");
    let cards = cards_of(&env, &chat, &id);
    assert_eq!(
        cards.len(),
        2,
        "the killed replica's and this one: {cards:?}"
    );
    assert_ne!(stored_message(&env, &id).id, posted);
    assert!(env.fake.call_count(LIST_CHAT_MESSAGES) >= 1);
    let text = std::fs::read_to_string(&log).expect("the plugin's log");
    let refusal = text
        .lines()
        .find(|line| line.contains("ERROR") && line.contains("Chat.Read.All"))
        .unwrap_or_else(|| panic!("an error naming Chat.Read.All in:\n{text}"));
    assert!(refusal.contains("lookup_posted"), "{refusal}");
    assert!(!text.contains(SECRET), "the secret is never logged");
}
