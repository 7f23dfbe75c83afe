//! What the Slack test suites share: the fake Slack's workspace and the plugin run
//! in-process against the testkit.

#![allow(dead_code)]

use std::time::Duration;

use teleport_fakes::{FakeSlack, FakeSlackOptions};
use teleport_plugin_runtime::config::load_plugin_config_str;
use teleport_plugin_testsupport::{InProcessPlugin, identity_dir};
use teleport_slack::config::{Config, SlackFile};
use teleport_testkit::{IdentityRequest, Testkit};

pub(crate) const WAIT: Duration = Duration::from_secs(20);

pub(crate) struct Setup {
    pub kit: Testkit,
    pub slack: FakeSlack,
    _dir: tempfile::TempDir,
    plugin: InProcessPlugin,
}

pub(crate) async fn setup(kit: Testkit, slack: FakeSlack, extra: &str) -> Setup {
    let (dir, identity) = identity_dir(&kit, &IdentityRequest::new("access-plugin"), "auth_id");
    let toml = format!(
        r#"
[teleport]
addr = "{addr}"
identity = "{identity}"

[slack]
token = "{token}"
apiurl = "{url}"

[role_to_recipients]
"*" = ["access-requests"]
"dba" = ["dba-team", "lead@example.com"]
{extra}
"#,
        addr = kit.auth_addr(),
        identity = identity.display(),
        token = slack.token(),
        url = slack.base_url(),
    );
    let loaded =
        load_plugin_config_str::<SlackFile>(dir.path().join("teleport-slack.toml"), &toml).unwrap();
    let plugin = InProcessPlugin::spawn(WAIT, |stop| {
        teleport_slack::run(Config::from_loaded(loaded).unwrap(), stop)
    });
    kit.wait_for_watchers(1, WAIT).await.unwrap();
    Setup {
        kit,
        slack,
        _dir: dir,
        plugin,
    }
}

impl Setup {
    pub(crate) async fn shutdown(self) {
        self.plugin.shutdown().await;
    }
}

pub(crate) fn fake_slack_options() -> FakeSlackOptions {
    FakeSlackOptions::default()
        .channel("C0REQ", "access-requests")
        .channel("C0DBA", "dba-team")
        .user("lead@example.com", "U0LEAD")
        .user("alice@example.com", "U0ALICE")
        .user("sam@example.com", "U0SAM")
}
