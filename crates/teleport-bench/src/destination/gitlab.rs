//! The fake GitLab as a chaos destination: a post is the issue opened for a request (the
//! request ID its description names); it is final once closed with the outcome's label
//! (`Teleport: Approved`, `Denied` or `Expired`), as the plugin's lifecycle tests define
//! it. The fake speaks plain HTTP; the webhook listener is per replica (see
//! [`listener_section`]).

use std::net::SocketAddr;

use teleport_fakes::gitlab::GlIssue;
use teleport_fakes::{FakeGitlab, FakeGitlabOptions};

use super::{Post, request_id_in};

/// GitLab's access token (a secret the plugin must never log).
pub(super) const TOKEN: &str = "glpat-bench-token-1234";
/// The secret GitLab proves its webhook deliveries with (also never logged).
pub(super) const HOOK_SECRET: &str = "bench-hook-secret-5678";
const PROJECT_ID: u64 = 4242;
const PROJECT_PATH: &str = "ops/access-requests";
/// The labels the plugin closes an issue with.
const DONE: [&str; 3] = [
    "Teleport: Approved",
    "Teleport: Denied",
    "Teleport: Expired",
];
/// GitLab's usual page (the fake's default of 2 is for paging tests).
const PAGE_SIZE: usize = 20;

pub(super) async fn start() -> FakeGitlab {
    FakeGitlab::start(
        FakeGitlabOptions::default()
            .token(TOKEN)
            .project(PROJECT_ID, PROJECT_PATH)
            .page_size(PAGE_SIZE),
    )
    .await
}

pub(super) fn config_section(fake: &FakeGitlab) -> String {
    format!(
        "[gitlab]\nurl = \"{}\"\ntoken = \"{TOKEN}\"\nproject_id = \"{PROJECT_ID}\"\n\
         webhook_secret = \"{HOOK_SECRET}\"\n",
        fake.base_url()
    )
}

/// The replica's own `[http]` listener, served over plain HTTP (the replica is started with
/// `--insecure-no-tls`); each replica registers the project hook at its own address.
pub(super) fn listener_section(listen: SocketAddr) -> String {
    format!("[http]\nlisten_addr = \"{listen}\"\npublic_addr = \"http://{listen}\"\n")
}

pub(super) fn posts(fake: &FakeGitlab) -> Vec<Post> {
    fake.issues().iter().map(post_of).collect()
}

fn post_of(issue: &GlIssue) -> Post {
    Post {
        request_id: request_id_in(&issue.description).map(str::to_owned),
        is_final: issue.state == "closed" && DONE.iter().any(|label| issue.has_label(label)),
        received: None,
    }
}
