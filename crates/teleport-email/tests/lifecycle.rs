//! The e-mail lifecycle through a real SMTP server on loopback: headers, threading, bodies,
//! STARTTLS, AUTH, an outage, and a recipient the server refuses.

use crate::common;

use common::smtp_server::{Received, SmtpOptions, SmtpServer, TestCa};
use common::*;
use teleport_testkit::Verdict;

fn smtp_section(port: u16, policy: &str, auth: bool, ca_file: Option<&std::path::Path>) -> String {
    let mut out =
        format!("[smtp]\nhost = \"localhost\"\nport = {port}\nstarttls_policy = \"{policy}\"\n");
    if auth {
        out.push_str("username = \"mailer\"\npassword = \"s3cret\"\n");
    }
    if let Some(ca) = ca_file {
        out.push_str(&format!("ca_file = \"{}\"\n", ca.display()));
    }
    out
}

fn to(message: &Received) -> &str {
    &message.to[0]
}

#[tokio::test]
async fn starttls_auth_headers_threading_and_bodies() {
    let env = Env::start().await;
    let ca = TestCa::new();
    let ca_file = env.write("ca.pem", &ca.ca_pem);
    let server = SmtpServer::start(SmtpOptions {
        tls: Some(ca.acceptor.clone()),
        credentials: Some(("mailer".into(), "s3cret".into())),
        ..SmtpOptions::default()
    })
    .await;
    let path = env.write_config(
        &smtp_section(server.port(), "mandatory", true, Some(&ca_file)),
        "\"*\" = [\"admin@example.com\", \"ops@example.com\"]",
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    let request = env
        .kit
        .new_request("alice@example.com", &["editor"])
        .reason("deploy <hotfix> & friends")
        .threshold("two approvals", 2, 1)
        .suggested_reviewers(&["carol@example.com"])
        .create()
        .expect("request");
    let id = request_id(&request);

    // One mail per recipient: the two configured ones and the suggested reviewer.
    let first = server
        .wait_for(WAIT, |m, _| (m.len() == 3).then(|| m.to_vec()))
        .await;
    let mut recipients: Vec<&str> = first.iter().map(to).collect();
    recipients.sort();
    assert_eq!(
        recipients,
        ["admin@example.com", "carol@example.com", "ops@example.com"]
    );
    let subject = format!("teleport.example.com Role Request {id}");
    for mail in &first {
        assert!(mail.tls, "sent over STARTTLS");
        assert!(
            mail.auth.as_deref().is_some_and(|a| a.ends_with(":mailer")),
            "{:?}",
            mail.auth
        );
        assert_eq!(mail.from, SENDER);
        assert_eq!(mail.header("From").as_deref(), Some(SENDER));
        assert_eq!(mail.header("To").as_deref(), Some(to(mail)));
        assert_eq!(mail.header("Subject").as_deref(), Some(subject.as_str()));
        let message_id = mail.header("Message-ID").expect("Message-ID");
        // Derived from the request and the recipient at the sender's domain, the same on
        // every replica (a copy sent again after a crash carries it too).
        assert_eq!(
            message_id,
            format!(
                "<{}>",
                teleport_email::client::root_message_id(&id, to(mail), "example.com")
            )
        );
        assert_eq!(mail.header("In-Reply-To"), None);
        let (text, html) = parts(&mail.data);
        assert!(
            text.starts_with("You have a new Role Request:\n\n"),
            "{text}"
        );
        assert!(text.contains(&format!("ID: {id}\n")), "{text}");
        assert!(text.contains("Cluster: teleport.example.com\n"), "{text}");
        assert!(text.contains("User: alice@example.com\n"), "{text}");
        assert!(text.contains("Role(s): editor\n"), "{text}");
        assert!(
            text.contains("Reason: deploy <hotfix> & friends\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!("Approve: tsh request review --approve {id}\n")),
            "{text}"
        );
        assert!(text.ends_with("\n\nStatus: ⏳ PENDING"), "{text}");
        assert!(
            html.contains("deploy &lt;hotfix&gt; &amp; friends"),
            "{html}"
        );
        assert!(html.contains("Status: ⏳ PENDING"), "{html}");
    }
    let ids: Vec<(String, String)> = first
        .iter()
        .map(|m| (to(m).to_owned(), m.header("Message-ID").unwrap()))
        .collect();

    // Stored threads: email/timestamp/messageID, the ID without brackets.
    env.kit
        .wait_for("three threads stored", WAIT, |s| {
            s.plugin_data(&id, "email")
                .and_then(|d| d.get("email_threads"))
                .is_some_and(|t| t.split(',').count() == 3)
        })
        .await
        .expect("threads");
    let data = env.kit.plugin_data(&id, "email").expect("data");
    for (recipient, message_id) in &ids {
        let bare = message_id.trim_matches(['<', '>']);
        let thread = data["email_threads"]
            .split(',')
            .find(|t| t.starts_with(&format!("{recipient}/")))
            .expect("thread");
        let parts: Vec<&str> = thread.split('/').collect();
        assert_eq!(parts.len(), 3, "{thread}");
        assert!(parts[1].parse::<u64>().is_ok(), "unix seconds: {thread}");
        assert_eq!(parts[2], bare);
    }

    // A review: a reply in each thread.
    env.kit
        .review(&id, "carol@example.com", Verdict::Approve, "fine by me")
        .expect("review");
    let replies = server
        .wait_for(WAIT, |m, _| (m.len() == 6).then(|| m[3..].to_vec()))
        .await;
    for reply in &replies {
        let root = &ids.iter().find(|(r, _)| r == to(reply)).expect("thread").1;
        assert_eq!(reply.header("In-Reply-To").as_ref(), Some(root));
        assert_eq!(reply.header("References").as_ref(), Some(root));
        assert_eq!(reply.header("Subject").as_deref(), Some(subject.as_str()));
        // Replies get fresh IDs on the host name, as Go's mail library writes them.
        let reply_id = reply.header("Message-ID").expect("Message-ID");
        assert_ne!(&reply_id, root);
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert!(
            reply_id.starts_with('<') && reply_id.ends_with(&format!("@{}>", host.trim())),
            "{reply_id}"
        );
        let (text, html) = parts(&reply.data);
        assert!(
            text.starts_with("carol@example.com reviewed the request at "),
            "{text}"
        );
        assert!(
            text.contains("\nResolution: ✅ APPROVED.\nReason: fine by me."),
            "{text}"
        );
        assert!(html.contains("fine by me"), "{html}");
    }

    // The resolution: a reply in each thread, and a mail to the requester.
    env.kit.deny(&id, "not today").expect("deny");
    let last = server
        .wait_for(WAIT, |m, _| (m.len() == 10).then(|| m[6..].to_vec()))
        .await;
    let requester: Vec<_> = last
        .iter()
        .filter(|m| to(m) == "alice@example.com")
        .collect();
    assert_eq!(requester.len(), 1, "the requester is told once");
    let (text, _) = parts(&requester[0].data);
    assert!(
        text.starts_with("Your Role Request has been resolved:\n\n"),
        "{text}"
    );
    assert!(text.ends_with("Status: ❌ DENIED (not today)"), "{text}");
    assert_eq!(requester[0].header("In-Reply-To"), None);
    for resolution in last.iter().filter(|m| to(m) != "alice@example.com") {
        let root = &ids
            .iter()
            .find(|(r, _)| r == to(resolution))
            .expect("thread")
            .1;
        assert_eq!(resolution.header("In-Reply-To").as_ref(), Some(root));
        let (text, _) = parts(&resolution.data);
        assert!(
            text.starts_with("Role Request has been resolved:\n\n"),
            "{text}"
        );
        assert!(
            text.ends_with("\n\nStatus: ❌ DENIED (not today)"),
            "{text}"
        );
        assert!(!text.contains("tsh request review"), "{text}");
    }
    plugin.shutdown().await;
}

#[tokio::test]
async fn starttls_disabled_sends_in_plain_text_without_auth() {
    let env = Env::start().await;
    let ca = TestCa::new();
    let server = SmtpServer::start(SmtpOptions {
        tls: Some(ca.acceptor.clone()),
        ..SmtpOptions::default()
    })
    .await;
    let path = env.write_config(
        &smtp_section(server.port(), "disabled", false, None),
        "\"*\" = \"admin@example.com\"",
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    env.kit
        .create_request("alice@example.com", &["editor"], "why")
        .expect("request");
    let mail = server.wait_for(WAIT, |m, _| m.first().cloned()).await;
    assert!(!mail.tls, "STARTTLS was offered but must not be used");
    assert_eq!(mail.auth, None);
    plugin.shutdown().await;
}

#[tokio::test]
async fn mandatory_starttls_refuses_a_server_without_it() {
    let env = Env::start().await;
    let server = SmtpServer::start(SmtpOptions::default()).await;
    let path = env.write_config(
        &smtp_section(server.port(), "mandatory", false, None),
        "\"*\" = \"admin@example.com\"",
    );
    let error = env.start_error(&path).await;
    assert!(error.contains("SMTP server health check failed"), "{error}");
    assert!(error.to_ascii_lowercase().contains("starttls"), "{error}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn an_outage_delays_mail_but_loses_none() {
    let env = Env::start().await;
    let server = SmtpServer::start(SmtpOptions::default()).await;
    let path = env.write_config(
        &smtp_section(server.port(), "opportunistic", false, None),
        "\"*\" = [\"admin@example.com\", \"ops@example.com\"]",
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    server.set_unavailable(true);
    let before = server.connections();
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "why")
        .expect("request");
    let id = request_id(&request);
    // Several attempts are refused with 421 ...
    server
        .wait_for(WAIT, |_, connections| {
            (connections >= before + 3).then_some(())
        })
        .await;
    assert!(server.messages().is_empty());
    // ... and once the server is back, every mail arrives exactly once.
    server.set_unavailable(false);
    let mails = server
        .wait_for(WAIT, |m, _| (m.len() == 2).then(|| m.to_vec()))
        .await;
    let mut recipients: Vec<&str> = mails.iter().map(to).collect();
    recipients.sort();
    assert_eq!(recipients, ["admin@example.com", "ops@example.com"]);
    env.kit
        .wait_for("threads saved", WAIT, |s| {
            s.plugin_data(&id, "email")
                .and_then(|d| d.get("email_threads"))
                .is_some_and(|t| t.split(',').count() == 2)
        })
        .await
        .expect("threads saved");
    assert_eq!(server.messages().len(), 2, "no duplicates");
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_refused_recipient_is_skipped_and_the_others_get_mail() {
    let env = Env::start().await;
    let server = SmtpServer::start(SmtpOptions::default()).await;
    server.reject_recipient("gone@example.com");
    let path = env.write_config(
        &smtp_section(server.port(), "opportunistic", false, None),
        "\"*\" = [\"gone@example.com\", \"ops@example.com\"]",
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "why")
        .expect("request");
    let id = request_id(&request);
    env.kit
        .wait_for("broadcast finished", WAIT, |s| {
            s.plugin_data(&id, "email").is_some_and(|d| {
                d.get("failed_to").is_some_and(|f| f == "gone@example.com")
                    && d.get("sent_to").is_some_and(|f| f == "ops@example.com")
            })
        })
        .await
        .expect("gone@example.com given up");
    let mails = server.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(to(&mails[0]), "ops@example.com");
    plugin.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_stop_the_start() {
    let env = Env::start().await;
    let server = SmtpServer::start(SmtpOptions {
        credentials: Some(("mailer".into(), "other".into())),
        ..SmtpOptions::default()
    })
    .await;
    let path = env.write_config(
        &smtp_section(server.port(), "opportunistic", true, None),
        "\"*\" = \"admin@example.com\"",
    );
    let error = env.start_error(&path).await;
    assert!(error.contains("SMTP server health check failed"), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
}

#[tokio::test]
async fn port_465_speaks_tls_from_the_first_byte() {
    let ca = TestCa::new();
    let options = SmtpOptions {
        implicit_tls: Some(ca.acceptor.clone()),
        credentials: Some(("mailer".into(), "s3cret".into())),
        ..SmtpOptions::default()
    };
    let server = match SmtpServer::start_on(options, 465).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("SKIPPED: cannot listen on 127.0.0.1:465 ({error})");
            return;
        }
    };
    let env = Env::start().await;
    let ca_file = env.write("ca.pem", &ca.ca_pem);
    // "mandatory" would need STARTTLS; on 465 the policy is moot: TLS is already on.
    let path = env.write_config(
        &smtp_section(465, "mandatory", true, Some(&ca_file)),
        "\"*\" = \"admin@example.com\"",
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    env.kit
        .create_request("alice@example.com", &["editor"], "why")
        .expect("request");
    let mail = server.wait_for(WAIT, |m, _| m.first().cloned()).await;
    assert!(mail.tls);
    assert!(mail.auth.is_some());
    plugin.shutdown().await;
}

#[tokio::test]
async fn auth_login_when_the_server_offers_only_that() {
    let env = Env::start().await;
    let ca = TestCa::new();
    let ca_file = env.write("ca.pem", &ca.ca_pem);
    let server = SmtpServer::start(SmtpOptions {
        tls: Some(ca.acceptor.clone()),
        credentials: Some(("mailer".into(), "s3cret".into())),
        login_only: true,
        ..SmtpOptions::default()
    })
    .await;
    let path = env.write_config(
        &smtp_section(server.port(), "opportunistic", true, Some(&ca_file)),
        "\"*\" = \"admin@example.com\"",
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    env.kit
        .create_request("alice@example.com", &["editor"], "why")
        .expect("request");
    let mail = server.wait_for(WAIT, |m, _| m.first().cloned()).await;
    assert!(mail.tls, "opportunistic STARTTLS is used when offered");
    assert_eq!(mail.auth.as_deref(), Some("LOGIN:mailer"));
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_promoted_request_is_mailed_about_only_when_deleted_as_in_go() {
    let env = Env::start().await;
    let server = SmtpServer::start(SmtpOptions::default()).await;
    let path = env.write_config(
        &smtp_section(server.port(), "disabled", false, None),
        "\"*\" = \"admin@example.com\"",
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    let request = env
        .kit
        .create_request("bob", &["editor"], "why")
        .expect("request");
    let id = request_id(&request);
    server
        .wait_for(WAIT, |m, _| (!m.is_empty()).then_some(()))
        .await;

    // Go's e-mail plugin knows no PROMOTED: no resolution mail, nothing recorded.
    env.kit.promote(&id, "db-admins").expect("promoted");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(server.messages().len(), 1);
    let data = env.kit.plugin_data(&id, "email").expect("record");
    assert!(
        data.get("resolution").is_none_or(String::is_empty),
        "{data:?}"
    );

    // Its deletion is the outcome the thread hears of.
    env.kit.expire(&id).expect("deleted");
    let last = server
        .wait_for(WAIT, |m, _| (m.len() >= 2).then(|| m[1].clone()))
        .await;
    let (text, _) = parts(&last.data);
    assert!(text.contains("EXPIRED"), "{text}");
    plugin.shutdown().await;
}

#[tokio::test]
async fn requested_resources_cost_no_lookup_as_in_go() {
    // Go's e-mail plugin shows no resources and never calls ListResources, even when it may.
    let env = Env::start().await;
    env.kit.add_node("8c0e6a52-node-1", "web-1", &[]);
    env.kit
        .allow_resource_lookup("access-plugin-email", &[("*", "*")]);
    let server = SmtpServer::start(SmtpOptions::default()).await;
    let path = env.write_config(
        &smtp_section(server.port(), "disabled", false, None),
        "\"*\" = \"admin@example.com\"",
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    env.kit
        .new_request("alice@example.com", &["node-access"])
        .resource("node", "8c0e6a52-node-1")
        .create()
        .expect("request");
    let mail = server.wait_for(WAIT, |m, _| m.first().cloned()).await;
    assert!(!mail.data.contains("web-1"));
    assert_eq!(
        env.kit.call_count(teleport_testkit::Method::ListResources),
        0
    );
    plugin.shutdown().await;
}
