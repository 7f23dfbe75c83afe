//! Where the plugin under test posts: a fake service of one kind (the chat services Slack,
//! Mattermost, Discord and Teams; Mailgun for e-mail; the incident services PagerDuty,
//! Opsgenie, ServiceNow and Datadog; the trackers Jira and GitLab), its part of the plugin's
//! config (and, for the trackers, each replica's webhook listener), its fault control,
//! and what it shows. Every kind reads as the same [`Post`]s — the one object a request
//! opens (a root message, a card, a mail thread, an incident or alert), the request it
//! names, and whether it shows the resolution — so the benchmarks and the chaos run judge
//! every plugin by the same rules. One file per kind says what "posted" and "final" mean.

mod datadog;
mod discord;
mod gitlab;
mod jira;
mod mailgun;
mod mattermost;
mod msteams;
mod opsgenie;
mod pagerduty;
mod servicenow;
mod slack;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use teleport_fakes::discord::FakeDiscord;
use teleport_fakes::mailgun::FakeMailgun;
use teleport_fakes::mattermost::FakeMattermost;
use teleport_fakes::{
    Control, FakeDatadog, FakeGitlab, FakeJira, FakeMsTeams, FakeOpsgenie, FakePagerDuty,
    FakeServiceNow, FakeSlack,
};

/// The token each chat fake accepts (a secret the plugin must never log).
const TOKEN: &str = "xoxb-bench-token";
/// The chat channel's name.
pub(crate) const CHANNEL_NAME: &str = "access-requests";
/// The key every incident plugin records its request under (incident key, alias,
/// correlation ID).
const KEY_PREFIX: &str = "teleport-access-request/";
/// How the runtime's resolution note begins ("Access request has been approved").
const RESOLUTION_NOTE: &str = "Access request has been ";

/// A plugin the harness can drive, named after its binary without `teleport-`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub(crate) enum DestinationKind {
    /// teleport-slack against a fake Slack.
    Slack,
    /// teleport-mattermost against a fake Mattermost.
    Mattermost,
    /// teleport-discord against a fake Discord.
    Discord,
    /// teleport-msteams against a fake Teams (Graph, Bot Framework, login).
    Msteams,
    /// teleport-email in its Mailgun mode against a fake Mailgun.
    Email,
    /// teleport-pagerduty against a fake PagerDuty.
    Pagerduty,
    /// teleport-opsgenie against a fake Opsgenie.
    Opsgenie,
    /// teleport-servicenow against a fake ServiceNow.
    Servicenow,
    /// teleport-datadog against a fake Datadog.
    Datadog,
    /// teleport-jira against a fake Jira (Cloud, over HTTPS).
    Jira,
    /// teleport-gitlab against a fake GitLab.
    Gitlab,
}

/// A started fake of one kind.
pub(crate) enum Destination {
    Slack(FakeSlack),
    Mattermost(FakeMattermost),
    Discord(FakeDiscord),
    Msteams(FakeMsTeams),
    Email(FakeMailgun),
    Pagerduty(FakePagerDuty),
    Opsgenie(FakeOpsgenie),
    Servicenow(FakeServiceNow),
    Datadog(FakeDatadog),
    Jira(FakeJira),
    Gitlab(FakeGitlab),
}

/// One chat root message: the text it was posted with and the text it shows now (for
/// Discord, the content followed by the embeds' JSON), and when the fake received it.
pub(crate) struct RootMessage {
    pub first: String,
    pub current: String,
    pub received: Instant,
}

/// The one object a request opens at the destination, as any kind shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Post {
    /// The request it names (None: not one of the plugin's).
    pub request_id: Option<String>,
    /// Whether it shows the request's resolution.
    pub is_final: bool,
    /// When the fake received it, where the fake records that (the chat fakes do); the
    /// harness times the others by when it first sees them.
    pub received: Option<Instant>,
}

impl Post {
    /// A chat root message read as a post: the request from the text first posted, final
    /// when the text now shows a final status.
    fn from_root(message: RootMessage) -> Self {
        Self {
            request_id: request_id_in(&message.first).map(str::to_owned),
            is_final: shows_final_status(&message.current),
            received: Some(message.received),
        }
    }
}

impl Destination {
    /// Starts the fake of `kind`, answering after `latency`.
    pub(crate) async fn start(kind: DestinationKind, latency: Duration) -> Self {
        let destination = match kind {
            DestinationKind::Slack => Self::Slack(slack::start().await),
            DestinationKind::Mattermost => Self::Mattermost(mattermost::start().await),
            DestinationKind::Discord => Self::Discord(discord::start().await),
            DestinationKind::Msteams => Self::Msteams(msteams::start().await),
            DestinationKind::Email => Self::Email(mailgun::start().await),
            DestinationKind::Pagerduty => Self::Pagerduty(pagerduty::start().await),
            DestinationKind::Opsgenie => Self::Opsgenie(opsgenie::start().await),
            DestinationKind::Servicenow => Self::Servicenow(servicenow::start().await),
            DestinationKind::Datadog => Self::Datadog(datadog::start().await),
            DestinationKind::Jira => Self::Jira(jira::start().await),
            DestinationKind::Gitlab => Self::Gitlab(gitlab::start().await),
        };
        destination.control().set_latency(latency);
        destination
    }

