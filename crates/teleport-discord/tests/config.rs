//! Config files: the Go plugin's sample, our own sample, and clear errors for bad values.

use std::path::PathBuf;

use teleport_discord::DiscordPlugin;
use teleport_discord::config::{self, Config, DEFAULT_API_URL};
use teleport_plugin_runtime::config::ConfigError;
use teleport_plugin_runtime::plugin::Plugin;
use teleport_plugin_testsupport::go_config;

fn load_text(text: &str) -> (tempfile::TempDir, PathBuf, Result<Config, ConfigError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("discord.toml");
    std::fs::write(&path, text).unwrap();
    let result = config::load(&path);
    (dir, path, result)
}

const BASE: &str = "[teleport]\naddr = \"localhost:3025\"\nidentity = \"/id\"\n";

#[test]
fn the_go_sample_config_loads_once_its_recipients_are_filled_in() {
    let Some(path) = go_config("discord-example.toml") else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    // As in Go, the sample as shipped has no "*" recipient and is refused, naming the key.
    let (_dir, _path, result) = load_text(&text);
    let error = result.expect_err("no recipients").to_string();
    assert!(error.contains("role_to_recipients"), "{error}");

    // Its commented-out example, filled in.
    let text = text.replace(
        "# \"*\" = [\"1234567890\", \"0987654321\"]",
        "\"*\" = [\"1234567890\", \"0987654321\"]",
    );
    let (_dir, _path, result) = load_text(&text);
    let config = result.expect("loads");
    assert_eq!(config.discord.token.expose(), "secret-token");
    assert_eq!(config.discord.api_url, DEFAULT_API_URL);
    assert_eq!(
        config.role_to_recipients.get("*"),
        ["1234567890", "0987654321"]
    );
    assert!(config.runtime.warnings.is_empty());
}

#[test]
fn our_sample_config_loads() {
    let (_dir, _path, result) = load_text(DiscordPlugin::SAMPLE_CONFIG);
    let config = result.expect("the sample loads");
    assert_eq!(config.role_to_recipients.get("*"), ["1234567890"]);
    assert_eq!(config.runtime.teleport.addr(), "example.com:3025");
    assert!(config.runtime.warnings.is_empty());
}

#[test]
fn go_spellings_of_the_api_url_and_a_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("discord_token");
    std::fs::write(&token, "from-a-file\n").unwrap();
    for key in ["apiurl", "APIURL", "api_url"] {
        let (_dir, _path, result) = load_text(&format!(
            "{BASE}[discord]\ntoken = \"{}\"\n{key} = \"http://127.0.0.1:9/api\"\n\n[role_to_recipients]\n\"*\" = \"1\"\n",
            token.display()
        ));
        let config = result.expect("loads");
        assert_eq!(config.discord.api_url, "http://127.0.0.1:9/api/", "{key}");
        assert_eq!(config.discord.token.expose(), "from-a-file");
    }
}

#[test]
fn a_recipient_that_is_no_channel_id_is_refused_with_its_key() {
    let cases = [
        ("\"*\" = \"#access-requests\"", "role_to_recipients.\"*\""),
        (
            "\"*\" = \"1\"\ndev = [\"2\", \"alice@example.com\"]",
            "role_to_recipients.dev[1]",
        ),
    ];
    for (body, key) in cases {
        let (_dir, path, result) = load_text(&format!(
            "{BASE}[discord]\ntoken = \"t\"\n\n[role_to_recipients]\n{body}\n"
        ));
        let error = result.expect_err(body).to_string();
        assert!(error.contains(key), "{key}: {error}");
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains("channel ID"), "{error}");
    }
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("token = \"\"", "discord.token"),
        (
            "token = \"t\"\napiurl = \"discord.com/api\"",
            "discord.apiurl",
        ),
        (
            "token = \"t\"\nca_file = \"/nonexistent/ca.pem\"",
            "discord.ca_file",
        ),
    ];
    for (section, key) in cases {
        let (_dir, _path, result) = load_text(&format!(
            "{BASE}[discord]\n{section}\n\n[role_to_recipients]\n\"*\" = \"1\"\n"
        ));
        let error = result.expect_err(section).to_string();
        assert!(error.contains(key), "{key}: {error}");
    }
    let (_dir, _path, result) = load_text(&format!(
        "{BASE}[discord]\ntoken = \"t\"\n\n[role_to_recipients]\ndev = \"1\"\n"
    ));
    let error = result.expect_err("no wildcard").to_string();
    assert!(error.contains("role_to_recipients"), "{error}");
}
