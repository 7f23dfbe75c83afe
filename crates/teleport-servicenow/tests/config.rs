//! Config files: our sample, every key, the instance URL rules, and clear errors for bad
//! values.

use std::path::PathBuf;

use teleport_plugin_runtime::config::ConfigError;
use teleport_plugin_runtime::plugin::Plugin;
use teleport_servicenow::ServiceNowPlugin;
use teleport_servicenow::config::{self, Config};

fn load_text(text: &str) -> (tempfile::TempDir, PathBuf, Result<Config, ConfigError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("servicenow.toml");
    std::fs::write(&path, text).unwrap();
    let result = config::load(&path);
    (dir, path, result)
}

const BASE: &str = "[teleport]\naddr = \"localhost:3025\"\nidentity = \"/id\"\n";
const REQUIRED: &str =
    "api_endpoint = \"https://example.service-now.com\"\nusername = \"u\"\nclose_code = \"c\"";

#[test]
fn our_sample_config_loads_with_the_defaults() {
    let (_dir, _path, result) = load_text(ServiceNowPlugin::SAMPLE_CONFIG);
    let config = result.expect("the sample loads");
    let sn = &config.servicenow;
    assert_eq!(sn.api_endpoint, "https://example.service-now.com");
    assert_eq!(sn.username, "teleport-plugin");
    assert_eq!(sn.api_token.expose(), "api-token");
    assert_eq!(sn.close_code, "Solution provided");
    assert!(sn.auto_approval.enabled);
    assert!(!sn.auto_approval.dry_run);
    assert_eq!(sn.auto_approval.limits.rotas, None);
    assert_eq!(sn.auto_approval.allowed_roles, None);
    assert!(config.runtime.warnings.is_empty());
    assert_eq!(config.runtime.plugin, "servicenow");
}

#[test]
fn every_key_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "from-a-file\n").unwrap();
    let (_dir, _path, result) = load_text(&format!(
        "{BASE}[servicenow]\napi_endpoint = \"example.service-now.com/\"\nusername = \" svc \"\n\
         password = \"{}\"\nclose_code = \"Resolved by caller\"\n\n\
         [servicenow.auto_approval]\nenabled = false\nrotas = [\" r1 \"]\n\
         allowed_roles = [\"dev\"]\ndry_run = true\n",
        token.display()
    ));
    let sn = result.expect("loads").servicenow;
    assert_eq!(
        sn.api_endpoint, "https://example.service-now.com",
        "https forced"
    );
    assert_eq!(sn.username, "svc");
    assert_eq!(
        sn.api_token.expose(),
        "from-a-file",
        "password is api_token's alias"
    );
    assert_eq!(sn.close_code, "Resolved by caller");
    assert!(!sn.auto_approval.enabled);
    assert_eq!(sn.auto_approval.limits.rotas, Some(vec!["r1".to_owned()]));
    assert_eq!(sn.auto_approval.allowed_roles, Some(vec!["dev".to_owned()]));
    assert!(sn.auto_approval.dry_run);
}

#[test]
fn plain_http_only_on_loopback() {
    let (_dir, _path, result) = load_text(&format!(
        "{BASE}[servicenow]\napi_endpoint = \"http://127.0.0.1:8080/\"\nusername = \"u\"\n\
         api_token = \"t\"\nclose_code = \"c\"\n"
    ));
    assert_eq!(
        result.expect("loopback http").servicenow.api_endpoint,
        "http://127.0.0.1:8080"
    );
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        (format!("{REQUIRED}\napi_token = \"\""), "servicenow.api_token"),
        (
            "api_endpoint = \"http://example.service-now.com\"\nusername = \"u\"\nclose_code = \"c\"\napi_token = \"t\"".to_owned(),
            "servicenow.api_endpoint",
        ),
        (
            "api_endpoint = \"ftp://x\"\nusername = \"u\"\nclose_code = \"c\"\napi_token = \"t\"".to_owned(),
            "servicenow.api_endpoint",
        ),
        (
            "username = \"u\"\nclose_code = \"c\"\napi_token = \"t\"".to_owned(),
            "servicenow.api_endpoint",
        ),
        (
            "api_endpoint = \"https://x\"\nusername = \" \"\nclose_code = \"c\"\napi_token = \"t\"".to_owned(),
            "servicenow.username",
        ),
        (
            "api_endpoint = \"https://x\"\nusername = \"u\"\napi_token = \"t\"".to_owned(),
            "servicenow.close_code",
        ),
        (
            format!("{REQUIRED}\napi_token = \"t\"\n\n[servicenow.auto_approval]\nrotas = [\"a\", \"\"]"),
            "servicenow.auto_approval.rotas[1]",
        ),
    ];
    for (section, key) in cases {
        let (_dir, path, result) = load_text(&format!("{BASE}[servicenow]\n{section}\n"));
        let error = result.expect_err(&section).to_string();
        assert!(error.contains(key), "{key}: {error}");
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(!error.contains("\"t\""), "{error}");
    }
}

#[test]
fn the_helm_charts_configs_load_without_warnings() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/deploy/helm/golden");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("SKIPPED: no Helm goldens at {}", dir.display());
        return;
    };
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("servicenow_api_token");
    std::fs::write(&token_file, "helm-token\n").unwrap();
    let mut loaded = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("servicenow-") || !name.ends_with(".toml") {
            continue;
        }
        // The chart mounts the token at a fixed path; point it at a real file.
        let text: String = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|line| {
                if line.starts_with("api_token = \"/") {
                    format!("api_token = \"{}\"\n", token_file.display())
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        let (_dir, _path, result) = load_text(&text);
        match (name.as_str(), result) {
            // Rendered without the required instance values: refused with the key's name.
            ("servicenow-default.toml" | "servicenow-tbot.toml", Err(error)) => {
                assert!(error.to_string().contains("servicenow."), "{name}: {error}");
            }
            (_, Ok(config)) => {
                assert!(
                    config.runtime.warnings.is_empty(),
                    "{name}: {:?}",
                    config.runtime.warnings
                );
                assert_eq!(config.servicenow.api_token.expose(), "helm-token");
                loaded += 1;
            }
            (_, Err(error)) => panic!("{name}: {error}"),
        }
    }
    assert!(loaded >= 2, "the full and ha goldens load");
}
