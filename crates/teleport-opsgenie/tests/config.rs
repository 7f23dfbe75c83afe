//! Config files: our sample, the defaults, and clear errors for bad values.

use std::path::PathBuf;

use teleport_opsgenie::OpsgeniePlugin;
use teleport_opsgenie::config::{self, Config, DEFAULT_API_ENDPOINT};
use teleport_plugin_runtime::config::ConfigError;
use teleport_plugin_runtime::plugin::Plugin;

fn load_text(text: &str) -> (tempfile::TempDir, PathBuf, Result<Config, ConfigError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opsgenie.toml");
    std::fs::write(&path, text).unwrap();
    let result = config::load(&path);
    (dir, path, result)
}

const BASE: &str = "[teleport]\naddr = \"localhost:3025\"\nidentity = \"/id\"\n";

#[test]
fn our_sample_config_loads_with_the_defaults() {
    let (_dir, _path, result) = load_text(OpsgeniePlugin::SAMPLE_CONFIG);
    let config = result.expect("the sample loads");
    let og = &config.opsgenie;
    assert_eq!(og.api_key.expose(), "api-key");
    assert_eq!(og.api_endpoint, DEFAULT_API_ENDPOINT);
    assert_eq!(og.priority, None);
    assert!(og.default_schedules.is_empty() && og.default_teams.is_empty());
    assert!(og.auto_approval.enabled);
    assert!(!og.auto_approval.dry_run);
    assert_eq!(og.auto_approval.limits.schedules, None);
    assert!(config.runtime.warnings.is_empty());
}

#[test]
fn every_key_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "from-a-file\n").unwrap();
    let (_dir, _path, result) = load_text(&format!(
        "{BASE}[opsgenie]\napi_key = \"{}\"\napi_endpoint = \"https://api.eu.opsgenie.com/\"\n\
         priority = \"P1\"\ndefault_schedules = [\"Primary\"]\ndefault_teams = [\" Platform \"]\n\n\
         [opsgenie.auto_approval]\nenabled = true\nschedules = [\"Primary\"]\n\
         allowed_roles = [\"dev\"]\ndry_run = true\n",
        key.display()
    ));
    let og = result.expect("loads").opsgenie;
    assert_eq!(og.api_key.expose(), "from-a-file");
    assert_eq!(og.api_endpoint, "https://api.eu.opsgenie.com");
    assert_eq!(og.priority.as_deref(), Some("P1"));
    assert_eq!(og.default_schedules, ["Primary"]);
    assert_eq!(og.default_teams, ["Platform"]);
    assert_eq!(
        og.auto_approval.limits.schedules,
        Some(vec!["Primary".to_owned()])
    );
    assert_eq!(og.auto_approval.allowed_roles, Some(vec!["dev".to_owned()]));
    assert!(og.auto_approval.dry_run);
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("api_key = \"\"", "opsgenie.api_key"),
        (
            "api_key = \"k\"\napi_endpoint = \"api.opsgenie.com\"",
            "opsgenie.api_endpoint",
        ),
        ("api_key = \"k\"\npriority = \"high\"", "opsgenie.priority"),
        (
            "api_key = \"k\"\ndefault_teams = [\"a\", \" \"]",
            "opsgenie.default_teams[1]",
        ),
    ];
    for (section, key) in cases {
        let (_dir, path, result) = load_text(&format!("{BASE}[opsgenie]\n{section}\n"));
        let error = result.expect_err(section).to_string();
        assert!(error.contains(key), "{key}: {error}");
        assert!(error.contains(&path.display().to_string()), "{error}");
    }
    let (_dir, _path, result) = load_text(&format!(
        "{BASE}[opsgenie]\napi_key = \"k\"\n\n[opsgenie.auto_approval]\nschedules = [\"\"]\n"
    ));
    let error = result.expect_err("empty schedule").to_string();
    assert!(
        error.contains("opsgenie.auto_approval.schedules[0]"),
        "{error}"
    );
}
