//! Fake upstream APIs (Slack, Mattermost, Discord, Microsoft Teams, PagerDuty, Opsgenie,
//! ServiceNow, Jira, Mailgun, GitLab) on loopback.
//!
//! Each fake lives in its own module with the same shape: `Fake<Name>::start(options)`,
//! `base_url()`, in-memory state behind a mutex, inspection methods for tests, and the
//! shared fault injection from [`control`] (latency, 429/5xx, rate limits, call counts)
//! plus down/up on the same port from [`server`].

pub mod control;
pub mod datadog;
pub mod discord;
pub mod gitlab;
pub mod jira;
pub mod mailgun;
pub mod mattermost;
pub mod msteams;
pub mod opsgenie;
pub mod pagerduty;
pub mod server;
pub mod servicenow;
pub mod slack;

pub use control::{Control, Fault, RateLimit, WaitTimeout};
pub use datadog::{FakeDatadog, FakeDatadogOptions};
pub use discord::{FakeDiscord, FakeDiscordOptions};
pub use gitlab::{FakeGitlab, FakeGitlabOptions};
pub use jira::{FakeJira, FakeJiraOptions};
pub use msteams::{FakeMsTeams, FakeMsTeamsOptions};
pub use opsgenie::{FakeOpsgenie, FakeOpsgenieOptions};
pub use pagerduty::{FakePagerDuty, FakePagerDutyOptions};
pub use servicenow::{FakeServiceNow, FakeServiceNowOptions};
pub use slack::{
    EphemeralMessage, FakeSlack, FakeSlackOptions, PostedMessage, block_actions_payload,
};