    /// The fake's fault and latency control.
    pub(crate) fn control(&self) -> &Control {
        match self {
            Self::Slack(fake) => fake.control(),
            Self::Mattermost(fake) => fake.control(),
            Self::Discord(fake) => fake.control(),
            Self::Msteams(fake) => fake.control(),
            Self::Email(fake) => fake.control(),
            Self::Pagerduty(fake) => fake.control(),
            Self::Opsgenie(fake) => fake.control(),
            Self::Servicenow(fake) => fake.control(),
            Self::Datadog(fake) => fake.control(),
            Self::Jira(fake) => fake.control(),
            Self::Gitlab(fake) => fake.control(),
        }
    }

    /// The fake's base URL.
    pub(crate) fn base_url(&self) -> String {
        match self {
            Self::Slack(fake) => fake.base_url(),
            Self::Mattermost(fake) => fake.base_url(),
            Self::Discord(fake) => fake.base_url(),
            Self::Msteams(fake) => fake.graph_url(),
            Self::Email(fake) => fake.api_base(),
            Self::Pagerduty(fake) => fake.base_url(),
            Self::Opsgenie(fake) => fake.base_url(),
            Self::Servicenow(fake) => fake.base_url(),
            Self::Datadog(fake) => fake.base_url(),
            Self::Jira(fake) => fake.base_url(),
            Self::Gitlab(fake) => fake.base_url(),
        }
    }

    /// The chat token the plugin is given (the floor client posts to Slack with it).
    pub(crate) fn token(&self) -> &'static str {
        TOKEN
    }

    /// Every secret the plugin is configured with for this destination.
    pub(crate) fn secrets(&self) -> Vec<&'static str> {
        match self {
            Self::Slack(_) | Self::Mattermost(_) | Self::Discord(_) => vec![TOKEN],
            Self::Msteams(_) => vec![msteams::SECRET],
            Self::Email(_) => vec![mailgun::KEY],
            Self::Pagerduty(_) => vec![pagerduty::KEY],
            Self::Opsgenie(_) => vec![opsgenie::KEY],
            Self::Servicenow(_) => vec![servicenow::TOKEN],
            Self::Datadog(_) => datadog::KEYS.to_vec(),
            Self::Jira(_) => vec![jira::TOKEN],
            Self::Gitlab(_) => vec![gitlab::TOKEN, gitlab::HOOK_SECRET],
        }
    }

    /// The system annotations each request needs for the plugin to act on it (the service
    /// or schedule to page).
    pub(crate) fn request_annotations(&self) -> &'static [(&'static str, &'static [&'static str])] {
        match self {
            Self::Pagerduty(_) => pagerduty::ANNOTATIONS,
            Self::Opsgenie(_) => opsgenie::ANNOTATIONS,
            _ => &[],
        }
    }

    /// The plugin's service section and its recipients, every request to one place; files
    /// the section names (the fake Jira's CA) are written under `dir`.
    pub(crate) fn config_section(&self, dir: &Path) -> std::io::Result<String> {
        Ok(match self {
            Self::Slack(fake) => slack::config_section(&fake.base_url()),
            Self::Mattermost(fake) => mattermost::config_section(&fake.base_url()),
            Self::Discord(fake) => discord::config_section(&fake.base_url()),
            Self::Msteams(fake) => msteams::config_section(fake),
            Self::Email(fake) => mailgun::config_section(fake),
            Self::Pagerduty(fake) => pagerduty::config_section(fake),
            Self::Opsgenie(fake) => opsgenie::config_section(fake),
            Self::Servicenow(fake) => servicenow::config_section(fake),
            Self::Datadog(fake) => datadog::config_section(fake),
            Self::Jira(fake) => {
                let ca_file = dir.join("jira-ca.pem");
                std::fs::write(&ca_file, fake.ca_pem())?;
                jira::config_section(fake, &ca_file)
            }
            Self::Gitlab(fake) => gitlab::config_section(fake),
        })
    }

    /// One replica's `[http]` webhook listener on `listen`, for the plugins that take
    /// decisions by webhook (Jira, GitLab); None for the others.
    pub(crate) fn listener_section(&self, listen: SocketAddr) -> Option<String> {
        match self {
            Self::Jira(_) => Some(jira::listener_section(listen)),
            Self::Gitlab(_) => Some(gitlab::listener_section(listen)),
            _ => None,
        }
    }

    /// Flags after `start -c <config>`: the trackers' listeners serve plain HTTP on
    /// loopback (what a TLS-terminating ingress in front of them would see).
    pub(crate) fn start_flags(&self) -> &'static [&'static str] {
        match self {
            Self::Jira(_) | Self::Gitlab(_) => &["--insecure-no-tls"],
            _ => &[],
        }
    }

    /// Every chat root message (no thread replies), in posting order; empty for the
    /// other kinds (see [`posts`](Self::posts)).
    pub(crate) fn root_messages(&self) -> Vec<RootMessage> {
        match self {
            Self::Slack(fake) => slack::root_messages(fake),
            Self::Mattermost(fake) => mattermost::root_messages(fake),
            Self::Discord(fake) => discord::root_messages(fake),
            _ => Vec::new(),
        }
    }

    /// Every post, in order: what the plugin opened for the requests.
    pub(crate) fn posts(&self) -> Vec<Post> {
        match self {
            Self::Slack(_) | Self::Mattermost(_) | Self::Discord(_) => self
                .root_messages()
                .into_iter()
                .map(Post::from_root)
                .collect(),
            Self::Msteams(fake) => msteams::posts(fake),
            Self::Email(fake) => mailgun::posts(fake),
            Self::Pagerduty(fake) => pagerduty::posts(fake),
            Self::Opsgenie(fake) => opsgenie::posts(fake),
            Self::Servicenow(fake) => servicenow::posts(fake),
            Self::Datadog(fake) => datadog::posts(fake),
            Self::Jira(fake) => jira::posts(fake),
            Self::Gitlab(fake) => gitlab::posts(fake),
        }
    }

    /// Whether the fake stamps when each post arrived (else the harness watches for them).
    pub(crate) fn records_arrival(&self) -> bool {
        matches!(
            self,
            Self::Slack(_) | Self::Mattermost(_) | Self::Discord(_) | Self::Msteams(_)
        )
    }

    /// How many messages of any kind (chat roots and replies) the fake holds; for the
    /// other kinds, how many posts.
    pub(crate) fn message_count(&self) -> usize {
        match self {
            Self::Slack(fake) => slack::message_count(fake),
            Self::Mattermost(fake) => mattermost::message_count(fake),
            Self::Discord(fake) => discord::message_count(fake),
            _ => self.posts().len(),
        }
    }
}

