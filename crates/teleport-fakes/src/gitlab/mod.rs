//! Fake GitLab REST API v4 on loopback: one project with members, labels, hooks, issues,
//! notes and resource label events, `PRIVATE-TOKEN` auth, and the `Issue Hook` webhook.
//!
//! The project answers by numeric ID and by its URL-encoded path (`group%2Fproject`).
//! Lists page with `page`/`per_page` and GitLab's `Link: <…>; rel="next"` and `X-*` headers,
//! at most `page_size` items a page (default 2, so clients must page). Errors have GitLab's
//! shapes (`{"message": "404 Not found"}`, `409 Label already exists`, `{"error": "title is
//! missing"}`); a wrong token is 401; managing hooks needs Maintainer and creating labels
//! Reporter, as in GitLab. What the API does it does as the token's owner: label changes
//! record resource label events and system notes. Calls are counted under
//! `"<METHOD> <route>"`, e.g. `"POST /api/v4/projects/{project}/issues"`.
//!
//! Test controls act as other users: add or remove a label, write a note, close an issue,
//! and build and deliver the `Issue Hook` body to a URL or to every registered hook.

mod api;
mod hook;
mod issues;
mod project;
mod state;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use crate::control::{Control, WaitTimeout};
use crate::server::LoopbackServer;
use api::Shared;

pub use hook::{EVENT_HEADER, ISSUE_HOOK, LabelChange, TOKEN_HEADER, send_issue_hook};
pub use state::{
    GitlabState, GlHook, GlIssue, GlLabel, GlLabelEvent, GlMember, GlNote, GlUser, access,
};

/// How to start a [`FakeGitlab`].
#[derive(Clone, Debug)]
pub struct FakeGitlabOptions {
    /// Listen address; default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// The only token accepted. Default `glpat-fake-token`.
    pub token: String,
    /// The token's owner (the plugin's bot account).
    pub bot: GlUser,
    /// The bot's role in the project. Default Maintainer.
    pub bot_access: u8,
    /// The project's numeric ID. Default 1812345.
    pub project_id: u64,
    /// The project's path. Default `teleport/access-requests`.
    pub project_path: String,
    /// The longest page a list returns. Default 2.
    pub page_size: usize,
    /// Other users (members or not).
    pub users: Vec<GlUser>,
    /// Memberships of those users.
    pub members: Vec<GlMember>,
}

impl Default for FakeGitlabOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            token: "glpat-fake-token".to_owned(),
            bot: GlUser {
                id: 1,
                username: "teleport-bot".to_owned(),
                name: "Teleport Bot".to_owned(),
                email: "teleport-bot@example.com".to_owned(),
            },
            bot_access: access::MAINTAINER,
            project_id: 1_812_345,
            project_path: "teleport/access-requests".to_owned(),
            page_size: 2,
            users: Vec::new(),
            members: Vec::new(),
        }
    }
}

impl FakeGitlabOptions {
    /// Accept `token`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// The bot's role in the project.
    pub fn bot_access(mut self, level: u8) -> Self {
        self.bot_access = level;
        self
    }

    /// The project's ID and path.
    pub fn project(mut self, id: u64, path: impl Into<String>) -> Self {
        self.project_id = id;
        self.project_path = path.into();
        self
    }

    /// At most `size` items per page.
    pub fn page_size(mut self, size: usize) -> Self {
        self.page_size = size;
        self
    }

    /// Adds user `username` with ID `id`; `level` makes them a direct member (`None`: not a
    /// member).
    pub fn user(mut self, id: u64, username: &str, level: Option<u8>) -> Self {
        self.push_user(id, username, level, false);
        self
    }

    /// Adds user `username` who is a member through a parent group only.
    pub fn inherited_member(mut self, id: u64, username: &str, level: u8) -> Self {
        self.push_user(id, username, Some(level), true);
        self
    }

    fn push_user(&mut self, id: u64, username: &str, level: Option<u8>, inherited: bool) {
        self.users.push(GlUser {
            id,
            username: username.to_owned(),
            name: username.to_owned(),
            email: format!("{username}@example.com"),
        });
        if let Some(access_level) = level {
            self.members.push(GlMember {
                user_id: id,
                access_level,
                inherited,
            });
        }
    }
}

