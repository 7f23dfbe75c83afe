//! The issue-tracker plugins' one flow (Jira, GitLab): an issue per request, a comment per
//! review, and on resolution a comment then the closing call (a transition, a close), each
//! once across restarts and replicas. Decisions made in the tracker flow back through
//! [`crate::inbound`].
//!
//! A plugin implements [`IssueTracker`] (its API calls and texts) over a record of
//! [`IssueRecord`] with its own [`IssueKeys`], and runs a [`TrackerHandler`].

pub mod handler;
pub mod record;

pub use handler::{IssueTracker, TrackerHandler};
pub use record::{CloseProgress, IssueKeys, IssueRecord, stored};