/// The request ID a message names: the first hyphenated UUID in its text (every plugin's
/// message carries the request's ID, and the testkit's IDs are UUIDs).
pub(crate) fn request_id_in(text: &str) -> Option<&str> {
    const LEN: usize = 36;
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(LEN - 1))
        .find(|&start| uuid::Uuid::try_parse_ascii(&bytes[start..start + LEN]).is_ok())
        // A parsed window is ASCII, so its ends are character boundaries.
        .map(|start| &text[start..start + LEN])
}

/// Whether a message shows a final status: every chat plugin writes Go's status words in
/// capitals (Slack's fallback text `(APPROVED)`, Mattermost's `**Status**: ✅ APPROVED`).
pub(crate) fn shows_final_status(text: &str) -> bool {
    ["APPROVED", "DENIED", "EXPIRED"]
        .iter()
        .any(|status| text.contains(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0b7c6a2e-1f2e-4d3c-9a8b-7c6d5e4f3a2b";

    #[test]
    fn the_request_id_is_found_in_every_plugins_text() {
        let slack = format!("You have a new Role Request from a@example.com (PENDING): {ID}");
        let mattermost = format!("**Reason**: x\n**Request ID**: {ID}\n**Status**: ⏳ PENDING");
        assert_eq!(request_id_in(&slack), Some(ID));
        assert_eq!(request_id_in(&mattermost), Some(ID));
        assert_eq!(request_id_in("no id here: 1f2e-3d"), None);
        assert_eq!(request_id_in(""), None);
    }

    #[test]
    fn a_chat_root_reads_as_a_post_of_its_first_texts_request_final_by_its_current_text() {
        let message = |current: &str| RootMessage {
            first: format!("New request (PENDING): {ID}"),
            current: current.to_owned(),
            received: Instant::now(),
        };
        let pending = Post::from_root(message("(PENDING)"));
        assert_eq!(pending.request_id.as_deref(), Some(ID));
        assert!(!pending.is_final);
        assert!(pending.received.is_some());
        assert!(Post::from_root(message("(DENIED)")).is_final);
    }

    #[test]
    fn final_statuses_are_recognised() {
        assert!(shows_final_status("… (APPROVED): x"));
        assert!(shows_final_status("**Status**: ❌ DENIED"));
        assert!(shows_final_status("(EXPIRED)"));
        assert!(!shows_final_status("(PENDING): x"));
        assert!(!shows_final_status("chaos: approved"));
    }
}
