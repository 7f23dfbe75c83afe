//! The config file: the Go plugin's config loads unchanged, `[http]` as Go's, polling
//! without `[http]`, secrets in every form, and errors that name the key and never a secret.

use std::time::Duration;

use teleport_jira::config::{self, Config, JiraFile};
use teleport_plugin_runtime::config::{ConfigWarning, load_plugin_config_str};
use teleport_plugin_runtime::inbound::config::Transport;
use teleport_plugin_testsupport::go_config;

fn from_str(text: &str, insecure: bool) -> Result<Config, String> {
    let loaded =
        load_plugin_config_str::<JiraFile>("test.toml", text).map_err(|e| e.to_string())?;
    Config::from_loaded(loaded, insecure).map_err(|e| e.to_string())
}

const JIRA: &str = "[jira]\nurl = \"https://example.atlassian.net\"\nusername = \"bot@example.com\"\napi_token = \"tok-3f9a\"\nproject = \"AR\"\n";
const TLS: &str = "[http]\nhttps_key_file = \"/k.pem\"\nhttps_cert_file = \"/c.pem\"\n";

#[test]
fn the_go_plugins_config_loads_unchanged() {
    let Some(path) = go_config("docker-teleport-jira-cloud.toml") else {
        return;
    };
    // Behind a TLS-terminating proxy (the Go config names no TLS files).
    let config = config::load(&path, true).unwrap();
    assert_eq!(
        config.runtime.teleport.addr(),
        "teleport.cluster.local:3025"
    );
    let jira = &config.jira;
    assert_eq!(jira.url, "https://example.atlassian.net");
    assert_eq!(jira.username, "jira-bot@example.com");
    assert_eq!(jira.api_token.expose(), "...");
    assert_eq!(jira.project, "TD2");
    assert_eq!(jira.issue_type, "Task");
    assert_eq!(jira.poll_interval, None);
    let http = config.http.expect("the webhook is on, as in Go");
    assert_eq!(http.listen_addr, ":8045");
    assert_eq!(
        http.public_url.unwrap().as_str(),
        "https://plugins.example.com/"
    );
    assert_eq!(http.transport, Transport::Plain);
    assert!(http.basic_auth.is_none());

    // Without --insecure-no-tls the same file needs its TLS files, as the Go plugin did.
    let error = config::load(&path, false).unwrap_err().to_string();
    assert!(
        error.contains("http.https_cert_file") && error.contains("--insecure-no-tls"),
        "{error}"
    );
}

#[test]
fn the_sample_config_loads() {
    let config = from_str(
        <teleport_jira::JiraPlugin as teleport_plugin_runtime::plugin::Plugin>::SAMPLE_CONFIG,
        false,
    )
    .unwrap();
    let http = config.http.unwrap();
    assert_eq!(http.listen_addr, ":8081");
    assert!(matches!(
        http.transport,
        Transport::Tls {
            client_ca: None,
            ..
        }
    ));
    assert_eq!(config.jira.issue_type, "Task");
    assert!(
        config.runtime.warnings.is_empty(),
        "{:?}",
        config.runtime.warnings
    );
}

#[test]
fn polling_needs_no_http_section() {
    let config = from_str(&format!("{JIRA}poll_interval = \"45s\"\n"), false).unwrap();
    assert_eq!(config.jira.poll_interval, Some(Duration::from_secs(45)));
    assert!(config.http.is_none(), "outbound connections only");

    let both = from_str(
        &format!("{JIRA}poll_interval = \"1m\"\n{TLS}listen_addr = \"0.0.0.0:8443\"\n"),
        false,
    )
    .unwrap();
    assert_eq!(both.http.unwrap().listen_addr, "0.0.0.0:8443");

    // Webhook only, no [http] at all: Go's defaults, which need TLS files or the flag.
    let plain = from_str(JIRA, true).unwrap();
    assert_eq!(plain.http.unwrap().listen_addr, ":8081");
    assert!(from_str(JIRA, false).is_err());
}

