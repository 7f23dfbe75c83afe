//! Config files: our sample, the Go plugin's samples, and clear errors for bad values.

use teleport_plugin_runtime::config::{ConfigError, ConfigWarning, load_plugin_config_str};
use teleport_plugin_runtime::plugin::Plugin;
use teleport_plugin_testsupport::go_config;
use teleport_slack::SlackPlugin;
use teleport_slack::config::{Config, DEFAULT_API_URL, SlackFile};

/// Loads and validates `text` as `teleport-slack.toml`.
fn load(text: &str) -> Result<Config, ConfigError> {
    let loaded = load_plugin_config_str::<SlackFile>("teleport-slack.toml", text)?;
    Config::from_loaded(loaded)
}

const RECIPIENTS: &str = "\n[role_to_recipients]\n\"*\" = \"access-requests\"\n";

#[test]
fn our_sample_config_loads() {
    let config = load(SlackPlugin::SAMPLE_CONFIG).expect("the sample loads");
    assert_eq!(config.slack.token.expose(), "xoxb-11xx");
    assert_eq!(config.slack.api_url, DEFAULT_API_URL);
    assert!(config.slack.notify_requester);
    assert_eq!(config.role_to_recipients.get("*"), ["access-requests"]);
    assert!(config.runtime.warnings.is_empty());
}

#[test]
fn the_go_sample_config_loads_once_its_recipients_are_filled_in() {
    let Some(path) = go_config("slack-example.toml") else {
        return;
    };
    // Go needs a "*" entry too; the sample leaves it commented out.
    let text = std::fs::read_to_string(path).unwrap().replace(
        "[role_to_recipients]",
        "[role_to_recipients]\n\"*\" = \"access-requests\"",
    );
    let config = load(&text).expect("loads");
    assert_eq!(config.slack.token.expose(), "xoxb-11xx");
    assert_eq!(config.role_to_recipients.get("*"), ["access-requests"]);
}

#[test]
fn the_go_docker_config_loads_with_warnings_for_what_we_ignore() {
    let Some(path) = go_config("docker-teleport-slack.toml") else {
        return;
    };
    let text = std::fs::read_to_string(path).unwrap() + RECIPIENTS;
    let loaded = load_plugin_config_str::<SlackFile>("docker.toml", &text).expect("loads");
    let keys: Vec<_> = loaded.warnings.iter().map(ConfigWarning::key).collect();
    for key in [
        "teleport.auth_server",
        "slack.secret",
        "slack.channel",
        "http",
    ] {
        assert!(keys.contains(&key), "{key} not warned about: {keys:?}");
    }
    let config = Config::from_loaded(loaded).expect("validates");
    assert_eq!(
        config.runtime.teleport.addr(),
        "teleport.cluster.local:3025"
    );
}

#[test]
fn go_toml_spellings_of_the_untagged_api_url_are_accepted() {
    for key in ["apiurl", "APIURL", "api_url"] {
        let text =
            format!("[slack]\ntoken = \"t\"\n{key} = \"http://127.0.0.1:1/api/\"\n{RECIPIENTS}");
        let config = load(&text).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(config.slack.api_url, "http://127.0.0.1:1/api/", "{key}");
    }
}

#[test]
fn go_toml_spellings_of_the_untagged_section_token_and_recipients_are_accepted() {
    // go-toml reads an untagged Go field under its name, lower-cased, upper-cased, or with
    // its first letter lowered: `Slack.Token` as `Token`, `token` or `TOKEN`.
    for (section, token, recipients) in [
        ("slack", "Token", "Recipients"),
        ("Slack", "TOKEN", "RECIPIENTS"),
        ("SLACK", "token", "recipients"),
    ] {
        let text = format!(
            "[{section}]\n{token} = \"xoxb-spelled\"\n{recipients} = [\"a\"]\n{RECIPIENTS}"
        );
        let config = load(&text).unwrap_or_else(|e| panic!("{section}.{token}: {e}"));
        assert_eq!(config.slack.token.expose(), "xoxb-spelled");
        let unknown: Vec<_> = config
            .runtime
            .warnings
            .iter()
            .filter(|w| matches!(w, ConfigWarning::UnknownKey { .. }))
            .collect();
        assert!(unknown.is_empty(), "{section}.{token}: {unknown:?}");
    }
}

