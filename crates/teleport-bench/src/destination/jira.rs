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

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use serde_json::json;
    use teleport_fakes::jira::{FakeComment, FakeJiraUser};

    use super::*;

    const ID: &str = "0b7c6a2e-1f2e-4d3c-9a8b-7c6d5e4f3a2b";

    fn issue(status: &str, comments: &[&str]) -> FakeIssue {
        let bot = FakeJiraUser {
            account_id: "acc-bot".into(),
            name: "jira-bot".into(),
            email: USERNAME.into(),
            display_name: "Teleport Bot".into(),
        };
        FakeIssue {
            id: "10001".into(),
            key: "TD2-1".into(),
            project: PROJECT.into(),
            issue_type: "Task".into(),
            summary: "Access request".into(),
            description: format!("Request ID: *{ID}*\n"),
            status: status.into(),
            properties: Default::default(),
            comments: comments
                .iter()
                .map(|body| FakeComment {
                    id: "1".into(),
                    author: bot.clone(),
                    body: (*body).into(),
                    created: SystemTime::now(),
                })
                .collect(),
            changelog: Vec::new(),
            updated: SystemTime::now(),
        }
    }

    #[test]
    fn an_issue_names_its_request_by_property_else_by_description() {
        let mut named = issue("Pending", &[]);
        assert_eq!(post_of(&named).request_id.as_deref(), Some(ID));
        let other = "11111111-1111-4111-8111-111111111111";
        named.properties.insert(PROPERTY.into(), json!(other));
        assert_eq!(post_of(&named).request_id.as_deref(), Some(other));
    }

    #[test]
    fn final_needs_the_resolution_comment_and_the_outcomes_status() {
        let note = "Access request has been denied\nReason: no";
        assert!(post_of(&issue("Denied", &[note])).is_final);
        assert!(!post_of(&issue("Denied", &[])).is_final);
        assert!(!post_of(&issue("Pending", &[note])).is_final);
        assert!(!post_of(&issue("Pending", &[])).is_final);
    }
}
