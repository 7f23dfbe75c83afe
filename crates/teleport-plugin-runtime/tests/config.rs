//! Loading real Go plugin configs, and the messages for malformed ones.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use teleport_plugin_runtime::config::{
    ConfigError, ConfigWarning, CredentialsSource, Loaded, LogFormat, LogOutput, LogSeverity,
    Secret, load_plugin_config,
};
use teleport_plugin_testsupport::go_configs_dir;

/// Accepts any plugin sections; for loading only the common part.
#[derive(Debug, Deserialize)]
struct AnyPlugin {
    #[serde(flatten)]
    _rest: toml::Table,
}

#[derive(Debug, Deserialize)]
struct SlackPlugin {
    slack: SlackSection,
}

#[derive(Debug, Deserialize)]
struct SlackSection {
    token: Secret,
    #[serde(default, alias = "APIURL", alias = "apiURL")]
    apiurl: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DiscordPlugin {
    #[allow(dead_code)]
    discord: SlackSection,
}

#[derive(Debug, Deserialize)]
struct MattermostPlugin {
    mattermost: MattermostSection,
}

#[derive(Debug, Deserialize)]
struct MattermostSection {
    url: String,
    token: Secret,
    #[serde(default)]
    recipients: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct PagerdutyPlugin {
    pagerduty: PagerdutySection,
}

#[derive(Debug, Deserialize)]
struct PagerdutySection {
    api_key: Secret,
    user_email: String,
    #[serde(default, alias = "RequestAnnotations", alias = "requestAnnotations")]
    requestannotations: Option<Annotations>,
}

#[derive(Debug, Deserialize)]
struct Annotations {
    notify_service: String,
    services: String,
}

#[derive(Debug, Deserialize)]
struct EmailPlugin {
    mailgun: Option<toml::Table>,
    smtp: Option<SmtpSection>,
    delivery: toml::Table,
}

#[derive(Debug, Deserialize)]
struct SmtpSection {
    host: String,
    port: u16,
    #[allow(dead_code)]
    username: String,
    #[allow(dead_code)]
    password: Option<Secret>,
    #[allow(dead_code)]
    starttls_policy: String,
}

#[derive(Debug, Deserialize)]
struct JiraPlugin {
    jira: toml::Table,
    http: toml::Table,
}

fn load<P: serde::de::DeserializeOwned>(name: &str) -> Option<Loaded<P>> {
    let path = go_configs_dir()?.join(name);
    Some(load_plugin_config::<P>(&path).unwrap_or_else(|e| panic!("{name}: {e}")))
}

fn unknown_keys<P>(loaded: &Loaded<P>) -> Vec<&str> {
    loaded
        .warnings
        .iter()
        .filter(|w| matches!(w, ConfigWarning::UnknownKey { .. }))
        .map(|w| w.key())
        .collect()
}

fn tls_trio() -> CredentialsSource {
    CredentialsSource::TlsFiles {
        cert: "/mnt/shared/certs/access-plugin/plug.crt".into(),
        key: "/mnt/shared/certs/access-plugin/plug.key".into(),
        cas: "/mnt/shared/certs/access-plugin/plug.cas".into(),
    }
}

#[test]
fn every_go_config_loads_with_the_common_sections() {
    let Some(dir) = go_configs_dir() else { return };
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let loaded = load_plugin_config::<AnyPlugin>(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!loaded.teleport.addr().is_empty());
            assert!(
                unknown_keys(&loaded).is_empty(),
                "{}: {:?}",
                path.display(),
                loaded.warnings
            );
            count += 1;
        }
    }
    assert!(
        count >= 11,
        "expected the 11 Go sample configs, found {count}"
    );
}

#[test]
fn slack_example() {
    let Some(loaded) = load::<SlackPlugin>("slack-example.toml") else {
        return;
    };
    assert_eq!(loaded.teleport.addr(), "localhost:3025");
    assert!(matches!(
        loaded.teleport.credentials(),
        Err(ConfigError::NoCredentials { .. })
    ));
    assert_eq!(loaded.plugin.slack.token.expose(), "xoxb-11xx");
    assert_eq!(loaded.plugin.slack.apiurl, None);
    assert!(loaded.role_to_recipients.is_empty());
    assert_eq!(loaded.log.output, LogOutput::Stderr);
    assert_eq!(loaded.log.severity, LogSeverity::Info);
    assert_eq!(loaded.log.format, LogFormat::Text);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    // The sample ships with every mapping commented out, which the plugin must reject.
    let err = loaded.require_role_to_recipients().unwrap_err();
    assert_eq!(err.key(), Some("role_to_recipients"));
    assert!(
        err.to_string()
            .contains("slack-example.toml: key \"role_to_recipients\"")
    );
}

