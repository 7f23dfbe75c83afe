//! Mail through the fake Mailgun API: the form fields, threading headers, and 429 retries.

use crate::common;

use common::*;
use teleport_fakes::Fault;
use teleport_fakes::mailgun::{FakeMailgun, FakeMailgunOptions, MailgunMessage};

fn mailgun_section(fake: &FakeMailgun, key: &str) -> String {
    format!(
        "[mailgun]\ndomain = \"mail.example.com\"\nprivate_key = \"{key}\"\napi_base = \"{}\"\n",
        fake.api_base()
    )
}

fn field<'a>(message: &'a MailgunMessage, name: &str) -> &'a str {
    message.field(name).unwrap_or_default()
}

#[tokio::test]
async fn requests_reviews_and_resolutions_thread_through_mailgun() {
    let env = Env::start().await;
    let fake = FakeMailgun::start(FakeMailgunOptions::default()).await;
    let key_file = env.write("mailgun-key", "key-fake\n");
    let section = format!(
        "[mailgun]\ndomain = \"mail.example.com\"\nprivate_key_file = \"{}\"\napi_base = \"{}/\"\n",
        key_file.display(),
        fake.api_base()
    );
    let path = env.write_config(&section, "\"*\" = \"admin@example.com\"");
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    // The first send is rate limited; the mail still goes out once.
    fake.control().fail_next(
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let request = env
        .kit
        .new_request("alice@example.com", &["editor"])
        .reason("deploy")
        .threshold("two votes", 2, 2)
        .create()
        .expect("request");
    let id = request_id(&request);
    let first = fake
        .wait_for(WAIT, |m| m.first().cloned())
        .await
        .expect("first mail");
    assert_eq!(field(&first, "from"), SENDER);
    assert_eq!(field(&first, "to"), "admin@example.com");
    assert_eq!(
        field(&first, "subject"),
        format!("teleport.example.com Role Request {id}")
    );
    assert!(field(&first, "text").starts_with("You have a new Role Request:\n\n"));
    assert!(field(&first, "html").contains("<table>"));
    assert!(first.field("h:In-Reply-To").is_none());
    let root = first.id.clone();
    assert!(root.starts_with('<') && root.ends_with('>'), "{root}");

    env.kit
        .review(&id, "bob@example.com", teleport_testkit::Verdict::Deny, "")
        .expect("review");
    env.kit.approve(&id, "ok").expect("approve");
    let all = fake
        .wait_for(WAIT, |m| (m.len() == 4).then(|| m.to_vec()))
        .await
        .expect("review, resolution, requester");
    for reply in &all[1..3] {
        assert_eq!(field(reply, "to"), "admin@example.com");
        assert_eq!(field(reply, "h:In-Reply-To"), root);
        assert_eq!(field(reply, "h:References"), root);
    }
    assert!(field(&all[1], "text").contains("Resolution: ❌ DENIED."));
    assert!(field(&all[2], "text").ends_with("Status: ✅ APPROVED (ok)"));
    assert_eq!(field(&all[3], "to"), "alice@example.com");
    assert_eq!(
        fake.control().call_count("messages"),
        5,
        "one 429 + four mails"
    );

    let data = env.kit.plugin_data(&id, "email").expect("data");
    let thread = &data["email_threads"];
    assert!(
        thread.starts_with("admin@example.com/") && thread.ends_with(root.trim_matches(['<', '>'])),
        "{thread}"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_rejected_key_is_retried_until_it_works_and_nothing_is_lost() {
    let env = Env::start().await;
    let fake = FakeMailgun::start(FakeMailgunOptions::default()).await;
    let path = env.write_config(
        &mailgun_section(&fake, "key-fake"),
        "\"*\" = \"admin@example.com\"",
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    // The key is revoked on Mailgun's side after the start-up check passed.
    fake.set_api_key("key-rotated");
    env.kit
        .create_request("alice@example.com", &["editor"], "why")
        .expect("request");
    fake.control()
        .wait_until(WAIT, || {
            (fake.control().call_count("messages") >= 2).then_some(())
        })
        .await
        .expect("retried");
    assert!(fake.messages().is_empty());

    // The key works again (rotated back on Mailgun's side): the mail goes out once.
    fake.set_api_key("key-fake");
    let sent = fake
        .wait_for(WAIT, |m| (!m.is_empty()).then(|| m.to_vec()))
        .await
        .expect("sent");
    assert_eq!(sent.len(), 1);
    plugin.shutdown().await;
    assert_eq!(fake.messages().len(), 1);
}

#[tokio::test]
async fn a_wrong_key_or_domain_stops_start_up_with_a_clear_error() {
    let env = Env::start().await;
    let fake = FakeMailgun::start(FakeMailgunOptions::default()).await;
    fake.set_api_key("key-right");
    let path = env.write_config(
        &mailgun_section(&fake, "key-wrong-SECRET"),
        "\"*\" = \"admin@example.com\"",
    );
    let error = env.start_error(&path).await;
    assert!(error.contains("Mailgun API health check failed"), "{error}");
    assert!(error.contains("401"), "{error}");
    assert!(
        !error.contains("key-wrong-SECRET"),
        "the key leaked: {error}"
    );
    assert_eq!(fake.control().call_count("messages"), 0);
}
