//! What the fake GitLab remembers: one project with its members, labels, hooks, and issues
//! with their notes and resource label events.

use time::OffsetDateTime;

/// GitLab's access levels, as the members API reports them.
pub mod access {
    /// No project access (shown for users with only "minimal access").
    pub const NONE: u8 = 0;
    /// Guest.
    pub const GUEST: u8 = 10;
    /// Planner.
    pub const PLANNER: u8 = 15;
    /// Reporter: may set labels, but is not trusted to decide.
    pub const REPORTER: u8 = 20;
    /// Developer.
    pub const DEVELOPER: u8 = 30;
    /// Maintainer.
    pub const MAINTAINER: u8 = 40;
    /// Owner.
    pub const OWNER: u8 = 50;
}

/// A GitLab user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlUser {
    /// User ID.
    pub id: u64,
    /// Login name (`@username`).
    pub username: String,
    /// Display name.
    pub name: String,
    /// Public e-mail (the webhook payload shows it).
    pub email: String,
}

/// A user's membership of the project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlMember {
    /// The user.
    pub user_id: u64,
    /// 10 guest … 50 owner.
    pub access_level: u8,
    /// Inherited from a parent group: only `members/all` shows it.
    pub inherited: bool,
}

/// A project (or inherited group) label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlLabel {
    /// Label ID.
    pub id: u64,
    /// The name (GitLab also calls it `title`).
    pub name: String,
    /// `#RRGGBB`.
    pub color: String,
    /// Free text.
    pub description: String,
}

/// A project webhook, with the secret it was given (GitLab never shows it back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlHook {
    /// Hook ID.
    pub id: u64,
    /// Where GitLab posts.
    pub url: String,
    /// Sent as `X-Gitlab-Token`; empty when none was set.
    pub token: String,
    /// Subscribed to issue events.
    pub issues_events: bool,
    /// Subscribed to push events (GitLab's default is true).
    pub push_events: bool,
    /// Whether GitLab verifies the receiver's certificate.
    pub enable_ssl_verification: bool,
    /// Times the hook was changed with `PUT`.
    pub updates: u32,
}

/// A note (comment) on an issue; GitLab adds system notes for label and state changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlNote {
    /// Note ID.
    pub id: u64,
    /// Markdown text.
    pub body: String,
    /// Who wrote it.
    pub author_id: u64,
    /// Written by GitLab itself ("added ~1 label").
    pub system: bool,
    /// When.
    pub created_at: OffsetDateTime,
}

/// Who added or removed which label, and when (`resource_label_events`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlLabelEvent {
    /// Event ID.
    pub id: u64,
    /// Who did it.
    pub user_id: u64,
    /// The label's ID.
    pub label_id: u64,
    /// The label's name then.
    pub label_name: String,
    /// `add` or `remove`.
    pub action: String,
    /// When.
    pub created_at: OffsetDateTime,
}

/// An issue of the project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlIssue {
    /// Global ID.
    pub id: u64,
    /// Number within the project (`#iid`).
    pub iid: u64,
    /// Title.
    pub title: String,
    /// Markdown description.
    pub description: String,
    /// `opened` or `closed`.
    pub state: String,
    /// Label names, in the order they were added.
    pub labels: Vec<String>,
    /// Who opened it.
    pub author_id: u64,
    /// Who closed it, while closed.
    pub closed_by: Option<u64>,
    /// When it was opened.
    pub created_at: OffsetDateTime,
    /// Last change (labels, state, notes).
    pub updated_at: OffsetDateTime,
    /// Notes, user and system ones, oldest first.
    pub notes: Vec<GlNote>,
    /// Label events, oldest first.
    pub label_events: Vec<GlLabelEvent>,
}

impl GlIssue {
    /// Notes written by people (not GitLab's system notes), oldest first.
    pub fn user_notes(&self) -> impl Iterator<Item = &GlNote> {
        self.notes.iter().filter(|n| !n.system)
    }

    /// Whether the issue carries the label `name`.
    pub fn has_label(&self, name: &str) -> bool {
        self.labels.iter().any(|l| l == name)
    }
}

