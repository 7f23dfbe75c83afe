//! Config files: the Go plugin's samples, our own sample, and clear errors for bad values.

use std::path::PathBuf;

use teleport_mattermost::MattermostPlugin;
use teleport_mattermost::config::{self, Config};
use teleport_plugin_runtime::config::{ConfigError, ConfigWarning};
use teleport_plugin_runtime::plugin::Plugin;
use teleport_plugin_testsupport::go_config;

fn load_text(text: &str) -> (tempfile::TempDir, PathBuf, Result<Config, ConfigError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mattermost.toml");
    std::fs::write(&path, text).unwrap();
    let result = config::load(&path);
    (dir, path, result)
}

const BASE: &str = "[teleport]\naddr = \"localhost:3025\"\nidentity = \"/id\"\n";

#[test]
fn the_go_sample_config_loads_unchanged() {
    let Some(path) = go_config("mattermost-example.toml") else {
        return;
    };
    let config = config::load(&path).expect("loads");
    assert_eq!(config.mattermost.url, "https://mattermost.example.com");
    assert_eq!(config.mattermost.token.expose(), "api-token");
    assert!(config.role_to_recipients.is_empty());
    assert_eq!(config.runtime.teleport.addr(), "example.com:3025");
    assert!(
        !config.mattermost.notify_requester,
        "the Go plugin never sent the requester anything"
    );
}

#[test]
fn the_go_docker_config_loads_and_its_team_and_channel_become_the_recipient() {
    let Some(path) = go_config("docker-teleport-mattermost.toml") else {
        return;
    };
    let config = config::load(&path).expect("loads");
    assert_eq!(
        config.role_to_recipients.get("*"),
        ["team-name/channel-name"]
    );
    let keys: Vec<_> = config
        .runtime
        .warnings
        .iter()
        .map(ConfigWarning::key)
        .collect();
    assert_eq!(keys, ["mattermost.team", "mattermost.secret"]);
}

#[test]
fn our_sample_config_loads() {
    let (_dir, _path, result) = load_text(MattermostPlugin::SAMPLE_CONFIG);
    let config = result.expect("the sample loads");
    assert_eq!(
        config.role_to_recipients.get("*"),
        ["my-team/access-requests"]
    );
    assert!(config.runtime.warnings.is_empty());
}

#[test]
fn legacy_recipients_become_the_wildcard_and_replace_the_map_as_in_go() {
    let (_dir, _path, result) = load_text(&format!(
        "{BASE}[mattermost]\nurl = \"https://mm.example.com/\"\ntoken = \"t\"\nrecipients = [\"eng/general\", \"bob@example.com\"]\n"
    ));
    let config = result.expect("loads");
    assert_eq!(config.mattermost.url, "https://mm.example.com");
    assert_eq!(
        config.role_to_recipients.get("*"),
        ["eng/general", "bob@example.com"]
    );
    assert_eq!(config.runtime.warnings.len(), 1);
    assert_eq!(config.runtime.warnings[0].key(), "mattermost.recipients");

    let (_dir, path, result) = load_text(&format!(
        "{BASE}[mattermost]\nurl = \"https://mm.example.com\"\ntoken = \"t\"\nrecipients = [\"eng/general\"]\n\n[role_to_recipients]\n\"*\" = \"eng/dev\"\ndev = \"eng/dev\"\n"
    ));
    let config = result.expect("loads, as in Go");
    assert_eq!(config.role_to_recipients.get("*"), ["eng/general"]);
    assert!(
        config.role_to_recipients.get("dev").is_empty(),
        "Go replaced the whole map"
    );
    let warning = config
        .runtime
        .warnings
        .iter()
        .find(|w| w.to_string().contains("replaces"))
        .expect("a warning")
        .to_string();
    assert!(
        warning.contains("mattermost.recipients")
            && warning.contains("line 7")
            && warning.contains(&path.display().to_string()),
        "{warning}"
    );
}

#[test]
fn malformed_recipients_are_warnings_naming_key_and_line() {
    let (_dir, path, result) = load_text(&format!(
        "{BASE}[mattermost]\nurl = \"https://m\"\ntoken = \"t\"\n[role_to_recipients]\n\"*\" = [\"eng/ok\", \"just-a-name\"]\ndev = \"a/b/c\"\n"
    ));
    let config = result.expect("loads, as in Go");
    let warnings: Vec<String> = config
        .runtime
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect();
    for (key, line) in [
        ("role_to_recipients.\"*\"[1]", 8),
        ("role_to_recipients.dev", 9),
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(key)
                && w.contains(&format!("line {line}"))
                && w.contains(&path.display().to_string())),
            "{key}: {warnings:?}"
        );
    }
}

#[test]
fn bad_values_name_the_key_the_file_and_the_line() {
    let cases = [
        (
            "[mattermost]\nurl = \"mattermost.example.com\"\ntoken = \"t\"\n",
            "mattermost.url",
            Some(5),
        ),
        (
            "[mattermost]\nurl = \"https://m\"\ntoken = \"\"\n",
            "mattermost.token",
            Some(6),
        ),
        (
            "[mattermost]\nurl = \"https://m\"\n",
            "mattermost.token",
            None,
        ),
        (
            "[mattermost]\nurl = \"https://m\"\ntoken = \"t\"\nca_file = \"/nonexistent/ca.pem\"\n",
            "mattermost.ca_file",
            Some(7),
        ),
    ];
    for (body, key, line) in cases {
        let (_dir, path, result) = load_text(&format!("{BASE}{body}"));
        let error = result.expect_err(body);
        assert_eq!(error.key(), Some(key), "{error}");
        assert_eq!(error.line(), line, "{error}");
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );
    }
}
