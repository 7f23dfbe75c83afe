//! The fake Jira as a chaos destination: a post is the issue opened for a request (by its
//! `teleportAccessRequestId` property, else the request ID its description names); it is
//! final once it carries the resolution comment and has moved to the outcome's status, as
//! the plugin's lifecycle tests define it. The fake speaks HTTPS with its own CA, which the
//! plugin is told to trust (`ca_file`); the webhook listener is per replica (see
//! [`listener_section`]).

use std::net::SocketAddr;
use std::path::Path;

use teleport_fakes::jira::FakeIssue;
use teleport_fakes::{FakeJira, FakeJiraOptions};

use super::{Post, RESOLUTION_NOTE, request_id_in};

/// Jira's API token (a secret the plugin must never log).
pub(super) const TOKEN: &str = "jira-bench-api-token";
const USERNAME: &str = "jira-bot@example.com";
const PROJECT: &str = "TD2";
/// The entity property the plugin names the request in.
const PROPERTY: &str = "teleportAccessRequestId";
/// The statuses the plugin moves an issue to when the request is resolved.
const DONE: [&str; 3] = ["Approved", "Denied", "Expired"];
/// Jira Cloud's usual page of search results (the fake's default of 2 is for paging tests).
const PAGE_SIZE: usize = 50;

pub(super) async fn start() -> FakeJira {
    FakeJira::start(FakeJiraOptions {
        username: USERNAME.into(),
        api_token: TOKEN.into(),
        project: PROJECT.into(),
        ..FakeJiraOptions::default().page_size(PAGE_SIZE)
    })
    .await
}

/// `[jira]`; `ca_file` is where the fake's CA was written.
pub(super) fn config_section(fake: &FakeJira, ca_file: &Path) -> String {
    format!(
        "[jira]\nurl = \"{}\"\nusername = \"{USERNAME}\"\napi_token = \"{TOKEN}\"\n\
         project = \"{PROJECT}\"\nca_file = \"{}\"\n",
        fake.base_url(),
        ca_file.display()
    )
}

/// The replica's own `[http]` listener, served over plain HTTP (the replica is started with
/// `--insecure-no-tls`); Jira would call it at the same address.
pub(super) fn listener_section(listen: SocketAddr) -> String {
    format!("[http]\nlisten_addr = \"{listen}\"\npublic_addr = \"http://{listen}\"\n")
}

pub(super) fn posts(fake: &FakeJira) -> Vec<Post> {
    fake.issues().iter().map(post_of).collect()
}

fn post_of(issue: &FakeIssue) -> Post {
    let by_property = issue
        .properties
        .get(PROPERTY)
        .and_then(|value| value.as_str())
        .map(str::to_owned);
    Post {
        request_id: by_property.or_else(|| request_id_in(&issue.description).map(str::to_owned)),
        is_final: DONE.contains(&issue.status.as_str())
            && issue
                .comments
                .iter()
                .any(|comment| comment.body.starts_with(RESOLUTION_NOTE)),
        received: None,
    }
}
