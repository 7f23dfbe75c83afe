//! Config files: our sample, a config in Go's `teleport-datadog` shape (every key it reads),
//! the defaults, and clear errors for bad values.

use std::path::PathBuf;

use teleport_datadog::DatadogPlugin;
use teleport_datadog::config::{self, Config, DEFAULT_API_ENDPOINT, DEFAULT_SEVERITY};
use teleport_plugin_runtime::config::ConfigError;
use teleport_plugin_runtime::plugin::Plugin;

fn load_text(text: &str) -> (tempfile::TempDir, PathBuf, Result<Config, ConfigError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("datadog.toml");
    std::fs::write(&path, text).unwrap();
    let result = config::load(&path);
    (dir, path, result)
}

const BASE: &str = "[teleport]\naddr = \"localhost:3025\"\nidentity = \"/id\"\n";
const RECIPIENTS: &str = "[role_to_recipients]\n\"*\" = \"platform\"\n";

#[test]
fn our_sample_config_loads_with_the_defaults() {
    let (_dir, _path, result) = load_text(DatadogPlugin::SAMPLE_CONFIG);
    let config = result.expect("the sample loads");
    let dd = &config.datadog;
    assert_eq!(dd.api_key.expose(), "api-key");
    assert_eq!(dd.application_key.expose(), "application-key");
    assert_eq!(dd.api_endpoint, DEFAULT_API_ENDPOINT);
    assert_eq!(dd.severity, DEFAULT_SEVERITY);
    assert!(dd.auto_approval.enabled);
    assert!(!dd.auto_approval.dry_run);
    assert_eq!(dd.auto_approval.limits.teams, None);
    assert_eq!(
        config
            .role_to_recipients
            .recipients_for(&["dev"], &[] as &[&str]),
        ["oncall@example.com", "platform"]
    );
    assert!(config.runtime.access_monitoring_rules);
    assert!(config.runtime.warnings.is_empty());
}

/// A config as Go's teleport-datadog documents it: the TLS trio, key files, severity and
/// `role_to_recipients` with a role, a team and an address.
#[test]
fn a_go_style_config_loads_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let api_key = dir.path().join("datadog_api_key");
    let app_key = dir.path().join("datadog_application_key");
    std::fs::write(&api_key, "api-from-file\n").unwrap();
    std::fs::write(&app_key, "app-from-file\n").unwrap();
    let (_dir, _path, result) = load_text(&format!(
        "[teleport]\naddr = \"example.com:3025\"\n\
         client_key = \"/var/lib/teleport/plugins/datadog/auth.key\"\n\
         client_crt = \"/var/lib/teleport/plugins/datadog/auth.crt\"\n\
         root_cas = \"/var/lib/teleport/plugins/datadog/auth.cas\"\n\n\
         [datadog]\napi_endpoint = \"https://api.datadoghq.eu/\"\napi_key = \"{}\"\n\
         application_key = \"{}\"\nseverity = \"SEV-1\"\n\n\
         [role_to_recipients]\n\"dev\" = \"dev-team\"\n\"*\" = [\"cloud@example.com\", \"cloud-team\"]\n\n\
         [log]\noutput = \"stderr\"\nseverity = \"INFO\"\n",
        api_key.display(),
        app_key.display()
    ));
    let config = result.expect("loads");
    let dd = &config.datadog;
    assert_eq!(dd.api_key.expose(), "api-from-file");
    assert_eq!(dd.application_key.expose(), "app-from-file");
    assert_eq!(dd.api_endpoint, "https://api.datadoghq.eu");
    assert_eq!(dd.severity, "SEV-1");
    let none: &[&str] = &[];
    assert_eq!(
        config.role_to_recipients.recipients_for(&["dev"], none),
        ["dev-team"]
    );
    assert_eq!(
        config.role_to_recipients.recipients_for(&["ops"], none),
        ["cloud@example.com", "cloud-team"]
    );
    assert!(
        config.runtime.warnings.is_empty(),
        "{:?}",
        config.runtime.warnings
    );
}

#[test]
fn auto_approval_keys_are_read() {
    let (_dir, _path, result) = load_text(&format!(
        "{BASE}[datadog]\napi_key = \"a\"\napplication_key = \"b\"\n\n\
         [datadog.auto_approval]\nenabled = true\nteams = [\" sre \"]\n\
         allowed_roles = [\"dev\"]\ndry_run = true\n\n{RECIPIENTS}"
    ));
    let dd = result.expect("loads").datadog;
    assert_eq!(dd.auto_approval.limits.teams, Some(vec!["sre".to_owned()]));
    assert_eq!(dd.auto_approval.allowed_roles, Some(vec!["dev".to_owned()]));
    assert!(dd.auto_approval.dry_run);
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("api_key = \"\"\napplication_key = \"b\"", "datadog.api_key"),
        (
            "api_key = \"a\"\napplication_key = \"\"",
            "datadog.application_key",
        ),
        ("api_key = \"a\"", "datadog.application_key"),
        (
            "api_key = \"a\"\napplication_key = \"b\"\napi_endpoint = \"api.datadoghq.com\"",
            "datadog.api_endpoint",
        ),
        (
            "api_key = \"a\"\napplication_key = \"/nonexistent/dd-app-key\"",
            "datadog.application_key",
        ),
        (
            "api_key = \"a b\"\napplication_key = \"b\"",
            "datadog.api_key",
        ),
    ];
    for (section, key) in cases {
        let (_dir, path, result) = load_text(&format!("{BASE}[datadog]\n{section}\n{RECIPIENTS}"));
        let error = result.expect_err(section).to_string();
        assert!(error.contains(key), "{key}: {error}");
        assert!(error.contains(&path.display().to_string()), "{error}");
    }
    let (_dir, _path, result) = load_text(&format!(
        "{BASE}[datadog]\napi_key = \"a\"\napplication_key = \"b\"\n\n\
         [datadog.auto_approval]\nteams = [\"\"]\n\n{RECIPIENTS}"
    ));
    let error = result.expect_err("empty team").to_string();
    assert!(error.contains("datadog.auto_approval.teams[0]"), "{error}");
}

#[test]
fn role_to_recipients_needs_a_wildcard() {
    let section = "[datadog]\napi_key = \"a\"\napplication_key = \"b\"\n";
    let (_dir, _path, result) = load_text(&format!("{BASE}{section}"));
    let error = result.expect_err("no recipients").to_string();
    assert!(error.contains("role_to_recipients"), "{error}");
    let (_dir, _path, result) = load_text(&format!(
        "{BASE}{section}[role_to_recipients]\n\"dev\" = \"dev-team\"\n"
    ));
    let error = result.expect_err("no wildcard").to_string();
    assert!(error.contains("\"*\""), "{error}");
}
