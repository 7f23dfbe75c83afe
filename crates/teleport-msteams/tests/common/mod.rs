//! Test support: a testkit Teleport, a fake Microsoft Teams, and the plugin in-process.

#![allow(dead_code, unused_imports)] // each test crate uses its own part of these helpers

use std::path::{Path, PathBuf};
use std::time::Duration;

use teleport_fakes::msteams::{FakeMsTeams, FakeMsTeamsOptions};
use teleport_msteams::config;
pub(crate) use teleport_plugin_testsupport::request_id;
use teleport_plugin_testsupport::{InProcessPlugin, identity_dir, startup_error};
use teleport_testkit::{IdentityRequest, Testkit};
use tokio_util::sync::CancellationToken;

pub(crate) const SECRET: &str = "msteams-test-secret";
pub(crate) const WAIT: Duration = Duration::from_secs(20);
/// A reviewer without the app (the plugin installs it).
pub(crate) const BOB: &str = "bob@example.com";
pub(crate) const BOB_ID: &str = "8f3f0b6a-0000-4000-8000-0000000000b0";
/// A reviewer who has the app already, named by user ID.
pub(crate) const CAROL_ID: &str = "8f3f0b6a-0000-4000-8000-0000000000c0";
pub(crate) const CAROL: &str = "carol@example.com";
/// A team with the app and its channel.
pub(crate) const GROUP: &str = "5b9c1a7e-0000-4000-8000-000000000001";
pub(crate) const CHANNEL: &str = "19:4ba5d2b0e2a04e8f9d1c@thread.tacv2";
/// A team without the app.
pub(crate) const BARE_GROUP: &str = "5b9c1a7e-0000-4000-8000-000000000002";
pub(crate) const BARE_CHANNEL: &str = "19:0000aaaa@thread.tacv2";

/// The link to a channel as Teams gives it.
pub(crate) fn channel_link(conversation: &str, group: &str) -> String {
    let encoded = conversation.replace(':', "%3a").replace('@', "%40");
    format!(
        "https://teams.microsoft.com/l/channel/{encoded}/Access%2520requests?groupId={group}&tenantId=00000000-0000-4000-8000-00000000aaaa"
    )
}

/// A tenant with Bob (no app yet), Carol (app installed) and two teams.
pub(crate) fn fake_options() -> FakeMsTeamsOptions {
    FakeMsTeamsOptions::default()
        .app_secret(SECRET)
        .user(BOB_ID, BOB, "Bob")
        .user(CAROL_ID, CAROL, "Carol")
        .team(GROUP, CHANNEL, true)
        .team(BARE_GROUP, BARE_CHANNEL, false)
}

pub(crate) struct Env {
    pub kit: Testkit,
    pub fake: FakeMsTeams,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub(crate) async fn start(options: FakeMsTeamsOptions) -> Self {
        let kit = Testkit::builder()
            .cluster_name("teleport.example.com")
            .start()
            .await
            .expect("testkit");
        let fake = FakeMsTeams::start(options).await;
        fake.install_for(CAROL_ID);
        let (dir, _) = identity_dir(
            &kit,
            &IdentityRequest::new("access-plugin-msteams"),
            "identity",
        );
        Self { kit, fake, dir }
    }

    /// The `[msapi]` section pointing at the fake, with this secret line.
    pub(crate) fn msapi(&self, secret_line: &str) -> String {
        format!(
            "[msapi]\napp_id = \"{app}\"\ntenant_id = \"{tenant}\"\nteams_app_id = \"00000000-0000-4000-8000-00000000cccc\"\n{secret_line}\nlogin_url = \"{login}\"\ngraph_url = \"{graph}\"\nbot_framework_url = \"{bot}\"\n",
            app = self.fake.app_id(),
            tenant = self.fake.tenant_id(),
            login = self.fake.login_url(),
            graph = self.fake.graph_url(),
            bot = self.fake.bot_framework_url(),
        )
    }

    /// A complete config file with this secret, `preload` and `role_to_recipients` body.
    pub(crate) fn write_config(&self, secret: &str, preload: bool, recipients: &str) -> PathBuf {
        self.write_config_with(secret, preload, recipients, "")
    }

    /// [`write_config`](Self::write_config) with more `[msapi]` lines (`lookup_posted = true`).
    pub(crate) fn write_config_with(
        &self,
        secret: &str,
        preload: bool,
        recipients: &str,
        msapi_lines: &str,
    ) -> PathBuf {
        let text = format!(
            "preload = {preload}\n\n[teleport]\naddr = \"{addr}\"\nidentity = \"{identity}\"\n\n{msapi}{msapi_lines}\n\n[role_to_recipients]\n{recipients}\n",
            addr = self.kit.auth_addr(),
            identity = self.dir.path().join("identity").display(),
            msapi = self.msapi(&format!("app_secret = \"{secret}\"")),
        );
        let path = self.dir.path().join("teleport-msteams.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }

    pub(crate) fn config(&self, path: &Path) -> config::Config {
        config::load(path).expect("config loads")
    }

    /// Starts the plugin in-process.
    pub(crate) fn spawn(&self, path: &Path) -> InProcessPlugin {
        let config = self.config(path);
        InProcessPlugin::spawn(WAIT, |stop| teleport_msteams::run(config, stop))
    }

    /// Runs the plugin expecting its start-up to fail; returns the error text.
    pub(crate) async fn start_error(&self, path: &Path) -> String {
        let config = self.config(path);
        startup_error(
            WAIT,
            teleport_msteams::run(config, CancellationToken::new()),
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
                s.plugin_data(id, "msteams").is_some_and(|d| {
                    d.get("claim").is_none_or(String::is_empty)
                        && d.get("messages")
                            .is_some_and(|m| !m.is_empty() && m.split(',').count() == count)
                })
            })
            .await
            .expect("messages saved");
    }

    /// Waits until the record says every message shows `resolution`.
    pub(crate) async fn wait_for_synced(&self, id: &str, resolution: &str) {
        self.kit
            .wait_for("synced", WAIT, |s| {
                s.plugin_data(id, "msteams")
                    .is_some_and(|d| d.get("synced").is_some_and(|v| v == resolution))
            })
            .await
            .expect("synced");
    }
}

/// The conversation of Bob's chat with the bot, once the plugin installed the app.
pub(crate) fn chat_of(fake: &FakeMsTeams, user_id: &str) -> Option<String> {
    fake.with_state(|s| {
        s.user(user_id)
            .and_then(|u| u.installation.as_ref())
            .map(|i| i.chat_id.clone())
    })
}
