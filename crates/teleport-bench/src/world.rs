//! One measured world: an in-process Teleport (the testkit) and a fake chat service (Slack
//! unless the chaos run asks for another), an identity and config files for the process
//! under test, and the checks of what arrived in the chat.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use teleport_testkit::{IdentityRequest, Testkit};

use crate::destination::{CHANNEL_NAME, Destination, DestinationKind, request_id_in};
use crate::process::free_port;

/// Distinct requesters, so requests are not all alike.
const USERS: usize = 50;

/// Testkit + fake chat + files for one process under test.
pub(crate) struct World {
    /// The in-process Teleport.
    pub kit: Testkit,
    /// The fake chat service.
    pub dest: Destination,
    dir: PathBuf,
    identity: PathBuf,
    created: usize,
    /// Private-key lines of every identity issued (secrets that must never be logged).
    key_lines: Vec<String>,
    /// When the harness first saw each request's post, for fakes that stamp no arrival.
    first_seen: HashMap<String, Instant>,
}

/// What the fake chat holds for a set of requests.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub(crate) struct Delivered {
    /// Root messages in the chat.
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
    /// Starts both servers (the chat of `kind`); files go under `dir`.
    pub(crate) async fn start(
        dir: &Path,
        kind: DestinationKind,
        latency: Duration,
        watch_buffer: usize,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let kit = Testkit::builder()
            .cluster_name("bench.teleport.example")
            .watch_buffer(watch_buffer)
            .start()
            .await?;
        let dest = Destination::start(kind, latency).await;
        let identity = dir.join("auth_id");
        kit.issue_identity(&IdentityRequest::new("access-plugin-slack"))?
            .write_identity_file(&identity)?;
        let mut world = Self {
            kit,
            dest,
            dir: dir.to_owned(),
            identity: identity.clone(),
            created: 0,
            key_lines: Vec::new(),
            first_seen: HashMap::new(),
        };
        world.remember_key_of(&identity)?;
        Ok(world)
    }

    /// The work directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the plugin's config: this world's Teleport and chat, `/metrics` on `ops`.
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
        // Each process gets a webhook listener of its own, where the plugin has one.
        let listener = self.dest.listener_section(free_port()?);
        let text = format!(
            r#"[teleport]
addr = "{addr}"
identity = "{identity}"

{destination}
{listener}
[ops]
listen_addr = "{ops}"

[log]
output = "{log}"
severity = "{severity}"
"#,
            addr = self.kit.auth_addr(),
            identity = self.identity.display(),
            destination = self.dest.config_section(&self.dir)?,
            listener = listener.unwrap_or_default(),
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

    /// Every secret this world handed to the plugin: the chat token and the body lines of
    /// each identity's private key (to look for in the plugin's output).
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self.dest.secrets().into_iter().map(str::to_owned).collect();
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

    /// Notes when each request's post is first seen, for destinations whose fake stamps
    /// no arrival time (a no-op for the others); the chaos run calls it as it polls.
    pub(crate) fn observe_posts(&mut self) {
        if self.dest.records_arrival() {
            return;
        }
        let now = Instant::now();
        for post in self.dest.posts() {
            if let Some(id) = post.request_id {
                self.first_seen.entry(id).or_insert(now);
            }
        }
    }

    /// Arguments for the floor client against this world (the token goes in a file).
    pub(crate) fn floor_args(&self) -> anyhow::Result<Vec<String>> {
        let token_file = self.dir.join("slack-token");
        std::fs::write(&token_file, self.dest.token())?;
        Ok(vec![
            "floor-client".into(),
            "--addr".into(),
            self.kit.auth_addr().to_string(),
            "--identity".into(),
            self.identity.display().to_string(),
            "--slack-url".into(),
            self.dest.base_url(),
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
        let mut request = self.kit.new_request(&user, &["editor"]).reason(&reason);
        for (key, values) in self.dest.request_annotations() {
            request = request.system_annotation(key, values);
        }
        let request = request.create()?;
        Ok(request.metadata.unwrap_or_default().name)
    }

    /// Waits until the chat holds at least `count` posts.
    pub(crate) async fn wait_for_posts(
        &self,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        self.dest
            .control()
            .wait_until(timeout, || {
                (self.dest.message_count() >= count).then_some(())
            })
            .await
            .map_err(|_| {
                anyhow::anyhow!("not all {count} messages reached the chat within {timeout:?}")
            })
    }

    /// When the latest root message reached the chat.
    pub(crate) async fn last_post(&self) -> Option<Instant> {
        self.dest.root_messages().iter().map(|m| m.received).max()
    }

    /// When each request's post reached the destination, by request ID (first one wins;
    /// where the fake stamps no arrival, when the harness first saw it).
    pub(crate) async fn post_times(&self) -> HashMap<String, Instant> {
        let mut times = self.first_seen.clone();
        for post in self.dest.posts() {
            if let (Some(id), Some(received)) = (post.request_id, post.received) {
                times.entry(id).or_insert(received);
            }
        }
        times
    }

    /// Checks the root messages against the requests created.
    pub(crate) async fn delivered(&self, ids: &[String]) -> Delivered {
        let mut seen = HashSet::new();
        let mut delivered = Delivered::default();
        for message in self.dest.root_messages() {
            delivered.root_messages += 1;
            let id = request_id_in(&message.first).unwrap_or_default();
            if !seen.insert(id.to_owned()) {
                delivered.duplicates += 1;
            }
        }
        delivered.missing = ids.iter().filter(|id| !seen.contains(*id)).count();
        delivered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