#[test]
fn docker_slack_reports_legacy_keys_and_deprecated_auth_server() {
    let Some(loaded) = load::<SlackPlugin>("docker-teleport-slack.toml") else {
        return;
    };
    assert_eq!(loaded.teleport.addr(), "teleport.cluster.local:3025");
    assert_eq!(loaded.teleport.credentials().unwrap(), tls_trio());
    assert_eq!(loaded.log.severity, LogSeverity::Debug);
    assert_eq!(
        unknown_keys(&loaded),
        ["slack.secret", "slack.channel", "http"]
    );
    let text: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        text.iter().any(|w| w.ends_with(
            "docker-teleport-slack.toml: unknown key \"slack.secret\" (line 11) is ignored"
        )),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|w| w.contains("key \"teleport.auth_server\" is deprecated")),
        "{text:?}"
    );
}

#[test]
fn discord_example() {
    let Some(loaded) = load::<DiscordPlugin>("discord-example.toml") else {
        return;
    };
    assert_eq!(loaded.teleport.addr(), "localhost:3025");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn mattermost_example_and_docker() {
    let Some(example) = load::<MattermostPlugin>("mattermost-example.toml") else {
        return;
    };
    assert_eq!(example.teleport.addr(), "example.com:3025");
    assert_eq!(
        example.plugin.mattermost.url,
        "https://mattermost.example.com"
    );
    assert_eq!(example.plugin.mattermost.token.expose(), "api-token");
    assert!(example.plugin.mattermost.recipients.is_empty());
    assert!(example.warnings.is_empty(), "{:?}", example.warnings);

    let Some(docker) = load::<MattermostPlugin>("docker-teleport-mattermost.toml") else {
        return;
    };
    assert_eq!(
        unknown_keys(&docker),
        [
            "mattermost.team",
            "mattermost.channel",
            "mattermost.secret",
            "http"
        ]
    );
}

#[test]
fn pagerduty_example_and_docker() {
    let Some(example) = load::<PagerdutyPlugin>("pagerduty-example.toml") else {
        return;
    };
    assert_eq!(example.plugin.pagerduty.api_key.expose(), "key");
    assert_eq!(example.plugin.pagerduty.user_email, "me@example.com");
    assert!(example.plugin.pagerduty.requestannotations.is_none());

    let Some(docker) = load::<PagerdutyPlugin>("docker-teleport-pagerduty.toml") else {
        return;
    };
    assert_eq!(
        unknown_keys(&docker),
        ["pagerduty.service_id", "pagerduty.auto_approve", "http"]
    );
}

#[test]
fn email_example() {
    let Some(loaded) = load::<EmailPlugin>("email-example.toml") else {
        return;
    };
    assert_eq!(loaded.teleport.addr(), "0.0.0.0:3025");
    let smtp = loaded.plugin.smtp.as_ref().unwrap();
    assert_eq!((smtp.host.as_str(), smtp.port), ("smtp.gmail.com", 587));
    assert!(loaded.plugin.mailgun.is_some());
    assert!(loaded.plugin.delivery.contains_key("sender"));
    let map = loaded.require_role_to_recipients().unwrap();
    assert_eq!(map.get("dev"), ["dev-manager@example.com"]);
    assert_eq!(
        map.recipients_for(&["dev", "ops"], &["reviewer@example.com"]),
        [
            "dev-manager@example.com",
            "root@example.com",
            "admin@example.com",
            "reviewer@example.com"
        ]
    );
}

#[test]
fn jira_docker() {
    let Some(loaded) = load::<JiraPlugin>("docker-teleport-jira-cloud.toml") else {
        return;
    };
    assert_eq!(loaded.plugin.jira["project"].as_str(), Some("TD2"));
    assert_eq!(loaded.plugin.http["listen_addr"].as_str(), Some(":8045"));
    assert!(unknown_keys(&loaded).is_empty());
}

// ---- hand-written configs ----

struct Case {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn write(text: &str) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("teleport-slack.toml");
    std::fs::write(&path, text).unwrap();
    Case { _dir: dir, path }
}

fn load_slack(text: &str) -> (Case, Result<Loaded<SlackPlugin>, ConfigError>) {
    let case = write(text);
    let result = load_plugin_config::<SlackPlugin>(&case.path);
    (case, result)
}

/// Loads `text` and checks the error names the file and `key`, says `problem`, and gives `line`.
#[track_caller]
fn check_error(text: &str, key: &str, problem: &str, line: Option<usize>) -> String {
    let (case, result) = load_slack(text);
    let err = result.expect_err("expected a config error");
    let message = err.to_string();
    eprintln!("{message}");
    let prefix = format!("{}: key \"{key}\": ", case.path.display());
    assert!(
        message.starts_with(&prefix),
        "{message}\nshould start with {prefix}"
    );
    assert!(
        message.contains(problem),
        "{message}\nshould contain {problem}"
    );
    assert_eq!(err.key(), Some(key), "{message}");
    assert_eq!(err.file(), case.path);
    assert_eq!(err.line(), line, "{message}");
    message
}

const SLACK: &str = "[slack]\ntoken = \"xoxb-inline-secret\"\n";

#[test]
fn recipient_of_wrong_type() {
    let message = check_error(
        &format!("{SLACK}[role_to_recipients]\n\"*\" = \"all\"\ndev = 5\n"),
        "role_to_recipients.dev",
        "expected a string or a list of strings, found integer",
        Some(5),
    );
    assert!(message.ends_with("found integer (line 5)"), "{message}");
}

#[test]
fn recipient_list_with_a_non_string() {
    check_error(
        &format!("{SLACK}[role_to_recipients]\n\"*\" = [\"a\", 5]\n"),
        "role_to_recipients.\"*\"[1]",
        "expected a string, found integer",
        Some(4),
    );
}

#[test]
fn recipients_section_of_wrong_type() {
    check_error(
        &format!("role_to_recipients = \"ops\"\n{SLACK}"),
        "role_to_recipients",
        "expected a table of role names to recipients, found string",
        Some(1),
    );
}

#[test]
fn bad_refresh_interval() {
    check_error(
        &format!(
            "[teleport]\nidentity = \"/id\"\nrefresh_identity = true\nrefresh_identity_interval = \"1 minute\"\n{SLACK}"
        ),
        "teleport.refresh_identity_interval",
        "expected a duration such as \"30s\", \"1m\" or \"1h30m\", found \"1 minute\"",
        Some(4),
    );
}

#[test]
fn zero_refresh_interval() {
    check_error(
        &format!(
            "[teleport]\nidentity = \"/id\"\nrefresh_identity = true\nrefresh_identity_interval = \"0s\"\n{SLACK}"
        ),
        "teleport.refresh_identity_interval",
        "expected a positive duration",
        Some(4),
    );
}

#[test]
fn refresh_identity_not_a_bool() {
    check_error(
        &format!("[teleport]\nidentity = \"/id\"\nrefresh_identity = \"yes\"\n{SLACK}"),
        "teleport.refresh_identity",
        "expected a boolean, found string",
        Some(3),
    );
}

#[test]
fn addr_not_a_string() {
    check_error(
        &format!("{SLACK}[teleport]\naddr = 3025\n"),
        "teleport.addr",
        "expected a string, found integer",
        Some(4),
    );
}

#[test]
fn teleport_section_not_a_table() {
    check_error(
        &format!("teleport = \"localhost:3025\"\n{SLACK}"),
        "teleport",
        "expected a table, found string",
        Some(1),
    );
}

#[test]
fn unknown_severity() {
    check_error(
        &format!("{SLACK}\n[log]\nseverity = \"verbose\"\n"),
        "log.severity",
        "expected one of info, error, warn, debug or trace (any case), found \"verbose\"",
        Some(5),
    );
}

#[test]
fn unknown_log_format() {
    check_error(
        &format!("{SLACK}[log]\nformat = \"xml\"\n"),
        "log.format",
        "expected `text` or `json`, found `xml`",
        Some(4),
    );
}

#[test]
fn incomplete_tls_trio() {
    check_error(
        &format!("[teleport]\nclient_key = \"/k\"\nroot_cas = \"/c\"\n{SLACK}"),
        "teleport.client_crt",
        "is required because client_key and root_cas are set",
        None,
    );
}

#[test]
fn identity_and_tls_files_together() {
    check_error(
        &format!("[teleport]\nidentity = \"/id\"\nclient_crt = \"/c\"\n{SLACK}"),
        "teleport.identity",
        "cannot be combined with client_crt",
        Some(2),
    );
}

#[test]
fn missing_plugin_section() {
    let message = check_error(
        "[teleport]\naddr = \"x:3025\"\n",
        "slack",
        "required section is missing",
        None,
    );
    assert!(!message.contains("line"), "{message}");
}

#[test]
fn missing_plugin_key() {
    check_error(
        "[slack]\napiurl = \"http://127.0.0.1/\"\n",
        "slack.token",
        "required key is missing from [slack]",
        None,
    );
}

#[test]
fn secret_file_missing() {
    let message = check_error(
        "[slack]\ntoken = \"/nonexistent/teleport-runtime-test/token\"\n",
        "slack.token",
        "cannot read secret file /nonexistent/teleport-runtime-test/token",
        Some(2),
    );
    assert!(message.contains("No such file"), "{message}");
}

#[test]
fn secret_env_missing() {
    check_error(
        "[slack]\ntoken = \"env:TELEPORT_RUNTIME_TEST_NO_SUCH_VAR\"\n",
        "slack.token",
        "environment variable TELEPORT_RUNTIME_TEST_NO_SUCH_VAR is not set",
        Some(2),
    );
}

#[test]
fn secret_of_wrong_type_does_not_echo_the_value() {
    let message = check_error(
        "[slack]\ntoken = 918273645\n",
        "slack.token",
        "found integer",
        Some(2),
    );
    assert!(!message.contains("918273645"), "{message}");
}

#[test]
fn syntax_error_does_not_echo_the_line() {
    let (case, result) = load_slack("[slack]\ntoken = \"xoxb-unterminated-secret\n");
    let err = result.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{message}");
    assert!(
        message.starts_with(&format!(
            "{}: TOML syntax error at line 2",
            case.path.display()
        )),
        "{message}"
    );
    assert!(!message.contains("xoxb"), "{message}");
    assert_eq!(err.line(), Some(2));
}

#[test]
fn duplicate_key_is_a_syntax_error() {
    let (_case, result) = load_slack("[slack]\ntoken = \"a\"\ntoken = \"b\"\n");
    let err = result.unwrap_err();
    assert!(
        matches!(err, ConfigError::Syntax { line: Some(3), .. }),
        "{err}"
    );
}

#[test]
fn missing_and_unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.toml");
    let err = load_plugin_config::<AnyPlugin>(&missing).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: config file not found", missing.display())
    );

    // A directory cannot be read as a file.
    let err = load_plugin_config::<AnyPlugin>(dir.path()).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "{}: cannot read config file: ",
            dir.path().display()
        )),
        "{err}"
    );
}

