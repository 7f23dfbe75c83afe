//! One measured world: an in-process Teleport (the testkit) and a fake Slack, an
//! identity and config files for the process under test, and the checks of what
//! arrived in Slack.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use teleport_fakes::slack::SlackState;
use teleport_fakes::{FakeSlack, FakeSlackOptions};
use teleport_testkit::{IdentityRequest, Testkit};

/// The token the fake Slack accepts.
const TOKEN: &str = "xoxb-bench-token";
/// The channel every request is posted to.
pub(crate) const CHANNEL_ID: &str = "C0ACCESS";
const CHANNEL_NAME: &str = "access-requests";
/// Distinct requesters, so requests are not all alike.
const USERS: usize = 50;

/// Testkit + fake Slack + files for one process under test.
pub(crate) struct World {
    /// The in-process Teleport.
    pub kit: Testkit,
    /// The fake Slack.
    pub slack: FakeSlack,
    dir: PathBuf,
    identity: PathBuf,
    created: usize,
    /// Private-key lines of every identity issued (secrets that must never be logged).
    key_lines: Vec<String>,
}

/// What the fake Slack holds for a set of requests.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub(crate) struct Delivered {
    /// Root messages in Slack.
    pub root_messages: usize,
    /// Root messages beyond the first for some request.
    pub duplicates: usize,
    /// Requests without a root message.
    pub missing: usize,
}

impl Delivered {
    /// Exactly one root message per request, nothing else.
    pub(crate) fn exactly_once(&self, requests: usize) -> bool {
        self.root_messages == requests && self.duplicates == 0 && self.missing == 0
    }
}

impl World {
    /// Starts both servers; files go under `dir`.
    pub(crate) async fn start(
        dir: &Path,
        latency: Duration,
        watch_buffer: usize,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let kit = Testkit::builder()
            .cluster_name("bench.teleport.example")
            .watch_buffer(watch_buffer)
            .start()
            .await?;
        let slack = FakeSlack::start(
            FakeSlackOptions::default()
                .token(TOKEN)
                .channel(CHANNEL_ID, CHANNEL_NAME)
                .latency(latency),
        )
        .await;
        let identity = dir.join("auth_id");
        kit.issue_identity(&IdentityRequest::new("access-plugin-slack"))?
            .write_identity_file(&identity)?;
        let mut world = Self {
            kit,
            slack,
            dir: dir.to_owned(),
            identity: identity.clone(),
            created: 0,
            key_lines: Vec::new(),
        };
        world.remember_key_of(&identity)?;
        Ok(world)
    }

    /// The work directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the plugin's config: this world's Teleport and Slack, `/metrics` on `ops`.
    pub(crate) fn plugin_config(&self, ops: SocketAddr, severity: &str) -> anyhow::Result<PathBuf> {
        self.plugin_config_named("teleport-slack", ops, severity)
    }

    /// [`plugin_config`](Self::plugin_config) as `<name>.toml` logging to `<name>.log`, for
    /// several processes in one world.
    pub(crate) fn plugin_config_named(
        &self,
        name: &str,
        ops: SocketAddr,
        severity: &str,
    ) -> anyhow::Result<PathBuf> {
        let path = self.dir.join(format!("{name}.toml"));
        let text = format!(
            r#"[teleport]
addr = "{addr}"
identity = "{identity}"

[slack]
token = "{TOKEN}"
apiurl = "{url}"

[role_to_recipients]
"*" = "{CHANNEL_NAME}"

[ops]
listen_addr = "{ops}"

[log]
output = "{log}"
severity = "{severity}"
"#,
            addr = self.kit.auth_addr(),
            identity = self.identity.display(),
            url = self.slack.base_url(),
            log = self.dir.join(format!("{name}.log")).display(),
        );
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    /// Replaces the identity file with a freshly issued one (written aside, then renamed,
    /// as `tbot` does), which the plugin picks up without a restart.
    pub(crate) fn rotate_identity(&mut self, request: &IdentityRequest) -> anyhow::Result<()> {
        let fresh = self.dir.join("auth_id.next");
        self.kit
            .issue_identity(request)?
            .write_identity_file(&fresh)?;
        self.remember_key_of(&fresh)?;
        std::fs::rename(&fresh, &self.identity)
            .with_context(|| format!("cannot replace {}", self.identity.display()))?;
        Ok(())
    }

    /// Every secret this world handed to the plugin: the Slack token and the body lines of
    /// each identity's private key (to look for in the plugin's output).
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![TOKEN.to_owned()];
        secrets.extend(self.key_lines.iter().cloned());
        secrets
    }

