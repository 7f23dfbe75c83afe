//! Test support: a testkit Teleport, a fake Discord, and the plugin running in-process.

#![allow(dead_code, unused_imports)] // each test crate uses its own part of these helpers

use std::path::{Path, PathBuf};
use std::time::Duration;

use teleport_discord::config;
use teleport_fakes::discord::{FakeDiscord, FakeDiscordOptions};
pub(crate) use teleport_plugin_testsupport::request_id;
use teleport_plugin_testsupport::{InProcessPlugin, identity_dir, startup_error};
use teleport_testkit::{IdentityRequest, Testkit};
use tokio_util::sync::CancellationToken;

pub(crate) const TOKEN: &str = "discord-test-token";
pub(crate) const WAIT: Duration = Duration::from_secs(20);
/// A channel the bot can post in.
pub(crate) const CHANNEL: &str = "1200000000000000001";
/// A second channel the bot can post in.
pub(crate) const OTHER_CHANNEL: &str = "1200000000000000002";
/// A channel the bot cannot see (`Missing Access`).
pub(crate) const HIDDEN_CHANNEL: &str = "1200000000000000003";

/// A fake with `access-requests` and `approvers` (the bot may post) and `secret-ops` (it
/// may not).
pub(crate) fn fake_options() -> FakeDiscordOptions {
    FakeDiscordOptions::default()
        .token(TOKEN)
        .channel(CHANNEL, "access-requests", true)
        .channel(OTHER_CHANNEL, "approvers", true)
        .channel(HIDDEN_CHANNEL, "secret-ops", false)
}

pub(crate) struct Env {
    pub kit: Testkit,
    pub fake: FakeDiscord,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub(crate) async fn start(options: FakeDiscordOptions) -> Self {
        let kit = Testkit::builder()
            .cluster_name("teleport.example.com")
            .start()
            .await
            .expect("testkit");
        let fake = FakeDiscord::start(options).await;
        let (dir, _) = identity_dir(
            &kit,
            &IdentityRequest::new("access-plugin-discord"),
            "identity",
        );
        Self { kit, fake, dir }
    }

    /// A complete config file with this `[discord]` token and `role_to_recipients` body.
    pub(crate) fn write_config(&self, token: &str, recipients: &str) -> PathBuf {
        let text = format!(
            "[teleport]\naddr = \"{addr}\"\nidentity = \"{identity}\"\n\n\
             [discord]\ntoken = \"{token}\"\napiurl = \"{url}\"\n\n\
             [role_to_recipients]\n{recipients}\n",
            addr = self.kit.auth_addr(),
            identity = self.dir.path().join("identity").display(),
            url = self.fake.base_url(),
        );
        let path = self.dir.path().join("teleport-discord.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }

    pub(crate) fn config(&self, path: &Path) -> config::Config {
        config::load(path).expect("config loads")
    }

    /// Starts the plugin in-process.
    pub(crate) fn spawn(&self, path: &Path) -> InProcessPlugin {
        let config = self.config(path);
        InProcessPlugin::spawn(WAIT, |stop| teleport_discord::run(config, stop))
    }

    /// Runs the plugin expecting its start-up to fail; returns the error text.
    pub(crate) async fn start_error(&self, path: &Path) -> String {
        let config = self.config(path);
        startup_error(
            WAIT,
            teleport_discord::run(config, CancellationToken::new()),
        )
        .await
    }

    pub(crate) async fn wait_for_watcher(&self) {
        self.kit
            .wait_for_watchers(1, WAIT)
            .await
            .expect("plugin watching");
    }

    /// Waits until the request's record holds `count` messages and no lease.
    pub(crate) async fn wait_for_messages_saved(&self, id: &str, count: usize) {
        self.kit
            .wait_for("messages saved", WAIT, |s| {
                s.plugin_data(id, "discord").is_some_and(|d| {
                    d.get("claim").is_none_or(String::is_empty)
                        && d.get("messages")
                            .is_some_and(|m| !m.is_empty() && m.split(',').count() == count)
                })
            })
            .await
            .expect("messages saved");
    }
}