#[test]
fn wildcard_is_required_by_messaging_plugins() {
    let (case, result) = load_slack(&format!(
        "{SLACK}[role_to_recipients]\ndev = \"devs\"\n\"*\" = []\n"
    ));
    let loaded = result.unwrap();
    let err = loaded.require_role_to_recipients().unwrap_err();
    assert_eq!(err.key(), Some("role_to_recipients.\"*\""));
    assert_eq!(err.line(), Some(5));
    assert_eq!(err.file(), case.path);
    assert!(
        err.to_string().contains("expected a non-empty \"*\" entry"),
        "{err}"
    );
}

#[test]
fn plugin_rules_use_key_error() {
    let (case, result) = load_slack("[slack]\ntoken = \"\"\n");
    let loaded = result.unwrap();
    let err = loaded.key_error("slack.token", "must not be empty");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: key \"slack.token\": must not be empty (line 2)",
            case.path.display()
        )
    );
}

// ---- what valid configs turn into ----

#[test]
fn identity_with_refresh_and_addr_over_auth_server() {
    let (_case, result) = load_slack(&format!(
        "[teleport]\naddr = \"proxy.example.com:443\"\nauth_server = \"old:3025\"\nidentity = \"/var/lib/id\"\nrefresh_identity = true\nrefresh_identity_interval = \"1h30m\"\n{SLACK}"
    ));
    let loaded = result.unwrap();
    assert_eq!(loaded.teleport.addr(), "proxy.example.com:443");
    assert_eq!(
        loaded.teleport.credentials().unwrap(),
        CredentialsSource::IdentityFile {
            path: "/var/lib/id".into(),
            refresh: Some(Duration::from_secs(5400)),
        }
    );
    assert!(matches!(
        &loaded.warnings[..],
        [ConfigWarning::Deprecated { key, advice, .. }]
            if key == "teleport.auth_server" && advice.contains("addr is also set")
    ));
}

