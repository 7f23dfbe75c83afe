//! The shared compliance suite: what every plugin binary must do the same way, checked once
//! here and run by each plugin's `tests/compliance.rs` with one line.
//!
//! A plugin's test crate implements [`ComplianceWorld`] (its fake service, its config, how
//! to count what the service received) and calls
//! `teleport_plugin_testsupport::compliance_suite!(MyWorld);`, which expands to one
//! `#[tokio::test]` per check:
//!
//! * [`exactly_once_with_two_replicas`]: two processes, a burst, one of them killed mid-way;
//! * [`no_secret_in_any_log`]: a request's whole life and a failed start at debug level;
//! * [`malformed_configs_fail_clearly`]: exit 1 with one `error:` line naming file and key;
//! * [`ops_endpoints`]: `/healthz`, `/readyz` (503 until watching), `/metrics`;
//! * [`catch_up_after_downtime`]: what happened while the plugin was stopped.
//!
//! Every check runs the real binary as subprocesses against the testkit, so what is checked
//! is what an operator gets.

mod catch_up;
mod exactly_once;
mod harness;
mod malformed;
mod no_secrets;
mod ops;

use std::future::Future;
use std::path::{Path, PathBuf};

use teleport_testkit::{NewRequest, Testkit};

pub use catch_up::catch_up_after_downtime;
pub use exactly_once::exactly_once_with_two_replicas;
pub use malformed::malformed_configs_fail_clearly;
pub use no_secrets::no_secret_in_any_log;
pub use ops::ops_endpoints;

/// The user every check's requests are made by; worlds that notify the requester know them
/// under this address.
pub const REQUESTER: &str = "alice@example.com";

/// What a plugin's test suite tells the compliance checks about its integration.
pub trait ComplianceWorld: Sized {
    /// The binary under test: `env!("CARGO_BIN_EXE_teleport-<name>")` in the plugin's test crate.
    const BINARY: &'static str;
    /// The plugin's namespace in Teleport plugin data (`slack`, `mattermost`, ...), where the
    /// checks look for the lease (`claim`) being released.
    const PLUGIN: &'static str;

    /// Starts the service's fake(s) on loopback. `kit` is the cluster the plugin will watch
    /// (for setup such as reviewer roles); `dir` is a temp dir for files the config points
    /// at (secret files, CAs), deleted after the check.
    fn start(kit: &Testkit, dir: &Path) -> impl Future<Output = Self>;

    /// A complete config for the binary against this world's service. Start it with
    /// [`ConfigParams::shared_sections`] (`[teleport]`, `[log]`, `[ops]` as the check needs
    /// them) and add the plugin's own sections.
    fn config(&self, params: &ConfigParams) -> String;

    /// A new pending request by `user` this plugin acts on, to which the check adds its
    /// reason (and sometimes thresholds) before creating it. Override it where the plugin
    /// needs more (PagerDuty: the notify-service annotation).
    fn new_request<'k>(&self, kit: &'k Testkit, user: &str) -> NewRequest<'k> {
        kit.new_request(user, &["editor"])
    }

    /// Whom every request is delivered to, one entry per recipient (channel IDs, addresses,
    /// service IDs), as [`deliveries`](Self::deliveries) names them.
    fn recipients(&self) -> Vec<String>;

    /// What the service received for this request's reviewers: one entry per delivery (a
    /// message, a mail, an incident), naming its recipient. Replies, edits and the
    /// requester's own notice are not deliveries.
    fn deliveries(&self, request_id: &str) -> Vec<String>;

    /// Whether the service shows the request approved (the messages edited, a resolution
    /// mail sent, the incident resolved).
    fn shows_approved(&self, request_id: &str) -> bool;

    /// From now on, answer every call with a transient failure (a 5xx, an SMTP 421) without
    /// keeping anything (`true`), or serve normally again (`false`).
    fn refuse_sends(&self, refuse: bool);

    /// Every secret value the config holds (tokens, passwords, API keys): none may appear
    /// in any output. Key material of the Teleport identity is checked by the suite.
    fn secrets(&self) -> Vec<String>;

    /// Configs broken in the plugin's own sections, each with what its error line must
    /// name (the key, and a path where one is at fault). The suite adds the shared cases
    /// (TOML syntax, `[log]`, `[ops]`, the identity, a syntax error on a secret's line).
    fn malformed_configs(&self, params: &ConfigParams) -> Vec<MalformedConfig>;
}

/// A config the binary must refuse, and what its one `error:` line must name besides the
/// config file.
#[derive(Clone, Debug)]
pub struct MalformedConfig {
    /// What is wrong, for the failure message.
    pub name: String,
    /// The whole config file.
    pub toml: String,
    /// Substrings the error line must contain: the key (`slack.token`), a path.
    pub names: Vec<String>,
}

impl MalformedConfig {
    /// A case named `name` whose error must mention each of `names`.
    pub fn new(name: &str, toml: impl Into<String>, names: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            toml: toml.into(),
            names: names.iter().map(|n| (*n).to_owned()).collect(),
        }
    }
}

/// The settings the suite writes every config with.
#[derive(Clone, Debug)]
pub struct ConfigParams {
    /// `[teleport] addr`: the testkit's auth address.
    pub teleport_addr: String,
    /// `[teleport] identity`: an identity file the testkit issued.
    pub identity: PathBuf,
    /// More `[teleport]` lines (empty unless a malformed case needs them).
    pub teleport_extra: String,
    /// `[log] output`: `stderr` or a file path.
    pub log_output: String,
    /// `[log] severity`: `DEBUG` unless a check breaks it.
    pub log_severity: String,
    /// `[ops] listen_addr`, when the check uses the ops endpoint.
    pub ops_listen_addr: Option<String>,
}

impl ConfigParams {
    /// `[teleport]`, `[log]` and (when set) `[ops]`, as TOML for a world's config to start with.
    pub fn shared_sections(&self) -> String {
        let mut text = format!(
            "[teleport]\naddr = {}\nidentity = {}\n{}\n[log]\noutput = {}\nseverity = {}\n\n",
            quote(&self.teleport_addr),
            quote(&self.identity.display().to_string()),
            self.teleport_extra,
            quote(&self.log_output),
            quote(&self.log_severity),
        );
        if let Some(addr) = &self.ops_listen_addr {
            text.push_str(&format!("[ops]\nlisten_addr = {}\n\n", quote(addr)));
        }
        text
    }
}

/// `value` as a TOML basic string.
pub fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Expands to one `#[tokio::test]` per compliance check for the given [`ComplianceWorld`],
/// each named after its check (the test crate needs `tokio` with its macros); name the
/// checks to run only some (and write an ignored test by hand for the one a plugin cannot
/// pass yet).
///
/// ```ignore
/// teleport_plugin_testsupport::compliance_suite!(SlackWorld);
/// teleport_plugin_testsupport::compliance_suite!(SlackWorld: ops_endpoints, catch_up_after_downtime);
/// ```
#[macro_export]
macro_rules! compliance_suite {
    ($world:ty) => {
        $crate::compliance_suite!(
            $world: exactly_once_with_two_replicas,
            no_secret_in_any_log,
            malformed_configs_fail_clearly,
            ops_endpoints,
            catch_up_after_downtime
        );
    };
    ($world:ty: $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                $crate::compliance::$check::<$world>().await;
            }
        )+
    };
}
