//! teleport-slack end to end in-process: testkit (Teleport over mTLS) and the
//! fake Slack Web API on loopback.

use crate::common;

use std::time::Duration;

use common::{WAIT, fake_slack_options, setup};
use teleport_fakes::FakeSlack;
use teleport_plugin_runtime::config::load_plugin_config_str;
use teleport_plugin_testsupport::identity_dir;
use teleport_slack::config::{Config, SlackFile};
use teleport_testkit::{IdentityRequest, Testkit, Verdict};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn request_review_and_approval_show_up_in_slack() {
    let kit = Testkit::builder()
        .cluster_name("teleport.example.com")
        .start()
        .await
        .unwrap();
    let slack = FakeSlack::start(fake_slack_options()).await;
    let s = setup(kit, slack, "").await;

    let request = s
        .kit
        .new_request("alice@example.com", &["dba"])
        .reason("rotate the `prod` keys")
        .suggested_reviewers(&["sam@example.com", "not an email", "alice@example.com"])
        .create()
        .unwrap();
    let id = request.metadata.unwrap().name;

    // dba-team channel, the lead by e-mail, the suggested reviewer by e-mail, and (as in Go)
    // the requester, who sees the thread and the final edit.
    let roots = s
        .slack
        .wait_for(WAIT, |state| {
            let roots: Vec<_> = state.root_messages().cloned().collect();
            (roots.len() >= 4).then_some(roots)
        })
        .await
        .unwrap();
    let mut channels: Vec<_> = roots.iter().map(|m| m.channel.clone()).collect();
    channels.sort();
    assert_eq!(channels, ["C0DBA", "U0ALICE", "U0LEAD", "U0SAM"]);
    let text = roots[0].current().visible_text();
    assert!(text.contains("You have a new Role Request:"), "{text}");
    assert!(text.contains(&format!("*ID*: {id}")), "{text}");
    assert!(text.contains("*Cluster*: teleport.example.com"), "{text}");
    assert!(text.contains("*User*: alice@example.com"), "{text}");
    assert!(text.contains("*Role(s)*: `dba`"), "{text}");
    assert!(text.contains("tsh request review --approve"), "{text}");
    assert!(text.contains("⏳ PENDING"), "{text}");

    s.kit
        .review(&id, "sam@example.com", Verdict::Approve, "ok for today")
        .unwrap();
    s.slack
        .wait_for(WAIT, |state| {
            roots
                .iter()
                .all(|root| {
                    state
                        .message(&root.channel, &root.ts)
                        .is_some_and(|m| m.current().visible_text().contains("✅ APPROVED"))
                })
                .then_some(())
        })
        .await
        .unwrap();
    for root in &roots {
        let replies = s.slack.thread_replies(&root.channel, &root.ts);
        assert_eq!(replies.len(), 1, "one review reply per message");
        let reply = replies[0].current().visible_text();
        assert!(
            reply.contains("sam@example.com reviewed the request"),
            "{reply}"
        );
        assert!(reply.contains("Resolution: ✅ APPROVED."), "{reply}");
        let updated = s.slack.message(&root.channel, &root.ts).unwrap();
        assert_eq!(updated.edits.len(), 1, "updated exactly once");
    }
    // The requester gets the decision in a DM.
    let dm = s
        .slack
        .wait_for(WAIT, |state| {
            state
                .root_messages()
                .find(|m| m.channel == "U0ALICE" && m.posted.visible_text().contains("updated"))
                .cloned()
        })
        .await
        .unwrap();
    assert!(
        dm.current()
            .visible_text()
            .contains("has been updated: *APPROVED*")
    );
    s.shutdown().await;
}

#[tokio::test]
async fn rate_limits_are_honoured_and_nothing_is_posted_twice() {
    let kit = Testkit::start().await.unwrap();
    let slack = FakeSlack::start(fake_slack_options()).await;
    let s = setup(kit, slack, "").await;
    s.slack.control().rate_limit_next(3, 1);
    let started = std::time::Instant::now();
    s.kit.create_request("bob", &["editor"], "").unwrap();
    s.slack
        .wait_for(WAIT, |state| {
            (state.root_messages().count() == 1).then_some(())
        })
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.slack.root_messages().len(), 1);
    s.shutdown().await;
}

