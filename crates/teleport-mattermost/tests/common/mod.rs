//! Test support: a testkit Teleport, a fake Mattermost, and the plugin running in-process.

#![allow(dead_code, unused_imports)] // each test crate uses its own part of these helpers

use std::path::{Path, PathBuf};
use std::time::Duration;

use teleport_fakes::mattermost::{FakeMattermost, FakeMattermostOptions};
use teleport_mattermost::config;
pub(crate) use teleport_plugin_testsupport::request_id;
use teleport_plugin_testsupport::{InProcessPlugin, identity_dir, startup_error};
use teleport_testkit::{IdentityRequest, Testkit};
use tokio_util::sync::CancellationToken;

pub(crate) const TOKEN: &str = "mm-test-token";
pub(crate) const WAIT: Duration = Duration::from_secs(20);
pub(crate) const TEAM: &str = "team00000000000000000000001";
pub(crate) const CHANNEL: &str = "chan00000000000000000000001";
pub(crate) const OTHER_CHANNEL: &str = "chan00000000000000000000002";
pub(crate) const ALICE: &str = "alice0000000000000000000001";
pub(crate) const BOB: &str = "bob000000000000000000000001";
pub(crate) const CAROL: &str = "carol0000000000000000000001";

/// A fake with team `eng` ("Engineering"), channels `access-requests` ("Access Requests",
/// bot member) and `secret-ops` ("Secret Ops", bot not a member), and three users.
pub(crate) fn fake_options() -> FakeMattermostOptions {
    FakeMattermostOptions::default()
        .token(TOKEN)
        .team(TEAM, "eng", "Engineering", true)
        .channel(CHANNEL, TEAM, "access-requests", "Access Requests", true)
        .channel(OTHER_CHANNEL, TEAM, "secret-ops", "Secret Ops", false)
        .user(ALICE, "alice@example.com")
        .user(BOB, "bob@example.com")
        .user(CAROL, "carol@example.com")
}

pub(crate) struct Env {
    pub kit: Testkit,
    pub fake: FakeMattermost,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub(crate) async fn start(options: FakeMattermostOptions) -> Self {
        let kit = Testkit::builder()
            .cluster_name("teleport.example.com")
            .start()
            .await
            .expect("testkit");
        let fake = FakeMattermost::start(options).await;
        let (dir, _) = identity_dir(
            &kit,
            &IdentityRequest::new("access-plugin-mattermost"),
            "identity",
        );
        Self { kit, fake, dir }
    }

    /// A complete config file with this `[mattermost]` token and `role_to_recipients` body.
    pub(crate) fn write_config(&self, token: &str, recipients: &str) -> PathBuf {
        let text = format!(
            "[teleport]\naddr = \"{addr}\"\nidentity = \"{identity}\"\n\n\
             [mattermost]\nurl = \"{url}\"\ntoken = \"{token}\"\nnotify_requester = true\n\n\
             [role_to_recipients]\n{recipients}\n",
            addr = self.kit.auth_addr(),
            identity = self.dir.path().join("identity").display(),
            url = self.fake.base_url(),
        );
        let path = self.dir.path().join("teleport-mattermost.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }

    pub(crate) fn config(&self, path: &Path) -> config::Config {
        config::load(path).expect("config loads")
    }

    /// Starts the plugin in-process.
    pub(crate) fn spawn(&self, path: &Path) -> InProcessPlugin {
        let config = self.config(path);
        InProcessPlugin::spawn(WAIT, |stop| teleport_mattermost::run(config, stop))
    }

    /// Runs the plugin expecting its start-up to fail; returns the error text.
    pub(crate) async fn start_error(&self, path: &Path) -> String {
        let config = self.config(path);
        startup_error(
            WAIT,
            teleport_mattermost::run(config, CancellationToken::new()),
        )
        .await
    }

    pub(crate) async fn wait_for_watcher(&self) {
        self.kit
            .wait_for_watchers(1, WAIT)
            .await
            .expect("plugin watching");
    }
}
