//! Finding a message nobody recorded: a replica that died between Discord accepting a
//! request's message and recording it leaves a lapsed lease; the replica taking over finds
//! the message by its `*ID*:` line among the channel's messages since then
//! (`GET channels/{id}/messages?after=<snowflake>`) instead of posting again. A new request
//! costs no lookup.

use crate::common;

use common::*;
use teleport_discord::client::{DiscordApi, MessageBody};
use teleport_discord::render::request_id_line;
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
use teleport_plugin_testsupport::lapsed_lease;

const LOOKUP: &str = "GET /api/v10/channels/{channel}/messages";

/// Messages in `CHANNEL` carrying request `id`'s ID line.
fn messages_of(env: &Env, id: &str) -> Vec<String> {
    let marker = request_id_line(id);
    env.fake.with_state(|s| {
        s.in_channel(CHANNEL)
            .filter(|m| m.posted.content.contains(&marker))
            .map(|m| m.id.clone())
            .collect()
    })
}

#[tokio::test]
async fn a_message_discord_accepted_but_nobody_recorded_is_found_not_posted_again() {
    crashed_post_is_found_behind(1).await;
}

#[tokio::test]
async fn a_message_behind_a_busy_minute_of_the_channel_is_still_found() {
    // More than ten pages of 100 (what a look-up read before the full chaos run doubled one).
    crashed_post_is_found_behind(1_200).await;
}

/// A replica posted the request's message after `noise` other messages and died before
/// recording it; the replica taking over finds it instead of posting again.
async fn crashed_post_is_found_behind(noise: usize) {
    let env = Env::start(fake_options()).await;
    let request = env
        .kit
        .new_request("alice@example.com", &["editor"])
        .create()
        .expect("request");
    let id = request_id(&request);

    // The replica that died: it posted to the channel (an older message is there too) and
    // was killed before writing that down; its lease lapsed a moment ago.
    let api = DiscordApi::new(
        http_client(&HttpClientOptions::default()).unwrap(),
        &env.fake.base_url(),
        Secret::new(TOKEN),
    )
    .unwrap();
    let post = |content: String| MessageBody {
        content,
        embeds: Vec::new(),
    };
    for n in 0..noise {
        api.create_message(CHANNEL, &post(format!("something else {n}")))
            .await
            .unwrap();
    }
    let crashed = api
        .create_message(CHANNEL, &post(format!("request\n{}", request_id_line(&id))))
        .await
        .unwrap();
    let lapsed = lapsed_lease();
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "discord",
            &[
                ("user", "alice@example.com"),
                ("roles", "editor"),
                ("claim", &lapsed),
            ],
        )
        .unwrap();

    let path = env.write_config(TOKEN, &format!("\"*\" = [\"{CHANNEL}\"]"));
    let plugin = env.spawn(&path);
    teleport_plugin_testsupport::eventually("the channel recorded", WAIT, || async {
        env.kit
            .plugin_data(&id, "discord")
            .is_some_and(|d| d.get("sent_to").is_some_and(|t| !t.is_empty()))
    })
    .await;
    let data = env.kit.plugin_data(&id, "discord").unwrap();
    assert_eq!(data["messages"], format!("{CHANNEL}/{}", crashed.id));
    assert_eq!(messages_of(&env, &id), vec![crashed.id.clone()]);
    assert!(env.fake.call_count(LOOKUP) >= 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_new_request_looks_nothing_up() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(TOKEN, &format!("\"*\" = [\"{CHANNEL}\"]"));
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    let request = env
        .kit
        .new_request("alice@example.com", &["editor"])
        .create()
        .expect("request");
    let id = request_id(&request);
    env.wait_for_messages_saved(&id, 1).await;
    assert_eq!(messages_of(&env, &id).len(), 1);
    assert_eq!(env.fake.call_count(LOOKUP), 0);
    plugin.shutdown().await;
}