#[tokio::test]
async fn a_request_made_while_slack_is_down_is_posted_when_it_is_back() {
    let kit = Testkit::start().await.unwrap();
    let slack = FakeSlack::start(fake_slack_options()).await;
    let s = setup(kit, slack, "").await;
    s.slack.down().await;
    s.kit
        .create_request("bob", &["editor"], "during the outage")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.slack.up().await.unwrap();
    let root = s
        .slack
        .wait_for(WAIT, |state| state.root_messages().next().cloned())
        .await
        .unwrap();
    assert!(root.current().visible_text().contains("during the outage"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.slack.root_messages().len(), 1);
    s.shutdown().await;
}

#[tokio::test]
async fn a_bad_token_stops_start_up_with_a_clear_error() {
    let kit = Testkit::start().await.unwrap();
    let slack = FakeSlack::start(fake_slack_options()).await;
    slack.set_token("xoxb-the-right-one");
    let (dir, identity) = identity_dir(&kit, &IdentityRequest::new("access-plugin"), "auth_id");
    let toml = format!(
        "[teleport]\naddr = \"{}\"\nidentity = \"{}\"\n[slack]\ntoken = \"xoxb-wrong\"\napiurl = \"{}\"\n[role_to_recipients]\n\"*\" = \"x\"\n",
        kit.auth_addr(),
        identity.display(),
        slack.base_url()
    );
    let loaded = load_plugin_config_str::<SlackFile>(dir.path().join("t.toml"), &toml).unwrap();
    let error = teleport_slack::run(
        Config::from_loaded(loaded).unwrap(),
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    let text = format!("{error:#}");
    assert!(text.contains("Slack rejected the bot token"), "{text}");
    assert!(
        !text.contains("xoxb-wrong"),
        "the token leaked into the error: {text}"
    );
}

#[tokio::test]
async fn access_list_owners_get_one_review_reminder_per_window_across_restarts() {
    use std::time::SystemTime;

    use teleport_testkit::access_list;

    let kit = Testkit::start().await.unwrap();
    let slack = FakeSlack::start(fake_slack_options()).await;
    let due_in_three_days = SystemTime::now() + Duration::from_secs(3 * 86_400);
    kit.upsert_access_list(access_list(
        "prod-admins",
        "Production admins",
        &["lead@example.com"],
        due_in_three_days,
        Duration::from_secs(14 * 86_400),
    ));
    let (dir, identity) = identity_dir(&kit, &IdentityRequest::new("access-plugin"), "auth_id");
    let toml = format!(
        "[teleport]\naddr = \"{}\"\nidentity = \"{}\"\n[slack]\ntoken = \"{}\"\napiurl = \"{}\"\n[role_to_recipients]\n\"*\" = \"access-requests\"\n",
        kit.auth_addr(),
        identity.display(),
        slack.token(),
        slack.base_url()
    );
    let start = || {
        let loaded = load_plugin_config_str::<SlackFile>(dir.path().join("t.toml"), &toml).unwrap();
        let mut config = Config::from_loaded(loaded).unwrap();
        // Look at once, and not again within the test.
        config.runtime.tuning.reminders = (Duration::ZERO, Duration::from_secs(3600));
        teleport_plugin_testsupport::InProcessPlugin::spawn(WAIT, |stop| {
            teleport_slack::run(config, stop)
        })
    };
    let reminders = |slack: &FakeSlack| -> Vec<String> {
        slack
            .root_messages()
            .into_iter()
            .filter(|m| m.channel == "U0LEAD")
            .map(|m| m.current().visible_text())
            .collect()
    };

    let plugin = start();
    slack
        .wait_for(WAIT, |state| {
            state
                .root_messages()
                .any(|m| m.channel == "U0LEAD")
                .then_some(())
        })
        .await
        .unwrap();
    let sent = reminders(&slack);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].contains("Access List *Production admins* is due for a review by"),
        "{sent:?}"
    );
    plugin.shutdown().await;

    // A restart in the same window reminds nobody again.
    let plugin = start();
    kit.wait_for_watchers(1, WAIT).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reminders(&slack).len(), 1, "reminded twice in one window");
    plugin.shutdown().await;
}