    fn remember_key_of(&mut self, identity: &Path) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(identity)?;
        let key = text
            .split("-----BEGIN")
            .find(|block| block.contains("PRIVATE KEY-----"))
            .unwrap_or_default();
        self.key_lines.extend(
            key.lines()
                .map(str::trim)
                .filter(|l| l.len() >= 40 && !l.contains("-----"))
                .map(str::to_owned),
        );
        Ok(())
    }

    /// Each root message's text as first posted and as it reads now.
    pub(crate) async fn root_message_texts(&self) -> Vec<(String, String)> {
        self.inspect(|s| {
            s.root_messages()
                .map(|m| {
                    (
                        m.posted.text.clone().unwrap_or_default(),
                        m.current().text.clone().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .await
    }

    /// Arguments for the floor client against this world (the token goes in a file).
    pub(crate) fn floor_args(&self) -> anyhow::Result<Vec<String>> {
        let token_file = self.dir.join("slack-token");
        std::fs::write(&token_file, TOKEN)?;
        Ok(vec![
            "floor-client".into(),
            "--addr".into(),
            self.kit.auth_addr().to_string(),
            "--identity".into(),
            self.identity.display().to_string(),
            "--slack-url".into(),
            self.slack.base_url(),
            "--token-file".into(),
            token_file.display().to_string(),
            "--channel".into(),
            CHANNEL_NAME.into(),
        ])
    }

    /// Creates `count` pending requests as fast as the testkit takes them; returns their IDs.
    /// Blocks the calling thread (wrap it in `block_in_place`).
    pub(crate) fn create_requests(&mut self, count: usize) -> anyhow::Result<Vec<String>> {
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            ids.push(self.create_one()?);
        }
        Ok(ids)
    }

    /// Creates one pending request and returns its ID.
    pub(crate) fn create_one(&mut self) -> anyhow::Result<String> {
        let n = self.created;
        self.created += 1;
        let user = format!("user{}@example.com", n % USERS);
        let reason = format!("benchmark request number {n}: rotate the staging keys");
        let request = self.kit.create_request(&user, &["editor"], &reason)?;
        Ok(request.metadata.unwrap_or_default().name)
    }

    /// Runs `f` on the fake Slack's recorded state (a zero-timeout wait holds at once).
    async fn inspect<T: Default>(&self, f: impl Fn(&SlackState) -> T) -> T {
        self.slack
            .wait_for(Duration::ZERO, |s| Some(f(s)))
            .await
            .unwrap_or_default()
    }

    /// Waits until Slack holds at least `count` posts.
    pub(crate) async fn wait_for_posts(
        &self,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        self.slack
            .wait_for(timeout, |s| (s.messages().len() >= count).then_some(()))
            .await
            .map_err(|_| {
                anyhow::anyhow!("not all {count} messages reached Slack within {timeout:?}")
            })
    }

    /// When the latest post reached the fake Slack.
    pub(crate) async fn last_post(&self) -> Option<Instant> {
        self.inspect(|s| s.messages().iter().map(|m| m.received).max())
            .await
    }

    /// When each request's root message reached Slack, by request ID (first one wins).
    pub(crate) async fn post_times(&self) -> HashMap<String, Instant> {
        self.inspect(|s| {
            let mut times = HashMap::new();
            for message in s.root_messages() {
                if let Some(id) = request_id_of(message.posted.text.as_deref()) {
                    times.entry(id.to_owned()).or_insert(message.received);
                }
            }
            times
        })
        .await
    }

    /// Checks the root messages against the requests created.
    pub(crate) async fn delivered(&self, ids: &[String]) -> Delivered {
        self.inspect(|s| {
            let mut seen = HashSet::new();
            let mut delivered = Delivered::default();
            for message in s.root_messages() {
                delivered.root_messages += 1;
                let id = request_id_of(message.posted.text.as_deref()).unwrap_or_default();
                if !seen.insert(id.to_owned()) {
                    delivered.duplicates += 1;
                }
            }
            delivered.missing = ids.iter().filter(|id| !seen.contains(*id)).count();
            delivered
        })
        .await
    }
}

/// The request ID at the end of a message's notification text: the plugin's text ends
/// with `(PENDING): <id>` and the floor client's with `request: <id>`.
pub(crate) fn request_id_of(text: Option<&str>) -> Option<&str> {
    let (_, id) = text?.rsplit_once(": ")?;
    Some(id.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_is_read_from_both_message_texts() {
        assert_eq!(
            request_id_of(Some(
                "You have a new Role Request from a@example.com for editor (PENDING): 1f2e-3d"
            )),
            Some("1f2e-3d")
        );
        assert_eq!(request_id_of(Some("New access request: abc")), Some("abc"));
        assert_eq!(request_id_of(Some("no id here")), None);
        assert_eq!(request_id_of(None), None);
    }

    #[test]
    fn exactly_once_needs_every_request_once() {
        let ok = Delivered {
            root_messages: 3,
            duplicates: 0,
            missing: 0,
        };
        assert!(ok.exactly_once(3));
        assert!(!ok.exactly_once(4));
        let dup = Delivered {
            root_messages: 3,
            duplicates: 1,
            missing: 1,
        };
        assert!(!dup.exactly_once(3));
    }
}
