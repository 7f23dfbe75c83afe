//! What every check stands on: the testkit, the world's service, an identity, configs
//! written into a temp dir, and the plugin binary run as replicas whose output is kept.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use teleport_testkit::{IdentityRequest, NewRequest, Testkit};
use tokio::process::Child;

use super::{ComplianceWorld, ConfigParams, REQUESTER};
use crate::{identity_dir, log_file, start_plugin, terminate};

/// How long anything the plugin should do may take on a small shared machine, including a
/// dead replica's lease lapsing (30 s) and retries backing off.
pub(super) const WAIT: Duration = Duration::from_secs(60);

/// How long a duplicate has to show up after everything looked delivered.
const SETTLE: Duration = Duration::from_millis(500);

/// How often a condition on the service's state is checked again.
const POLL: Duration = Duration::from_millis(25);

/// The testkit, the world and a temp dir with the plugin's identity in it.
pub(super) struct Harness<W> {
    /// The cluster the plugin watches.
    pub kit: Testkit,
    /// The plugin's service, as its test suite set it up.
    pub world: W,
    dir: tempfile::TempDir,
    identity: PathBuf,
}

impl<W: ComplianceWorld> Harness<W> {
    /// A fresh cluster, identity and service.
    pub(super) async fn start() -> Self {
        let kit = Testkit::builder()
            .cluster_name("teleport.example.com")
            .start()
            .await
            .expect("the testkit starts");
        let (dir, identity) = identity_dir(&kit, &IdentityRequest::new("access-plugin"), "auth_id");
        let world = W::start(&kit, dir.path()).await;
        Self {
            kit,
            world,
            dir,
            identity,
        }
    }

    /// The temp dir configs and logs are written to.
    pub(super) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Settings for a config: this cluster and identity, debug logging to stderr, no ops.
    pub(super) fn params(&self) -> ConfigParams {
        ConfigParams {
            teleport_addr: self.kit.auth_addr().to_string(),
            identity: self.identity.clone(),
            teleport_extra: String::new(),
            log_output: "stderr".into(),
            log_severity: "DEBUG".into(),
            ops_listen_addr: None,
        }
    }

    /// Writes `text` to `<name>.toml` in the temp dir.
    pub(super) fn write_config(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir().join(format!("{name}.toml"));
        std::fs::write(&path, text).expect("the config is written");
        path
    }

    /// Starts a replica named `name` with the world's config for `params`; its stdout and
    /// stderr go to `<name>.out`.
    pub(super) fn spawn_with(&self, name: &str, params: &ConfigParams) -> Replica {
        let config = self.write_config(name, &self.world.config(params));
        let output = self.dir().join(format!("{name}.out"));
        let (stdout, stderr) = log_file(&output);
        Replica {
            name: name.to_owned(),
            child: start_plugin(W::BINARY, &config, stdout, stderr),
            output,
        }
    }

    /// Starts a replica with the default settings (debug to stderr, no ops).
    pub(super) fn spawn(&self, name: &str) -> Replica {
        self.spawn_with(name, &self.params())
    }

    /// Creates a request by [`REQUESTER`] the plugin acts on; returns its ID.
    pub(super) fn create_request(&self, reason: &str) -> String {
        self.create_with(reason, |request| request)
    }

    /// Creates a request after `adjust` has had its say (thresholds); returns its ID.
    pub(super) fn create_with(
        &self,
        reason: &str,
        adjust: impl FnOnce(NewRequest<'_>) -> NewRequest<'_>,
    ) -> String {
        let request = adjust(self.world.new_request(&self.kit, REQUESTER).reason(reason))
            .create()
            .expect("the testkit creates the request");
        crate::request_id(&request)
    }

    /// Whether no replica holds a lease on the request's record.
    pub(super) fn released(&self, id: &str) -> bool {
        self.kit
            .plugin_data(id, W::PLUGIN)
            .is_some_and(|data| data.get("claim").is_none_or(String::is_empty))
    }

    /// Waits until every request reached each recipient and no lease is held on it.
    pub(super) async fn wait_delivered(&self, ids: &[String]) {
        let wanted = self.world.recipients().len();
        self.wait_until(
            "every request delivered to each recipient",
            || {
                ids.iter()
                    .all(|id| self.world.deliveries(id).len() >= wanted && self.released(id))
            },
            || self.report(ids),
        )
        .await;
    }

    /// Waits until `done` holds, polling; panics with `what` and `report()` after [`WAIT`].
    pub(super) async fn wait_until(
        &self,
        what: &str,
        mut done: impl FnMut() -> bool,
        report: impl Fn() -> String,
    ) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {WAIT:?} waiting for {what}:\n{}",
                report()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// After a pause for late duplicates: each request delivered exactly once per recipient.
    pub(super) async fn assert_exactly_once(&self, ids: &[String]) {
        tokio::time::sleep(SETTLE).await;
        let mut wanted = self.world.recipients();
        wanted.sort();
        for id in ids {
            let mut got = self.world.deliveries(id);
            got.sort();
            assert_eq!(
                got, wanted,
                "request {id}: the service received {got:?}, expected exactly one delivery to each of {wanted:?}"
            );
        }
    }

    /// What the service received and what plugin data says, per request, for failures.
    pub(super) fn report(&self, ids: &[String]) -> String {
        ids.iter()
            .map(|id| {
                format!(
                    "  {id}: deliveries {:?}, plugin data {:?}\n",
                    self.world.deliveries(id),
                    self.kit.plugin_data(id, W::PLUGIN)
                )
            })
            .collect()
    }
}

/// A plugin process; killed if the check drops it.
pub(super) struct Replica {
    name: String,
    child: Child,
    output: PathBuf,
}

impl Replica {
    /// SIGKILL: no shutdown, nothing released.
    pub(super) async fn kill(mut self) {
        self.child
            .kill()
            .await
            .expect("SIGKILL reaches the replica");
    }

    /// SIGTERM; asserts a clean exit (0) and returns everything it printed.
    pub(super) async fn stop(mut self) -> String {
        let status = terminate(&mut self.child, WAIT).await;
        let output = self.output();
        assert!(
            status.success(),
            "{} exited with {status} after SIGTERM; output:\n{output}",
            self.name
        );
        output
    }

    /// Waits for an exit the replica makes on its own (a failed start).
    pub(super) async fn exit(mut self) -> (ExitStatus, String) {
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not exit within {WAIT:?}", self.name))
            .expect("the exit status");
        (status, self.output())
    }

    /// Everything it printed so far (stdout and stderr).
    pub(super) fn output(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }
}

/// A loopback address for `[ops] listen_addr` nothing listens on right now.
pub(super) fn ops_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], crate::free_port()))
}