#[test]
fn identity_without_refresh_and_default_interval() {
    let (_c, result) = load_slack(&format!("[teleport]\nidentity = \"id\"\n{SLACK}"));
    assert_eq!(
        result.unwrap().teleport.credentials().unwrap(),
        CredentialsSource::IdentityFile {
            path: "id".into(),
            refresh: None
        }
    );
    let (_c, result) = load_slack(&format!(
        "[teleport]\nidentity = \"id\"\nrefresh_identity = true\n{SLACK}"
    ));
    assert_eq!(
        result.unwrap().teleport.credentials().unwrap(),
        CredentialsSource::IdentityFile {
            path: "id".into(),
            refresh: Some(Duration::from_secs(60))
        }
    );
}

#[test]
fn refresh_without_identity_is_a_warning() {
    let (_c, result) = load_slack(&format!("[teleport]\nrefresh_identity = true\n{SLACK}"));
    let loaded = result.unwrap();
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert_eq!(loaded.warnings[0].key(), "teleport.refresh_identity");
}

#[test]
fn unknown_keys_anywhere_are_warnings_with_lines() {
    let (case, result) = load_slack(
        "preload = true\n[teleport]\naddr = \"a:1\"\nadr = \"typo\"\n[slack]\ntoken = \"t\"\nchanel = \"x\"\n[log]\nseverity = \"warning\"\nfile = \"x\"\n[[extra]]\nname = \"x\"\n",
    );
    let loaded = result.unwrap();
    assert_eq!(loaded.log.severity, LogSeverity::Warn);
    let found: Vec<(String, Option<usize>)> = loaded
        .warnings
        .iter()
        .map(|w| match w {
            ConfigWarning::UnknownKey { key, line, file } => {
                assert_eq!(file, &case.path);
                (key.clone(), *line)
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        found,
        [
            ("preload".to_string(), Some(1)),
            ("teleport.adr".to_string(), Some(4)),
            ("slack.chanel".to_string(), Some(7)),
            ("log.file".to_string(), Some(10)),
            ("extra".to_string(), Some(11)),
        ]
    );
}

#[test]
fn go_toml_spellings_through_aliases() {
    let (_c, result) = load_slack("[slack]\ntoken = \"t\"\nAPIURL = \"http://127.0.0.1:9/api/\"\n");
    let loaded = result.unwrap();
    assert_eq!(
        loaded.plugin.slack.apiurl.as_deref(),
        Some("http://127.0.0.1:9/api/")
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);

    let case = write(
        "[pagerduty]\napi_key = \"k\"\nuser_email = \"a@example.com\"\n[pagerduty.RequestAnnotations]\nnotify_service = \"notify\"\nservices = \"svcs\"\n",
    );
    let loaded = load_plugin_config::<PagerdutyPlugin>(&case.path).unwrap();
    let annotations = loaded.plugin.pagerduty.requestannotations.unwrap();
    assert_eq!(annotations.notify_service, "notify");
    assert_eq!(annotations.services, "svcs");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn secrets_from_files_and_env_and_no_secret_in_debug() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "xoxb-from-file\n").unwrap();
    let (_c, result) = load_slack(&format!("[slack]\ntoken = \"{}\"\n", token.display()));
    let loaded = result.unwrap();
    assert_eq!(loaded.plugin.slack.token.expose(), "xoxb-from-file");
    let debug = format!("{loaded:?}");
    assert!(!debug.contains("xoxb"), "{debug}");

    let (_c, result) = load_slack(&format!("[slack]\ntoken = \"file:{}\"\n", token.display()));
    assert_eq!(
        result.unwrap().plugin.slack.token.expose(),
        "xoxb-from-file"
    );
}

#[test]
fn log_output_file_and_json() {
    let (_c, result) = load_slack(&format!(
        "{SLACK}[log]\noutput = \"/var/log/slack.log\"\nformat = \"json\"\nseverity = \"ERR\"\n"
    ));
    let loaded = result.unwrap();
    assert_eq!(
        loaded.log.output,
        LogOutput::File("/var/log/slack.log".into())
    );
    assert_eq!(loaded.log.format, LogFormat::Json);
    assert_eq!(loaded.log.severity, LogSeverity::Error);
}
