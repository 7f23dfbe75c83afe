//! Mail through the fake Mailgun API: the form fields, threading headers, 429 retries and a
//! connection closed before the answer retried, not skipped;
//! and the look-up before a thread's first mail is sent again: a replica killed between
//! Mailgun accepting the mail and the record leaves a lapsed lease (or a send with no known
//! outcome leaves `post_unsure_since`), and the next one finds the mail by its stable
//! `Message-Id` in Mailgun's events instead of sending it twice. A new request costs no
//! look-up.

use crate::common;

use std::time::SystemTime;

use common::*;
use teleport_email::client::root_message_id;
use teleport_fakes::Fault;
use teleport_fakes::mailgun::{FakeMailgun, FakeMailgunOptions, MailgunMessage};
use teleport_plugin_testsupport::{lapsed_lease, unix_millis};

const RECIPIENT: &str = "admin@example.com";

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
    // The thread's first mail carries the ID every replica derives alike.
    assert_eq!(
        root,
        format!("<{}>", root_message_id(&id, RECIPIENT, "example.com"))
    );

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
    assert_eq!(
        fake.control().call_count("events"),
        0,
        "a new request looks nothing up"
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

/// The thread-opening mails to `RECIPIENT` of request `id`, as the fake holds them.
fn roots_of(fake: &FakeMailgun, id: &str) -> Vec<MailgunMessage> {
    fake.messages()
        .into_iter()
        .filter(|m| m.field("h:In-Reply-To").is_none() && field(m, "to") == RECIPIENT)
        .filter(|m| field(m, "subject").ends_with(id))
        .collect()
}

/// The mail a replica sent for request `id` before it was killed, as Mailgun took it.
fn sent_by_the_killed_replica(fake: &FakeMailgun, id: &str) -> String {
    let message_id = format!("<{}>", root_message_id(id, RECIPIENT, "example.com"));
    fake.accept(MailgunMessage {
        domain: "mail.example.com".to_owned(),
        fields: [
            ("from", SENDER.to_owned()),
            ("to", RECIPIENT.to_owned()),
            ("subject", format!("teleport.example.com Role Request {id}")),
            ("text", "You have a new Role Request".to_owned()),
            ("h:Message-Id", message_id.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
        ..MailgunMessage::default()
    });
    message_id
}

/// Starts the plugin on a record the killed replica left behind (`left`: its keys beyond the
/// request's) and waits until the thread to `RECIPIENT` is recorded; returns the record.
async fn recorded_after_restart(
    env: &Env,
    fake: &FakeMailgun,
    id: &str,
    left: &[(&str, &str)],
) -> std::collections::HashMap<String, String> {
    let mut data = vec![("user", "alice@example.com"), ("roles", "editor")];
    data.extend_from_slice(left);
    env.kit
        .put_plugin_data("access_request", id, "email", &data)
        .expect("record left behind");
    let path = env.write_config(
        &mailgun_section(fake, "key-fake"),
        "\"*\" = \"admin@example.com\"",
    );
    let plugin = env.spawn(&path);
    teleport_plugin_testsupport::eventually("the thread recorded", WAIT, || async {
        env.kit
            .plugin_data(id, "email")
            .is_some_and(|d| d.get("sent_to").is_some_and(|t| !t.is_empty()))
    })
    .await;
    plugin.shutdown().await;
    env.kit.plugin_data(id, "email").expect("record")
}

#[tokio::test]
async fn a_first_mail_mailgun_accepted_but_nobody_recorded_is_found_not_sent_again() {
    let env = Env::start().await;
    let fake = FakeMailgun::start(FakeMailgunOptions::default()).await;
    let request = env
        .kit
        .new_request("alice@example.com", &["editor"])
        .create()
        .expect("request");
    let id = request_id(&request);
    // The killed replica: Mailgun accepted its mail; its lease lapsed a moment ago.
    let sent = sent_by_the_killed_replica(&fake, &id);
    let lapsed = lapsed_lease();

    let data = recorded_after_restart(&env, &fake, &id, &[("claim", &lapsed)]).await;
    let thread = &data["email_threads"];
    assert!(
        thread.starts_with("admin@example.com/") && thread.ends_with(sent.trim_matches(['<', '>'])),
        "{thread}"
    );
    let roots = roots_of(&fake, &id);
    assert_eq!(roots.len(), 1, "sent again: {roots:?}");
    assert_eq!(roots[0].id, sent);
    assert!(fake.control().call_count("events") >= 1);
}

#[tokio::test]
async fn a_send_with_no_known_outcome_is_looked_up_and_found() {
    let env = Env::start().await;
    let fake = FakeMailgun::start(FakeMailgunOptions::default()).await;
    let request = env
        .kit
        .new_request("alice@example.com", &["editor"])
        .create()
        .expect("request");
    let id = request_id(&request);
    // A send that got no answer, recorded as such, which Mailgun did take.
    let since = (unix_millis(SystemTime::now()) - 2_000).to_string();
    let sent = sent_by_the_killed_replica(&fake, &id);

    let data = recorded_after_restart(&env, &fake, &id, &[("post_unsure_since", &since)]).await;
    assert!(
        data["email_threads"].ends_with(sent.trim_matches(['<', '>'])),
        "{data:?}"
    );
    assert_eq!(roots_of(&fake, &id).len(), 1);
    assert!(fake.control().call_count("events") >= 1);
}

#[tokio::test]
async fn a_first_mail_that_never_reached_mailgun_is_sent_once_after_a_takeover() {
    let env = Env::start().await;
    let fake = FakeMailgun::start(FakeMailgunOptions::default()).await;
    let request = env
        .kit
        .new_request("alice@example.com", &["editor"])
        .create()
        .expect("request");
    let id = request_id(&request);
    // The killed replica died before its mail reached Mailgun. The look-up is rate limited
    // once first: it waits and asks again, as a send would.
    let lapsed = lapsed_lease();
    fake.control().fail_next_for(
        "events",
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );

    let data = recorded_after_restart(&env, &fake, &id, &[("claim", &lapsed)]).await;
    let roots = roots_of(&fake, &id);
    assert_eq!(roots.len(), 1, "{roots:?}");
    assert_eq!(
        roots[0].id,
        format!("<{}>", root_message_id(&id, RECIPIENT, "example.com"))
    );
    assert!(
        data["email_threads"].ends_with(roots[0].id.trim_matches(['<', '>'])),
        "{data:?}"
    );
    assert!(
        fake.control().call_count("events") >= 2,
        "asked again after the 429"
    );
}

/// A server that reads the whole request and closes the connection cleanly without
/// answering, as a server does that closes a kept-alive connection just as the client sends
/// on it (the fake's faults answer without reading the form, then close): hyper reports
/// "connection closed before message completed", no I/O error under it.
async fn closing_server() -> String {
    use std::time::Duration;
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = [0_u8; 4096];
            // Everything the client sends, until it waits for the answer.
            while let Ok(Ok(read)) =
                tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer)).await
            {
                if read == 0 {
                    break;
                }
            }
            drop(stream);
        }
    });
    format!("http://{addr}/v3")
}