/// Everything the fake remembers, for [`FakeGitlab::wait_for`](super::FakeGitlab::wait_for)
/// predicates.
#[derive(Debug)]
pub struct GitlabState {
    /// The project's ID.
    pub project_id: u64,
    /// `group/project`.
    pub project_path: String,
    /// Users, the token's owner first.
    pub users: Vec<GlUser>,
    /// Project members, direct and inherited.
    pub members: Vec<GlMember>,
    /// Labels in creation order (IDs ascending).
    pub labels: Vec<GlLabel>,
    /// Hooks in creation order.
    pub hooks: Vec<GlHook>,
    /// Issues in creation order.
    pub issues: Vec<GlIssue>,
    next_id: u64,
}

impl GitlabState {
    pub(crate) fn new(project_id: u64, project_path: String) -> Self {
        Self {
            project_id,
            project_path,
            users: Vec::new(),
            members: Vec::new(),
            labels: Vec::new(),
            hooks: Vec::new(),
            issues: Vec::new(),
            next_id: 100,
        }
    }

    /// A fresh ID (one sequence for every kind of object, like distinct tables would give
    /// distinct but increasing IDs).
    pub(crate) fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The issue with number `iid`.
    pub fn issue(&self, iid: u64) -> Option<&GlIssue> {
        self.issues.iter().find(|i| i.iid == iid)
    }

    pub(crate) fn issue_mut(&mut self, iid: u64) -> Option<&mut GlIssue> {
        self.issues.iter_mut().find(|i| i.iid == iid)
    }

    /// The user with this ID.
    pub fn user(&self, id: u64) -> Option<&GlUser> {
        self.users.iter().find(|u| u.id == id)
    }

    /// The label named `name` (exact).
    pub fn label(&self, name: &str) -> Option<&GlLabel> {
        self.labels.iter().find(|l| l.name == name)
    }

    /// Hooks posting to `url`.
    pub fn hooks_to(&self, url: &str) -> Vec<&GlHook> {
        self.hooks.iter().filter(|h| h.url == url).collect()
    }

    /// Applies a label change by `user_id` at `now` the way GitLab does: the issue's label
    /// list, one resource label event and one system note per label actually added or
    /// removed. Unknown label names are skipped (GitLab ignores them too).
    pub(crate) fn change_labels(
        &mut self,
        iid: u64,
        user_id: u64,
        add: &[String],
        remove: &[String],
        now: OffsetDateTime,
    ) {
        let find = |name: &String| self.labels.iter().find(|l| &l.name == name).cloned();
        let changes: Vec<(GlLabel, bool)> = remove
            .iter()
            .filter_map(|n| find(n).map(|l| (l, false)))
            .chain(add.iter().filter_map(|n| find(n).map(|l| (l, true))))
            .collect();
        let mut next_id = self.next_id;
        let Some(issue) = self.issues.iter_mut().find(|i| i.iid == iid) else {
            return;
        };
        for (label, adding) in changes {
            if adding == issue.has_label(&label.name) {
                continue;
            }
            if adding {
                issue.labels.push(label.name.clone());
            } else {
                issue.labels.retain(|l| l != &label.name);
            }
            next_id += 2;
            issue.label_events.push(GlLabelEvent {
                id: next_id - 1,
                user_id,
                label_id: label.id,
                label_name: label.name.clone(),
                action: if adding { "add" } else { "remove" }.to_owned(),
                created_at: now,
            });
            let verb = if adding { "added" } else { "removed" };
            issue.notes.push(GlNote {
                id: next_id,
                body: format!("{verb} ~{} label", label.id),
                author_id: user_id,
                system: true,
                created_at: now,
            });
            issue.updated_at = now;
        }
        self.next_id = next_id;
    }

    /// Closes or reopens an issue as `user_id`, with GitLab's system note.
    pub(crate) fn change_state(
        &mut self,
        iid: u64,
        user_id: u64,
        event: &str,
        now: OffsetDateTime,
    ) {
        let note_id = self.new_id();
        let Some(issue) = self.issue_mut(iid) else {
            return;
        };
        let (state, text) = match event {
            "close" if issue.state != "closed" => ("closed", "closed"),
            "reopen" if issue.state != "opened" => ("opened", "reopened"),
            _ => return,
        };
        issue.state = state.to_owned();
        issue.closed_by = (state == "closed").then_some(user_id);
        issue.notes.push(GlNote {
            id: note_id,
            body: text.to_owned(),
            author_id: user_id,
            system: true,
            created_at: now,
        });
        issue.updated_at = now;
    }
}
