//! A request's whole life in Discord: messages, reviews as embeds, the final edit, expiry,
//! and Discord's rate limits and server errors retried without duplicates.

use crate::common;

use std::time::Duration;

use common::*;
use teleport_fakes::Fault;
use teleport_fakes::discord::{PATCH_MESSAGE, POST_MESSAGE};
use teleport_testkit::Verdict;

#[tokio::test]
async fn post_show_reviews_and_approve() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(
        TOKEN,
        &format!("\"*\" = [\"{CHANNEL}\", \"{OTHER_CHANNEL}\"]"),
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    let request = env
        .kit
        .new_request("alice@example.com", &["editor"])
        .reason("deploy the `hotfix`")
        .threshold("two approvals", 2, 1)
        .suggested_reviewers(&["carol@example.com"])
        .create()
        .expect("request");
    let id = request_id(&request);

    // One message per channel; the suggested reviewer's e-mail is no Discord recipient.
    let messages = env
        .fake
        .wait_for(WAIT, |s| {
            (s.messages.len() == 2).then(|| s.messages.clone())
        })
        .await
        .expect("two messages");
    let mut channels: Vec<_> = messages.iter().map(|m| m.channel_id.clone()).collect();
    channels.sort();
    assert_eq!(channels, [CHANNEL, OTHER_CHANNEL]);
    let text = &messages[0].posted.content;
    assert!(text.starts_with("You have a new Role Request:\n"), "{text}");
    assert!(text.contains(&format!("*ID*: {id}\n")), "{text}");
    assert!(text.contains("*Cluster*: teleport.example.com\n"), "{text}");
    assert!(text.contains("*User*: alice@example.com\n"), "{text}");
    assert!(text.contains("*Role(s)*: editor\n"), "{text}");
    assert!(
        text.contains("*Reason*: ```\ndeploy the `\u{feff}hotfix`\u{feff}```\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("*Approve*: `tsh request review --approve {id}`")),
        "{text}"
    );
    assert!(text.ends_with("*Status*: ⏳ PENDING"), "{text}");
    assert!(messages[0].posted.embeds.is_empty());

    env.wait_for_messages_saved(&id, 2).await;
    let data = env.kit.plugin_data(&id, "discord").expect("data");
    let mut stored: Vec<_> = data["messages"].split(',').map(str::to_owned).collect();
    stored.sort();
    let mut posted: Vec<_> = messages
        .iter()
        .map(|m| format!("{}/{}", m.channel_id, m.id))
        .collect();
    posted.sort();
    assert_eq!(stored, posted, "the Go plugin's channelID/messageID list");
    assert_eq!(data["user"], "alice@example.com");
    assert_eq!(data["roles"], "editor");

    // A review re-renders every message with one embed, still pending.
    env.kit
        .review(&id, "carol@example.com", Verdict::Approve, "looks fine")
        .expect("review");
    env.fake
        .wait_for(WAIT, |s| {
            s.messages.iter().all(|m| m.edits.len() == 1).then_some(())
        })
        .await
        .expect("an edit per message");
    for message in env.fake.messages() {
        let current = message.current();
        assert!(current.content.ends_with("*Status*: ⏳ PENDING"));
        assert_eq!(current.embeds.len(), 1);
        let embed = &current.embeds[0];
        assert!(
            embed["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("Approved request at ")),
            "{embed}"
        );
        assert_eq!(embed["description"], "Reason: ```\nlooks fine```");
        assert_eq!(embed["color"], 2_328_611);
        assert_eq!(embed["author"]["name"], "carol@example.com");
    }

    // The approval: each message edited once more, the review embed kept.
    env.kit.approve(&id, "ship it").expect("approve");
    env.fake
        .wait_for(WAIT, |s| {
            s.messages.iter().all(|m| m.edits.len() == 2).then_some(())
        })
        .await
        .expect("the resolution edit");
    env.kit
        .wait_for("synced", WAIT, |s| {
            s.plugin_data(&id, "discord")
                .is_some_and(|d| d.get("synced").is_some_and(|v| v == "APPROVED"))
        })
        .await
        .expect("synced");
    for message in env.fake.messages() {
        assert_eq!(message.edits.len(), 2, "edited exactly twice");
        let current = message.current();
        assert!(
            current
                .content
                .ends_with("*Status*: ✅ APPROVED\n*Resolution reason*: ```\nship it```"),
            "{}",
            current.content
        );
        assert!(!current.content.contains("tsh request review"));
        assert_eq!(current.embeds.len(), 1, "the review still shows");
    }
    let data = env.kit.plugin_data(&id, "discord").expect("data");
    assert_eq!(data["resolution"], "APPROVED");
    assert_eq!(data["reviews_count"], "1");
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_denying_review_resolves_with_one_edit_in_red() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(TOKEN, &format!("\"*\" = \"{CHANNEL}\""));
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    env.wait_for_messages_saved(&id, 1).await;

    // One deny resolves the request (threshold 1): the review and the outcome in one edit.
    env.kit
        .review(&id, "bob@example.com", Verdict::Deny, "")
        .expect("review");
    let edited = env
        .fake
        .wait_for(WAIT, |s| {
            s.messages
                .first()
                .filter(|m| m.current().content.contains("❌ DENIED"))
                .cloned()
        })
        .await
        .expect("denied");
    env.kit
        .wait_for("synced", WAIT, |s| {
            s.plugin_data(&id, "discord")
                .is_some_and(|d| d.get("synced").is_some_and(|v| v == "DENIED"))
        })
        .await
        .expect("synced");
    let message = env
        .fake
        .with_state(|s| s.message(&edited.id).cloned())
        .expect("message");
    assert_eq!(message.edits.len(), 1, "{:?}", message.edits);
    let embed = &message.current().embeds[0];
    assert!(
        embed["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("Denied request at ")),
        "{embed}"
    );
    assert_eq!(embed["color"], 13_771_309);
    assert!(embed.get("description").is_none(), "no reason: {embed}");
    plugin.shutdown().await;
}

#[tokio::test]
async fn an_expired_request_is_marked_expired() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(TOKEN, &format!("\"*\" = \"{CHANNEL}\""));
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    env.wait_for_messages_saved(&id, 1).await;
    env.kit.expire(&id).expect("expire");
    let edited = env
        .fake
        .wait_for(WAIT, |s| {
            s.messages.first().filter(|m| !m.edits.is_empty()).cloned()
        })
        .await
        .expect("edit");
    let content = &edited.current().content;
    assert!(content.ends_with("*Status*: ⌛ EXPIRED"), "{content}");
    assert!(content.contains("*User*: alice@example.com"), "{content}");
    assert!(!content.contains("tsh request review"), "{content}");
    env.kit
        .wait_for("synced", WAIT, |s| {
            s.plugin_data(&id, "discord")
                .is_some_and(|d| d.get("resolution").is_some_and(|v| v == "EXPIRED"))
        })
        .await
        .expect("recorded");
    plugin.shutdown().await;
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_without_duplicates() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(
        TOKEN,
        &format!("\"*\" = [\"{CHANNEL}\", \"{OTHER_CHANNEL}\"]"),
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    let control = env.fake.control();
    control.fail_next_for(
        POST_MESSAGE,
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    control.fail_next_for(POST_MESSAGE, 1, Fault::ServerError { status: 502 });
    // A request timeout passes too, as the runtime classifies it.
    control.fail_next_for(POST_MESSAGE, 1, Fault::ServerError { status: 408 });
    // Discord's precise wait (250 ms) while its Retry-After header says a whole second.
    env.fake
        .rate_limit_next_precise(POST_MESSAGE, 1, Duration::from_millis(250));
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    env.wait_for_messages_saved(&id, 2).await;
    assert_eq!(
        env.fake.with_state(|s| s.messages.len()),
        2,
        "one message per channel"
    );
    assert_eq!(
        env.fake.call_count(POST_MESSAGE),
        6,
        "4 faults + 2 messages"
    );

    // The resolution's edits survive a 429 and a 503 without a second edit.
    control.fail_next_for(
        PATCH_MESSAGE,
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    control.fail_next_for(PATCH_MESSAGE, 1, Fault::ServerError { status: 503 });
    env.kit.deny(&id, "no").expect("deny");
    env.kit
        .wait_for("synced", WAIT, |s| {
            s.plugin_data(&id, "discord")
                .is_some_and(|d| d.get("synced").is_some_and(|v| v == "DENIED"))
        })
        .await
        .expect("synced");
    env.fake.with_state(|s| {
        for message in &s.messages {
            assert_eq!(message.edits.len(), 1, "edited once: {:?}", message.edits);
            assert!(message.current().content.contains("❌ DENIED"));
        }
    });
    assert_eq!(env.fake.call_count(PATCH_MESSAGE), 4, "2 faults + 2 edits");
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_channel_that_refuses_the_bot_later_is_skipped_and_the_others_served() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(
        TOKEN,
        &format!("\"*\" = [\"{CHANNEL}\", \"{OTHER_CHANNEL}\"]"),
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    // The bot lost access to one channel after start-up: Discord answers 403 there, which
    // no retry can fix, so that channel is recorded as failed and the other one served.
    env.fake.set_bot_access(OTHER_CHANNEL, false);
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    env.kit
        .wait_for("failure recorded", WAIT, |s| {
            s.plugin_data(&id, "discord").is_some_and(|d| {
                d.get("failed_to").is_some_and(|v| v == OTHER_CHANNEL)
                    && d.get("claim").is_none_or(String::is_empty)
            })
        })
        .await
        .expect("failure recorded");
    let data = env.kit.plugin_data(&id, "discord").expect("data");
    assert!(
        data["messages"].starts_with(&format!("{CHANNEL}/")),
        "{data:?}"
    );
    assert_eq!(env.fake.call_count(POST_MESSAGE), 2, "no retry of the 403");

    env.kit.approve(&id, "").expect("approve");
    env.fake
        .wait_for(WAIT, |s| {
            s.messages
                .first()
                .filter(|m| m.current().content.contains("✅ APPROVED"))
                .map(|_| ())
        })
        .await
        .expect("the served channel shows the outcome");
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
    // What the Go plugin left: its message, and its record in the generic format.
    let message = env.fake.add_message(CHANNEL, "posted by the Go plugin");
    let reference = format!("{CHANNEL}/{message}");
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "discord",
            &[
                ("user", "alice@example.com"),
                ("roles", "editor"),
                ("request_reason", "deploy"),
                ("messages", reference.as_str()),
            ],
        )
        .expect("seed");

    let path = env.write_config(TOKEN, &format!("\"*\" = \"{CHANNEL}\""));
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    env.kit.approve(&id, "").expect("approve");
    let edited = env
        .fake
        .wait_for(WAIT, |s| {
            s.message(&message).filter(|m| !m.edits.is_empty()).cloned()
        })
        .await
        .expect("the Go message is edited");
    assert!(
        edited.current().content.contains("✅ APPROVED"),
        "{}",
        edited.current().content
    );
    assert_eq!(
        env.fake.with_state(|s| s.messages.len()),
        1,
        "nothing re-posted"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn requested_nodes_are_named_by_hostname_even_after_deletion() {
    let env = Env::start(fake_options()).await;
    env.kit.add_node("8c0e6a52-node-1", "web-1", &[]);
    env.kit
        .allow_resource_lookup("access-plugin-discord", &[("*", "*")]);
    let path = env.write_config(TOKEN, &format!("\"*\" = \"{CHANNEL}\""));
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    let request = env
        .kit
        .new_request("alice@example.com", &["node-access"])
        .resource("node", "8c0e6a52-node-1")
        .create()
        .expect("request");
    let id = request_id(&request);
    env.wait_for_messages_saved(&id, 1).await;
    let posted = env
        .fake
        .wait_for(WAIT, |s| s.messages.first().cloned())
        .await
        .expect("posted");
    assert!(
        posted
            .current()
            .content
            .contains("*Resource(s)*: `node/web-1`\n"),
        "{}",
        posted.current().content
    );
    assert_eq!(
        env.kit.plugin_data(&id, "discord").expect("record")["resources"],
        r#"["node/web-1"]"#
    );
    // The last edit of a deleted request names the node from the record.
    env.kit.expire(&id).expect("expire");
    let edited = env
        .fake
        .wait_for(WAIT, |s| {
            s.messages.first().filter(|m| !m.edits.is_empty()).cloned()
        })
        .await
        .expect("edit");
    let content = &edited.current().content;
    assert!(
        content.contains("*Resource(s)*: `node/web-1`\n"),
        "{content}"
    );
    assert_eq!(
        env.kit.call_count(teleport_testkit::Method::ListResources),
        1
    );
    plugin.shutdown().await;
}