/// A running fake GitLab. Dropping it stops the server.
pub struct FakeGitlab {
    shared: Arc<Shared>,
    server: LoopbackServer,
}

impl FakeGitlab {
    /// Start the fake; panics if the address cannot be bound.
    pub async fn start(options: FakeGitlabOptions) -> Self {
        let listen = options.listen;
        match Self::try_start(options).await {
            Ok(fake) => fake,
            Err(err) => panic!("fake gitlab: cannot listen on {listen}: {err}"),
        }
    }

    /// Start the fake, reporting bind errors.
    pub async fn try_start(options: FakeGitlabOptions) -> io::Result<Self> {
        let mut state = GitlabState::new(options.project_id, options.project_path);
        state.users.push(options.bot.clone());
        state.users.extend(options.users);
        state.members.push(GlMember {
            user_id: options.bot.id,
            access_level: options.bot_access,
            inherited: false,
        });
        state.members.extend(options.members);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            control: Arc::new(Control::new()),
            token: Mutex::new(options.token),
            bot_id: options.bot.id,
            page_size: options.page_size,
        });
        let server = LoopbackServer::start(options.listen, api::router(shared.clone())).await?;
        Ok(Self { shared, server })
    }

    /// The instance URL (what `[gitlab] url` holds), without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.local_addr())
    }

    /// The project's numeric ID.
    pub fn project_id(&self) -> u64 {
        self.shared.state().project_id
    }

    /// The project's `group/project` path.
    pub fn project_path(&self) -> String {
        self.shared.state().project_path.clone()
    }

    /// The token owner's user ID.
    pub fn bot_id(&self) -> u64 {
        self.shared.bot_id
    }

    /// Accept `token` from now on (the old one gets 401).
    pub fn set_token(&self, token: &str) {
        *self.shared.token.lock().unwrap_or_else(|e| e.into_inner()) = token.to_owned();
    }

    /// Fault injection and call counts.
    pub fn control(&self) -> &Control {
        &self.shared.control
    }

    /// Calls of `route` (e.g. `"POST /api/v4/projects/{project}/issues"`), faulted ones
    /// included.
    pub fn call_count(&self, route: &str) -> u64 {
        self.shared.control.call_count(route)
    }

    /// Close the port and every connection.
    pub async fn down(&self) {
        self.server.down().await;
    }

    /// Serve again on the same port.
    pub async fn up(&self) -> io::Result<()> {
        self.server.up().await
    }

    /// Read the recorded state.
    pub fn with_state<T>(&self, read: impl FnOnce(&GitlabState) -> T) -> T {
        read(&self.shared.state())
    }

    /// Change the state directly (set up what a test needs).
    pub fn with_state_mut<T>(&self, change: impl FnOnce(&mut GitlabState) -> T) -> T {
        let out = change(&mut self.shared.state());
        self.shared.control.notify_changed();
        out
    }

    /// Wait until `check` returns `Some`, re-checked after every recorded change.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&GitlabState) -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        self.shared
            .control
            .wait_until(timeout, || check(&self.shared.state()))
            .await
    }

    /// Every issue, in creation order.
    pub fn issues(&self) -> Vec<GlIssue> {
        self.shared.state().issues.clone()
    }

    /// Every hook, in creation order.
    pub fn hooks(&self) -> Vec<GlHook> {
        self.shared.state().hooks.clone()
    }

    /// Every label, in creation order.
    pub fn labels(&self) -> Vec<GlLabel> {
        self.shared.state().labels.clone()
    }

    /// A label made before the plugin ran (e.g. `teleport: pending` by hand); returns its ID.
    /// An existing name is left as it is.
    pub fn add_label(&self, name: &str, color: &str) -> u64 {
        self.with_state_mut(|state| match state.label(name) {
            Some(label) => label.id,
            None => project::add_label(state, name, color, "")
                .map(|l| l.id)
                .unwrap_or_default(),
        })
    }

    /// A hook made before the plugin ran; returns its ID.
    pub fn add_hook(&self, url: &str, token: &str) -> u64 {
        self.with_state_mut(|state| {
            let id = state.new_id();
            state.hooks.push(GlHook {
                id,
                url: url.to_owned(),
                token: token.to_owned(),
                issues_events: true,
                push_events: false,
                enable_ssl_verification: true,
                updates: 0,
            });
            id
        })
    }

    /// Sets (or, with `None`, removes) a user's direct membership.
    pub fn set_member(&self, user_id: u64, level: Option<u8>) {
        self.with_state_mut(|state| {
            state.members.retain(|m| m.user_id != user_id);
            if let Some(access_level) = level {
                state.members.push(GlMember {
                    user_id,
                    access_level,
                    inherited: false,
                });
            }
        });
    }

    /// Opens an issue as `user_id` (not through the API); returns its IID.
    pub fn open_issue_as(&self, user_id: u64, title: &str, description: &str) -> u64 {
        self.with_state_mut(|state| issues::new_issue(state, user_id, title, description, &[]))
    }

    /// Adds label `name` to issue `iid` as `user_id`, recording the label event and system
    /// note as GitLab does; the label is created when missing. Returns the change (empty
    /// when the issue does not exist).
    pub fn add_label_as(&self, iid: u64, user_id: u64, name: &str) -> LabelChange {
        self.relabel(iid, user_id, &[name.to_owned()], &[])
    }

    /// Removes label `name` from issue `iid` as `user_id`; see [`add_label_as`](Self::add_label_as).
    pub fn remove_label_as(&self, iid: u64, user_id: u64, name: &str) -> LabelChange {
        self.relabel(iid, user_id, &[], &[name.to_owned()])
    }

    fn relabel(&self, iid: u64, user_id: u64, add: &[String], remove: &[String]) -> LabelChange {
        self.with_state_mut(|state| {
            for name in add {
                if state.label(name).is_none() {
                    let _ = project::add_label(state, name, "#6699cc", "");
                }
            }
            let Some(previous) = state.issue(iid).map(|i| i.labels.clone()) else {
                return LabelChange::default();
            };
            state.change_labels(iid, user_id, add, remove, OffsetDateTime::now_utc());
            let current = state
                .issue(iid)
                .map(|i| i.labels.clone())
                .unwrap_or_default();
            LabelChange { previous, current }
        })
    }

    /// Writes a note on issue `iid` as `user_id`; returns its ID.
    pub fn add_note_as(&self, iid: u64, user_id: u64, body: &str) -> u64 {
        self.with_state_mut(|state| issues::add_note(state, iid, user_id, body))
    }

    /// Closes issue `iid` as `user_id`.
    pub fn close_issue_as(&self, iid: u64, user_id: u64) {
        self.with_state_mut(|state| {
            state.change_state(iid, user_id, "close", OffsetDateTime::now_utc());
        });
    }

    /// The `Issue Hook` body GitLab would send now for issue `iid` after `user_id` did
    /// `action` (`update` for label changes), with `changes.labels` from `change`.
    pub fn issue_hook_body(
        &self,
        iid: u64,
        user_id: u64,
        action: &str,
        change: Option<&LabelChange>,
    ) -> Option<Value> {
        let base = self.base_url();
        let state = self.shared.state();
        let issue = state.issue(iid)?;
        Some(hook::issue_hook_body(
            &base, &state, issue, user_id, action, change,
        ))
    }

    /// Delivers `body` to every hook subscribed to issue events, each with its own secret,
    /// as GitLab would; returns each hook's URL and the receiver's status (or the error).
    pub async fn deliver_issue_hook(
        &self,
        client: &reqwest::Client,
        body: &Value,
    ) -> Vec<(String, Result<u16, String>)> {
        let hooks: Vec<GlHook> = self
            .hooks()
            .into_iter()
            .filter(|h| h.issues_events)
            .collect();
        let mut results = Vec::new();
        for hook in hooks {
            let token = (!hook.token.is_empty()).then_some(hook.token.as_str());
            let sent = send_issue_hook(client, &self.base_url(), &hook.url, token, body).await;
            results.push((
                hook.url.clone(),
                sent.map(|s| s.as_u16()).map_err(|e| e.to_string()),
            ));
        }
        results
    }
}