#[test]
fn http_section_as_go_with_basic_auth_and_client_certificates() {
    // SAFETY: no other test in this binary reads or writes this variable.
    unsafe { std::env::set_var("TELEPORT_JIRA_TEST_HOOK_PASSWORD", "hook-pass") };
    let text = format!(
        "{JIRA}{TLS}public_addr = \"hooks.example.com\"\n[http.basic_auth]\nuser = \"jira\"\npassword = \"env:TELEPORT_JIRA_TEST_HOOK_PASSWORD\"\n[http.tls]\nverify_client_cert = true\nclient_ca_file = \"/ca.pem\"\n"
    );
    let http = from_str(&text, false).unwrap().http.unwrap();
    assert_eq!(
        http.public_url.unwrap().as_str(),
        "https://hooks.example.com/"
    );
    let auth = http.basic_auth.unwrap();
    assert_eq!(
        (auth.user.as_str(), auth.password.expose()),
        ("jira", "hook-pass")
    );
    assert!(matches!(
        http.transport,
        Transport::Tls {
            client_ca: Some(_),
            ..
        }
    ));
}

#[test]
fn the_api_token_may_be_a_file_or_a_variable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "tok-from-file\n").unwrap();
    for form in [
        file.display().to_string(),
        format!("file:{}", file.display()),
    ] {
        let text = JIRA.replace("tok-3f9a", &form);
        let config = from_str(&format!("{text}poll_interval = \"30s\"\n"), false).unwrap();
        assert_eq!(config.jira.api_token.expose(), "tok-from-file");
    }
    let text = JIRA.replace("tok-3f9a", "/no/such/token");
    let error = from_str(&format!("{text}poll_interval = \"30s\"\n"), false).unwrap_err();
    assert!(
        error.contains("jira.api_token") && error.contains("/no/such/token"),
        "{error}"
    );
}

#[test]
fn errors_name_the_key_and_line_and_never_the_token() {
    let check = |text: String, key: &str, words: &str| {
        let error = from_str(&text, true).unwrap_err();
        assert!(error.contains(&format!("key \"{key}\"")), "{error}");
        assert!(error.contains(words), "{error}");
        assert!(!error.contains("tok-3f9a"), "{error}");
    };
    check(
        JIRA.replace("https://example", "http://example"),
        "jira.url",
        "https://",
    );
    check(
        JIRA.replace("project = \"AR\"\n", ""),
        "jira.project",
        "key of the project",
    );
    check(
        format!("{JIRA}poll_interval = \"often\"\n"),
        "jira.poll_interval",
        "duration",
    );
    check(
        format!("{JIRA}poll_interval = \"1s\"\n"),
        "jira.poll_interval",
        "at least 5s",
    );
    check(
        format!("{JIRA}issue_type = \"\"\n"),
        "jira.issue_type",
        "issue type",
    );
    check(
        format!("{JIRA}[http]\nlisten_addr = \"8081\"\n"),
        "http.listen_addr",
        "[host]:port",
    );
    let error = from_str(&JIRA.replace("username = \"bot@example.com\"\n", ""), true).unwrap_err();
    assert!(
        error.contains("jira.username") && error.contains("missing"),
        "{error}"
    );
    let error = from_str(&JIRA.replace("https://example", "http://example"), true).unwrap_err();
    assert!(error.contains("(line 2)"), "{error}");
}

#[test]
fn unknown_keys_are_warnings() {
    let text = format!("{JIRA}poll_interval = \"30s\"\ncolour = \"blue\"\n");
    let loaded = load_plugin_config_str::<JiraFile>("test.toml", &text).unwrap();
    let unknown: Vec<&str> = loaded
        .warnings
        .iter()
        .filter(|w| matches!(w, ConfigWarning::UnknownKey { .. }))
        .map(|w| w.key())
        .collect();
    assert_eq!(unknown, ["jira.colour"]);
    assert!(Config::from_loaded(loaded, false).is_ok());
}
