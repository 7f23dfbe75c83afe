//! The config file: the Go plugin's sample configs load unchanged, go-toml's spellings of
//! the untagged `RequestAnnotations` section, auto-approval limits, legacy keys, errors.

use std::path::Path;

use teleport_pagerduty::config::{self, AutoApproval, Config, PagerDutyFile, PagerDutyLimits};
use teleport_plugin_runtime::config::{ConfigWarning, load_plugin_config_str};
use teleport_plugin_runtime::plugin::Plugin;
use teleport_plugin_testsupport::go_configs_dir;

fn from_str(text: &str) -> Result<Config, String> {
    let loaded =
        load_plugin_config_str::<PagerDutyFile>("test.toml", text).map_err(|e| e.to_string())?;
    Config::from_loaded(loaded).map_err(|e| e.to_string())
}

const BASE: &str = "[teleport]\naddr = \"teleport.example.com:443\"\nidentity = \"/var/lib/teleport/plugins/pagerduty/auth_id\"\n\n[pagerduty]\napi_key = \"key\"\nuser_email = \"bot@example.com\"\n";

#[test]
fn go_example_config_loads_with_defaults() {
    let Some(dir) = go_configs_dir() else { return };
    let config = config::load(dir.join("pagerduty-example.toml")).unwrap();
    let pd = &config.pagerduty;
    assert_eq!(pd.api_key.expose(), "key");
    assert_eq!(pd.user_email, "me@example.com");
    assert_eq!(pd.api_endpoint, "https://api.pagerduty.com");
    assert_eq!(pd.notify_service_annotation, "pagerduty_notify_service");
    assert_eq!(pd.services_annotation, "pagerduty_services");
    assert_eq!(pd.auto_approval, AutoApproval::default());
    assert_eq!(config.runtime.teleport.addr(), "example.com:3025");
    assert!(
        config.runtime.warnings.is_empty(),
        "{:?}",
        config.runtime.warnings
    );
}

#[test]
fn go_docker_config_loads_and_its_legacy_keys_are_explained() {
    let Some(dir) = go_configs_dir() else { return };
    let path = dir.join("docker-teleport-pagerduty.toml");
    let loaded =
        teleport_plugin_runtime::config::load_plugin_config::<PagerDutyFile>(&path).unwrap();
    let unknown: Vec<&str> = loaded
        .warnings
        .iter()
        .filter(|w| matches!(w, ConfigWarning::UnknownKey { .. }))
        .map(|w| w.key())
        .collect();
    assert_eq!(
        unknown,
        ["http"],
        "service_id and auto_approve are known legacy keys"
    );
    let config = Config::from_loaded(loaded).unwrap();
    assert_eq!(
        config.runtime.teleport.addr(),
        "teleport.cluster.local:3025"
    );
    assert!(
        config.pagerduty.auto_approval.enabled,
        "auto_approve = true keeps it on"
    );
    let explained: Vec<String> = config
        .runtime
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(explained.len(), 2, "{explained:?}");
    assert!(
        explained[0].contains("pagerduty.auto_approve") && explained[0].contains("has no effect"),
        "{explained:?}"
    );
    assert!(
        explained[1].contains("pagerduty.service_id")
            && explained[1].contains("pagerduty_notify_service"),
        "{explained:?}"
    );
}

#[test]
fn every_go_toml_spelling_of_request_annotations_is_read() {
    for section in [
        "requestannotations",
        "RequestAnnotations",
        "requestAnnotations",
        "REQUESTANNOTATIONS",
        "request_annotations",
    ] {
        let text = format!(
            "{BASE}\n[pagerduty.{section}]\nnotify_service = \"pd_notify\"\nservices = \"pd_services\"\n"
        );
        let loaded = load_plugin_config_str::<PagerDutyFile>("test.toml", &text).unwrap();
        assert!(
            loaded.warnings.is_empty(),
            "{section}: {:?}",
            loaded.warnings
        );
        let config = Config::from_loaded(loaded).unwrap();
        assert_eq!(
            config.pagerduty.notify_service_annotation, "pd_notify",
            "{section}"
        );
        assert_eq!(
            config.pagerduty.services_annotation, "pd_services",
            "{section}"
        );
    }
}

#[test]
fn auto_approval_limits_and_endpoint() {
    let text = format!(
        "{BASE}api_endpoint = \"http://127.0.0.1:9/pd/\"\n\n[pagerduty.auto_approval]\nmax_escalation_level = 2\nschedules = [\"Primary\", \" PSCHED1 \"]\nallowed_roles = [\"dev\"]\ndry_run = true\n"
    );
    let config = from_str(&text).unwrap();
    assert_eq!(config.pagerduty.api_endpoint, "http://127.0.0.1:9/pd");
    assert_eq!(
        config.pagerduty.auto_approval,
        AutoApproval {
            enabled: true,
            allowed_roles: Some(vec!["dev".into()]),
            dry_run: true,
            limits: PagerDutyLimits {
                max_escalation_level: Some(2),
                schedules: Some(vec!["Primary".into(), "PSCHED1".into()]),
            },
        }
    );
}

#[test]
fn legacy_auto_approve_false_turns_approval_off() {
    let config = from_str(&format!("{BASE}auto_approve = false\n")).unwrap();
    assert!(!config.pagerduty.auto_approval.enabled);
    assert!(
        matches!(config.runtime.warnings.as_slice(), [ConfigWarning::Deprecated { key, .. }] if key == "pagerduty.auto_approve")
    );
}