#[tokio::test]
async fn a_connection_closed_before_the_answer_is_retried_not_skipped() {
    use teleport_email::client::OutgoingMail;
    use teleport_email::client::mailgun::MailgunMailer;
    use teleport_email::config::MailgunSettings;
    use teleport_plugin_runtime::config::Secret;
    use teleport_plugin_runtime::service_error::ServiceError;

    let mailer = MailgunMailer::new(
        teleport_plugin_runtime::http::user_agent_client("test").expect("client"),
        MailgunSettings {
            domain: "mail.example.com".to_owned(),
            private_key: Secret::new("key-SECRET"),
            api_base: closing_server().await,
        },
    );
    let mail = OutgoingMail {
        to: RECIPIENT.to_owned(),
        subject: "s".to_owned(),
        text: "t".to_owned(),
        html: "h".to_owned(),
        message_id: "a.b@example.com".to_owned(),
        in_reply_to: Some("root@example.com".to_owned()),
    };
    let error = mailer
        .send(&SENDER.parse().expect("sender"), &mail)
        .await
        .expect_err("no answer");
    // The mail may have gone out: retried (the first mail looked for first), never skipped.
    assert!(
        matches!(
            error,
            ServiceError::Transient {
                answered: false,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!format!("{error:?}").contains("key-SECRET"));
}
