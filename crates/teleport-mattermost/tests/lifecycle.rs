//! A request's whole life in Mattermost: posts, review replies, the final edit, the requester's DM.

use crate::common;

use common::*;
use teleport_fakes::Fault;
use teleport_testkit::Verdict;

#[tokio::test]
async fn post_review_resolve_and_tell_the_requester() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(
        TOKEN,
        "\"*\" = [\"eng/access-requests\", \"bob@example.com\"]",
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    let request = env
        .kit
        .new_request("alice@example.com", &["editor"])
        .reason("deploy the `hotfix`")
        .threshold("two approvals", 2, 1)
        .suggested_reviewers(&["carol@example.com", "not-an-email", "nobody@example.com"])
        .create()
        .expect("request");
    let id = request_id(&request);

    // One post in the channel, one DM to bob, one DM to the suggested reviewer carol.
    let roots = env
        .fake
        .wait_for(WAIT, |s| {
            let roots: Vec<_> = s.roots().cloned().collect();
            (roots.len() == 3).then_some(roots)
        })
        .await
        .expect("three posts");
    let (bob_dm, carol_dm) = env.fake.with_state(|s| {
        (
            s.direct_channel(env.fake.bot_id(), BOB)
                .expect("bob DM")
                .id
                .clone(),
            s.direct_channel(env.fake.bot_id(), CAROL)
                .expect("carol DM")
                .id
                .clone(),
        )
    });
    let mut channels: Vec<_> = roots.iter().map(|p| p.channel_id.clone()).collect();
    channels.sort();
    let mut expected = vec![CHANNEL.to_owned(), bob_dm.clone(), carol_dm.clone()];
    expected.sort();
    assert_eq!(channels, expected);
    let text = &roots[0].message;
    assert!(
        text.starts_with("*You have new pending request to review!*\n"),
        "{text}"
    );
    assert!(text.contains("**User**: alice@example.com"), "{text}");
    assert!(text.contains("**Roles**: editor"), "{text}");
    assert!(text.contains(&format!("**Request ID**: {id}")), "{text}");
    assert!(
        text.contains("**Reason**: ```\ndeploy the `\u{feff}hotfix`\u{feff}```"),
        "{text}"
    );
    assert!(text.contains("**Status**: ⏳ PENDING"), "{text}");
    assert!(
        text.contains(&format!("**Approve**: `tsh request review --approve {id}`")),
        "{text}"
    );

    env.kit
        .wait_for("three messages stored", WAIT, |s| {
            s.plugin_data(&id, "mattermost")
                .is_some_and(|d| d["messages"].split(',').count() == 3)
        })
        .await
        .expect("three messages stored");
    let data = env.kit.plugin_data(&id, "mattermost").expect("data");
    let mut stored: Vec<_> = data["messages"].split(',').map(str::to_owned).collect();
    stored.sort();
    let mut posted: Vec<_> = roots
        .iter()
        .map(|p| format!("{}/{}", p.channel_id, p.id))
        .collect();
    posted.sort();
    assert_eq!(stored, posted);

    // A review becomes a reply under every post.
    env.kit
        .review(&id, "carol@example.com", Verdict::Approve, "looks fine")
        .expect("review");
    env.fake
        .wait_for(WAIT, |s| {
            roots
                .iter()
                .all(|root| s.replies(&root.id).count() == 1)
                .then_some(())
        })
        .await
        .expect("replies");
    for root in &roots {
        let replies: Vec<_> = env
            .fake
            .with_state(|s| s.replies(&root.id).cloned().collect());
        let reply = &replies[0];
        assert_eq!(reply.channel_id, root.channel_id);
        assert!(
            reply
                .message
                .starts_with("carol@example.com reviewed the request at "),
            "{}",
            reply.message
        );
        assert!(
            reply.message.contains("\nResolution: ✅ APPROVED."),
            "{}",
            reply.message
        );
        assert!(
            reply.message.contains("\nReason: ```\nlooks fine```."),
            "{}",
            reply.message
        );
    }

    // Resolution: every post edited once, then the requester hears the decision.
    env.kit.approve(&id, "ship it").expect("approve");
    let alice_dm = env
        .fake
        .wait_for(WAIT, |s| {
            let dm = s.direct_channel(env.fake.bot_id(), ALICE)?;
            s.posts.iter().find(|p| p.channel_id == dm.id).cloned()
        })
        .await
        .expect("requester DM");
    assert!(
        alice_dm.message.contains(&format!(
            "Request with ID `{id}` has been updated: **APPROVED**"
        )),
        "{}",
        alice_dm.message
    );
    assert!(alice_dm.message.contains("ship it"), "{}", alice_dm.message);
    for root in &roots {
        let post = env
            .fake
            .with_state(|s| s.post(&root.id).cloned())
            .expect("post");
        assert_eq!(post.edits.len(), 1, "edited exactly once: {:?}", post.edits);
        let text = post.current();
        assert!(!text.contains("pending request to review"), "{text}");
        assert!(text.contains("**Status**: ✅ APPROVED"), "{text}");
        assert!(
            text.contains("**Resolution reason**: ```\nship it```"),
            "{text}"
        );
        assert!(!text.contains("tsh request review"), "{text}");
    }
    let data = env.kit.plugin_data(&id, "mattermost").expect("data");
    assert_eq!(data["resolution"], "APPROVED");
    assert_eq!(data["reviews_count"], "1");
    plugin.shutdown().await;
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_without_duplicates() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(
        TOKEN,
        "\"*\" = [\"eng/access-requests\", \"bob@example.com\"]",
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    let control = env.fake.control();
    control.fail_next_for(
        "POST /api/v4/posts",
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    control.fail_next_for("POST /api/v4/posts", 1, Fault::ServerError { status: 502 });
    // A request timeout passes too, as the runtime classifies it.
    control.fail_next_for("POST /api/v4/posts", 1, Fault::ServerError { status: 408 });
    control.fail_next_for(
        "POST /api/v4/channels/direct",
        1,
        Fault::ServerError { status: 503 },
    );
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    env.kit
        .wait_for_plugin_data(&id, "mattermost", "messages", WAIT)
        .await
        .expect("data");
    env.kit
        .wait_for("both posts recorded", WAIT, |s| {
            s.plugin_data(&id, "mattermost")
                .is_some_and(|d| d["messages"].split(',').count() == 2)
        })
        .await
        .expect("both posts recorded");
    let roots = env.fake.with_state(|s| s.roots().count());
    assert_eq!(roots, 2, "each recipient got exactly one post");
    assert_eq!(
        env.fake.call_count("POST /api/v4/posts"),
        5,
        "3 faults + 2 posts"
    );

    // Resolution edits also survive a 429 without a second edit.
    control.fail_next_for(
        "PUT /api/v4/posts/{post}",
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    env.kit.deny(&id, "no").expect("deny");
    env.fake
        .wait_for(WAIT, |s| {
            s.roots().all(|p| p.edits.len() == 1).then_some(())
        })
        .await
        .expect("edits");
    env.kit
        .wait_for("synced", WAIT, |s| {
            s.plugin_data(&id, "mattermost")
                .is_some_and(|d| d.get("synced").is_some_and(|v| v == "DENIED"))
        })
        .await
        .expect("synced");
    assert!(
        env.fake
            .with_state(|s| s.roots().all(|p| p.edits.len() == 1))
    );
    assert!(
        env.fake
            .with_state(|s| s.roots().all(|p| p.current().contains("❌ DENIED")))
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn an_expired_request_is_marked_expired() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(TOKEN, "\"*\" = \"eng/access-requests\"");
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    let root = env
        .fake
        .wait_for(WAIT, |s| s.roots().next().cloned())
        .await
        .expect("post");
    env.kit
        .wait_for("broadcast saved", WAIT, |s| {
            s.plugin_data(&id, "mattermost").is_some_and(|d| {
                d.get("claim").is_none_or(String::is_empty)
                    && d.get("messages").is_some_and(|m| !m.is_empty())
            })
        })
        .await
        .expect("saved");
    env.kit.expire(&id).expect("expire");
    let edited = env
        .fake
        .wait_for(WAIT, |s| {
            s.post(&root.id).filter(|p| !p.edits.is_empty()).cloned()
        })
        .await
        .expect("edit");
    assert!(
        edited.current().contains("**Status**: ⌛ EXPIRED"),
        "{}",
        edited.current()
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_go_plugin_record_is_continued() {
    go_record_is_continued(false).await;
}

#[tokio::test]
async fn a_go_plugin_record_with_legacy_keys_is_continued() {
    go_record_is_continued(true).await;
}

async fn go_record_is_continued(legacy_keys: bool) {
    let env = Env::start(fake_options()).await;
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    // What a Go plugin left: its post, and its record (newer `messages`, or the older keys).
    let post = env.fake.add_post(CHANNEL, "posted by the Go plugin");
    let message = format!("{CHANNEL}/{post}");
    let mut record = vec![
        ("user", "alice@example.com"),
        ("roles", "editor"),
        ("request_reason", "deploy"),
    ];
    if legacy_keys {
        record.extend([("channel_id", CHANNEL), ("postID", post.as_str())]);
    } else {
        record.push(("messages", message.as_str()));
    }
    env.kit
        .put_plugin_data("access_request", &id, "mattermost", &record)
        .expect("seed");

    let path = env.write_config(TOKEN, "\"*\" = \"eng/access-requests\"");
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    env.kit.approve(&id, "").expect("approve");
    let edited = env
        .fake
        .wait_for(WAIT, |s| {
            s.post(&post).filter(|p| !p.edits.is_empty()).cloned()
        })
        .await
        .expect("the Go post is edited");
    assert!(
        edited.current().contains("✅ APPROVED"),
        "{}",
        edited.current()
    );
    assert_eq!(
        env.fake.with_state(|s| s.roots().count()),
        1,
        "nothing re-posted"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn requested_nodes_are_stored_by_hostname_and_promoted_reads_as_go() {
    let env = Env::start(fake_options()).await;
    env.kit.add_node("8c0e6a52-node-1", "web-1", &[]);
    env.kit
        .allow_resource_lookup("access-plugin-mattermost", &[("*", "*")]);
    let path = env.write_config(TOKEN, "\"*\" = \"eng/access-requests\"");
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    let request = env
        .kit
        .new_request("alice@example.com", &["node-access"])
        .resource("node", "8c0e6a52-node-1")
        .create()
        .expect("request");
    let id = request_id(&request);
    let root = env
        .fake
        .wait_for(WAIT, |s| s.roots().next().cloned())
        .await
        .expect("post");
    env.kit
        .wait_for("broadcast saved", WAIT, |s| {
            s.plugin_data(&id, "mattermost")
                .is_some_and(|d| d.get("messages").is_some_and(|m| !m.is_empty()))
        })
        .await
        .expect("saved");
    // Go's Mattermost post shows no resources, but its record names them as Go's does.
    assert!(!root.message.contains("web-1"), "{}", root.message);
    assert_eq!(
        env.kit.plugin_data(&id, "mattermost").expect("record")["resources"],
        r#"["node/web-1"]"#
    );

    env.kit.promote(&id, "prod-admins").expect("promote");
    let edited = env
        .fake
        .wait_for(WAIT, |s| {
            s.post(&root.id).filter(|p| !p.edits.is_empty()).cloned()
        })
        .await
        .expect("edit");
    assert!(
        edited.current().ends_with("\n**Status**:  PROMOTED"),
        "{}",
        edited.current()
    );
    plugin.shutdown().await;
}