#[test]
fn errors_name_the_key_and_never_the_secret() {
    let missing = from_str("[pagerduty]\nuser_email = \"bot@example.com\"\n").unwrap_err();
    assert!(
        missing.contains("pagerduty.api_key") && missing.contains("missing"),
        "{missing}"
    );

    let empty =
        from_str("[pagerduty]\napi_key = \"\"\nuser_email = \"bot@example.com\"\n").unwrap_err();
    assert!(empty.contains("pagerduty.api_key"), "{empty}");

    let email = from_str(
        "[pagerduty]\napi_key = \"s3cret-value\"\nuser_email = \"Bot <bot@example.com>\"\n",
    )
    .unwrap_err();
    assert!(email.contains("pagerduty.user_email"), "{email}");
    assert!(!email.contains("s3cret-value"), "{email}");

    let endpoint = from_str(&format!("{BASE}api_endpoint = \"api.pagerduty.com\"\n")).unwrap_err();
    assert!(endpoint.contains("pagerduty.api_endpoint"), "{endpoint}");

    let level = from_str(&format!(
        "{BASE}[pagerduty.auto_approval]\nmax_escalation_level = 0\n"
    ))
    .unwrap_err();
    assert!(
        level.contains("pagerduty.auto_approval.max_escalation_level"),
        "{level}"
    );

    let schedule = from_str(&format!(
        "{BASE}[pagerduty.auto_approval]\nschedules = [\"ok\", \" \"]\n"
    ))
    .unwrap_err();
    assert!(
        schedule.contains("pagerduty.auto_approval.schedules[1]"),
        "{schedule}"
    );

    let missing_section = from_str("[teleport]\naddr = \"x:3025\"\n").unwrap_err();
    assert!(missing_section.contains("pagerduty"), "{missing_section}");
}

#[test]
fn api_key_may_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pd-key");
    std::fs::write(&path, "from-file-key\n").unwrap();
    let text = format!(
        "[pagerduty]\napi_key = \"{}\"\nuser_email = \"bot@example.com\"\n",
        path.display()
    );
    let config = from_str(&text).unwrap();
    assert_eq!(config.pagerduty.api_key.expose(), "from-file-key");
    assert!(!format!("{:?}", config.pagerduty).contains("from-file-key"));
}

#[test]
fn the_sample_config_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.toml");
    std::fs::write(
        &path,
        <teleport_pagerduty::PagerDutyPlugin as Plugin>::SAMPLE_CONFIG,
    )
    .unwrap();
    let loaded =
        teleport_plugin_runtime::config::load_plugin_config::<PagerDutyFile>(&path).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let config = Config::from_loaded(loaded).unwrap();
    assert_eq!(config.pagerduty.user_email, "me@example.com");

    // Every commented-out plugin key is a real key: uncommented, the sample still loads
    // cleanly. (The [teleport] credentials are alternatives, so they stay commented.)
    let mut in_teleport = false;
    let uncommented: String = <teleport_pagerduty::PagerDutyPlugin as Plugin>::SAMPLE_CONFIG
        .lines()
        .map(|line| {
            if line.starts_with('[') {
                in_teleport = line == "[teleport]";
            }
            match line.strip_prefix("# ") {
                Some(rest) if !in_teleport && (rest.starts_with('[') || rest.contains(" = ")) => {
                    rest
                }
                _ => line,
            }
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let loaded = load_plugin_config_str::<PagerDutyFile>("sample.toml", &uncommented).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let config = Config::from_loaded(loaded).unwrap();
    assert!(!config.pagerduty.auto_approval.dry_run);
    let limits = &config.pagerduty.auto_approval.limits;
    assert_eq!(limits.max_escalation_level, Some(1));
    assert_eq!(limits.schedules, Some(vec!["Primary".to_owned()]));
    assert_eq!(config.runtime.ops.listen_addr.map(|a| a.port()), Some(8080));
}

#[test]
fn the_helm_charts_configs_load_without_warnings_and_need_a_user_email() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/deploy/helm/golden");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("SKIPPED: no Helm goldens at {}", dir.display());
        return;
    };
    let secrets = tempfile::tempdir().unwrap();
    let key_file = secrets.path().join("pagerduty_api_key");
    std::fs::write(&key_file, "helm-key\n").unwrap();
    let mut seen = 0;
    let mut configured = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("pagerduty-") || !name.ends_with(".toml") {
            continue;
        }
        // The chart mounts the key at a fixed path; point it at a real file.
        let text: String = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|line| {
                if line.starts_with("api_key = \"/") {
                    format!("api_key = \"{}\"\n", key_file.display())
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        let loaded =
            load_plugin_config_str::<PagerDutyFile>(&name, &text).unwrap_or_else(|e| panic!("{e}"));
        assert!(loaded.warnings.is_empty(), "{name}: {:?}", loaded.warnings);
        if text.contains("user_email = \"\"") {
            // A chart rendered without pagerduty.userEmail: refused, as by the Go plugin.
            let error = Config::from_loaded(loaded).unwrap_err().to_string();
            assert!(error.contains("pagerduty.user_email"), "{name}: {error}");
        } else {
            let config = Config::from_loaded(loaded).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(config.pagerduty.api_key.expose(), "helm-key", "{name}");
            configured += 1;
        }
        seen += 1;
    }
    assert!(
        seen > 0 && configured > 0,
        "no configured pagerduty-*.toml in {}",
        dir.display()
    );
}

#[test]
fn an_empty_annotation_name_reads_the_default_as_go_did() {
    let config = from_str(&format!(
        "{BASE}[pagerduty.requestannotations]\nservices = \"\"\n"
    ))
    .expect("loads");
    assert_eq!(config.pagerduty.services_annotation, "pagerduty_services");
    let warning = config
        .runtime
        .warnings
        .iter()
        .find(|w| w.key() == "pagerduty.requestannotations.services")
        .expect("a warning")
        .to_string();
    assert!(
        warning.contains("test.toml") && warning.contains("line 9"),
        "{warning}"
    );
}