#[test]
fn a_bad_api_url_names_the_key_and_line() {
    let error = load(&format!(
        "[slack]\ntoken = \"t\"\napiurl = \"slack.com\"\n{RECIPIENTS}"
    ))
    .unwrap_err()
    .to_string();
    assert!(error.contains("teleport-slack.toml"), "{error}");
    assert!(error.contains("slack.apiurl"), "{error}");
    assert!(error.contains("line 3"), "{error}");
    assert!(error.contains("http:// or https://"), "{error}");
}

#[test]
fn the_wildcard_recipient_is_required() {
    let error = load("[slack]\ntoken = \"t\"\n[role_to_recipients]\ndev = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("role_to_recipients"), "{error}");
    assert!(error.contains('*'), "{error}");
}

#[test]
fn the_legacy_recipients_key_is_ignored_with_a_warning() {
    let config = load(&format!(
        "[slack]\ntoken = \"t\"\nrecipients = [\"a\"]\n{RECIPIENTS}"
    ))
    .unwrap();
    let keys: Vec<_> = config
        .runtime
        .warnings
        .iter()
        .map(ConfigWarning::key)
        .collect();
    assert_eq!(keys, ["slack.recipients"]);
}

#[test]
fn a_missing_token_is_a_clear_error_without_a_value() {
    let error = load(&format!("[slack]\n{RECIPIENTS}"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("token"), "{error}");
}

const BASE: &str = "[teleport]\naddr = \"teleport.example.com:443\"\nidentity = \"/dev/null\"\n[slack]\ntoken = \"xoxb-1\"\n[role_to_recipients]\n\"*\" = \"access-requests\"\n";

/// The error's text for `review` appended to a valid config.
fn review_error(review: &str) -> String {
    match load(&format!("{BASE}{review}")) {
        Ok(_) => panic!("accepted: {review}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn review_section_as_go_reads_it() {
    let off = load(BASE).expect("loads");
    assert!(off.review.is_none(), "off by default");

    let on = load(&format!(
        "{BASE}[review]\nenabled = true\napp_token = \"xapp-1-secret\"\nslack_user_id_trait = \"slack_uid\"\n"
    ))
    .expect("loads");
    let review = on.review.expect("enabled");
    assert_eq!(review.app_token.expose(), "xapp-1-secret");
    assert_eq!(review.slack_user_id_trait, "slack_uid");
    assert!(!review.allow_email_username_match);
    assert!(
        !format!("{review:?}").contains("xapp-1-secret"),
        "never printed"
    );

    // E-mail matching alone is allowed, as in Go.
    let email = load(&format!(
        "{BASE}[review]\nenabled = true\napp_token = \"env:PATH\"\nallow_email_username_match = true\n"
    ))
    .expect("loads");
    assert!(email.review.unwrap().slack_user_id_trait.is_empty());
}

#[test]
fn review_errors_name_the_file_and_key() {
    let missing_token =
        review_error("[review]\nenabled = true\nslack_user_id_trait = \"slack_uid\"\n");
    assert!(
        missing_token.contains("teleport-slack.toml"),
        "{missing_token}"
    );
    assert!(
        missing_token.contains("review.app_token"),
        "{missing_token}"
    );

    let missing_trait = review_error("[review]\nenabled = true\napp_token = \"xapp-1-secret\"\n");
    assert!(
        missing_trait.contains("review.slack_user_id_trait"),
        "{missing_trait}"
    );
    assert!(
        missing_trait.contains("allow_email_username_match"),
        "{missing_trait}"
    );
    assert!(!missing_trait.contains("xapp-1-secret"), "{missing_trait}");

    let unreadable = review_error(
        "[review]\nenabled = true\napp_token = \"file:/nonexistent/app_token\"\nslack_user_id_trait = \"t\"\n",
    );
    assert!(
        unreadable.contains("/nonexistent/app_token"),
        "{unreadable}"
    );
}
