//! What the fake Mattermost remembers: users, teams, channels with members, posts with edits.

use std::time::Instant;

/// A Mattermost user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MmUser {
    /// User ID.
    pub id: String,
    /// Login name.
    pub username: String,
    /// E-mail address (`users/email/{email}` finds the user by it, ignoring case).
    pub email: String,
}

/// A team.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MmTeam {
    /// Team ID.
    pub id: String,
    /// The URL slug (`teams/name/{name}`).
    pub name: String,
    /// The name people see.
    pub display_name: String,
    /// Member user IDs.
    pub members: Vec<String>,
}

/// A channel: open (`O`), private (`P`) or direct (`D`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MmChannel {
    /// Channel ID.
    pub id: String,
    /// The team's ID; empty for direct channels.
    pub team_id: String,
    /// The URL slug.
    pub name: String,
    /// The name people see.
    pub display_name: String,
    /// `O`, `P` or `D`.
    pub kind: String,
    /// Member user IDs.
    pub members: Vec<String>,
}

/// A stored post with its edit history.
#[derive(Clone, Debug, PartialEq)]
pub struct MmPost {
    /// Post ID.
    pub id: String,
    /// The channel it is in.
    pub channel_id: String,
    /// The thread root's ID for replies, empty for roots.
    pub root_id: String,
    /// The text as first posted.
    pub message: String,
    /// Every later `PUT posts/{id}` text, oldest first.
    pub edits: Vec<String>,
    /// When the post reached the fake.
    pub received: Instant,
    /// `create_at`: wall-clock Unix milliseconds of its creation, which `since` compares.
    pub create_at: u64,
    /// The post's `props` as sent (the plugin marks its request posts there).
    pub props: serde_json::Map<String, serde_json::Value>,
}

/// Now, in the Unix milliseconds of `create_at`.
pub(crate) fn unix_millis_now() -> u64 {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    u64::try_from(millis).unwrap_or(u64::MAX)
}

impl MmPost {
    /// The text after the latest edit.
    pub fn current(&self) -> &str {
        self.edits.last().unwrap_or(&self.message)
    }
}

/// Everything the fake remembers, for [`FakeMattermost::wait_for`] predicates.
#[derive(Debug, Default)]
pub struct MmState {
    /// Users, the bot first.
    pub users: Vec<MmUser>,
    /// Teams.
    pub teams: Vec<MmTeam>,
    /// Channels, direct ones included.
    pub channels: Vec<MmChannel>,
    /// Posts in posting order.
    pub posts: Vec<MmPost>,
    next_id: u64,
}

impl MmState {
    pub(crate) fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:024}", self.next_id)
    }

    /// Root posts in posting order.
    pub fn roots(&self) -> impl Iterator<Item = &MmPost> {
        self.posts.iter().filter(|p| p.root_id.is_empty())
    }

    /// Replies to `root_id`, in posting order.
    pub fn replies<'a>(&'a self, root_id: &'a str) -> impl Iterator<Item = &'a MmPost> {
        self.posts.iter().filter(move |p| p.root_id == root_id)
    }

    /// The post with this ID.
    pub fn post(&self, id: &str) -> Option<&MmPost> {
        self.posts.iter().find(|p| p.id == id)
    }

    /// The direct channel between two users, if one was opened.
    pub fn direct_channel(&self, a: &str, b: &str) -> Option<&MmChannel> {
        self.channels.iter().find(|c| {
            c.kind == "D" && c.members.iter().any(|m| m == a) && c.members.iter().any(|m| m == b)
        })
    }
}
