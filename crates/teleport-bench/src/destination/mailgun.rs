//! The fake Mailgun as a chaos destination for teleport-email (its Mailgun mode, which has
//! the shared fault layer). A post is the first mail of a request's thread to the one
//! recipient; it is final once a reply in that thread shows the resolution.

use std::collections::HashSet;

use teleport_fakes::mailgun::{FakeMailgun, FakeMailgunOptions, MailgunMessage};

use super::{Post, request_id_in, shows_final_status};

/// The Mailgun private key (a secret the plugin must never log).
pub(super) const KEY: &str = "key-bench-mailgun-private";
const DOMAIN: &str = "mail.example.com";
const RECIPIENT: &str = "reviewers@example.com";

pub(super) async fn start() -> FakeMailgun {
    FakeMailgun::start(FakeMailgunOptions {
        domain: DOMAIN.to_owned(),
        api_key: KEY.to_owned(),
        ..FakeMailgunOptions::default()
    })
    .await
}

pub(super) fn config_section(fake: &FakeMailgun) -> String {
    format!(
        "[mailgun]\ndomain = \"{DOMAIN}\"\nprivate_key = \"{KEY}\"\napi_base = \"{}\"\n\n\
         [delivery]\nsender = \"teleport@example.com\"\n\n\
         [role_to_recipients]\n\"*\" = \"{RECIPIENT}\"\n",
        fake.api_base()
    )
}

/// One post per thread-opening mail to the recipient (the requester is not notified).
/// The replies are indexed first: the chaos run tallies 10 000 threads of 20 000 mails
/// every few seconds, and matching each root against every mail took minutes of CPU.
pub(super) fn posts(fake: &FakeMailgun) -> Vec<Post> {
    let messages = fake.messages();
    let field = |m: &MailgunMessage, name: &str| m.field(name).unwrap_or_default().to_owned();
    let finished: HashSet<&str> = messages
        .iter()
        .filter(|reply| shows_final_status(reply.field("text").unwrap_or_default()))
        .filter_map(|reply| reply.field("h:In-Reply-To"))
        .collect();
    messages
        .iter()
        .filter(|m| m.field("h:In-Reply-To").is_none() && field(m, "to") == RECIPIENT)
        .map(|root| Post {
            request_id: request_id_in(&field(root, "subject")).map(str::to_owned),
            is_final: finished.contains(root.id.as_str()),
            received: None,
        })
        .collect()
}
