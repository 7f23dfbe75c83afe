//! The config file: the Go plugin's config loads unchanged (`[db]` ignored with a warning),
//! webhook and polling modes and what each requires, secrets from files and the
//! environment, `project_id` as number or path, `min_access_level`, and errors that name
//! the key but never a secret.

use std::time::Duration;

use teleport_gitlab::config::{self, Config, GitlabFile, ProjectRef};
use teleport_plugin_runtime::config::{ConfigWarning, load_plugin_config, load_plugin_config_str};
use teleport_plugin_runtime::inbound::config::Transport;
use teleport_plugin_testsupport::go_config;

fn from_str(text: &str) -> Result<Config, String> {
    let loaded =
        load_plugin_config_str::<GitlabFile>("test.toml", text).map_err(|e| e.to_string())?;
    Config::from_loaded(loaded, false).map_err(|e| e.to_string())
}

const TELEPORT: &str = "[teleport]\naddr = \"teleport.example.com:443\"\nidentity = \"/var/lib/teleport/plugins/gitlab/auth_id\"\n\n";

/// The listener's TLS files, required unless `--insecure-no-tls`.
const TLS: &str = "https_key_file = \"/var/lib/teleport/key.pem\"\nhttps_cert_file = \"/var/lib/teleport/cert.pem\"\n";

fn gitlab(extra: &str) -> String {
    format!(
        "{TELEPORT}[gitlab]\ntoken = \"glpat-secret-value\"\nproject_id = \"ops/access\"\n{extra}"
    )
}

#[test]
fn go_docker_config_loads_unchanged() {
    let Some(path) = go_config("docker-teleport-gitlab.toml") else {
        return;
    };
    let loaded = load_plugin_config::<GitlabFile>(&path).unwrap();
    let unknown: Vec<&str> = loaded
        .warnings
        .iter()
        .filter(|w| matches!(w, ConfigWarning::UnknownKey { .. }))
        .map(|w| w.key())
        .collect();
    assert!(unknown.is_empty(), "every Go key is known: {unknown:?}");
    let config = Config::from_loaded(loaded, false).unwrap();
    let gitlab = &config.gitlab;
    assert_eq!(
        gitlab.url, "https://gitlab.com",
        "empty url means gitlab.com"
    );
    assert_eq!(gitlab.token.expose(), "token");
    assert_eq!(gitlab.project, ProjectRef::Id(1_812_345));
    assert_eq!(gitlab.poll_interval, None);
    assert_eq!(gitlab.min_access_level, 40, "Maintainer by default");
    let webhook = gitlab.webhook.as_ref().expect("webhook mode");
    assert_eq!(webhook.secret.expose(), "your webhook passphrase");
    assert_eq!(
        webhook.hook_url(),
        "https://teleport-gitlab.cluster.local/webhook"
    );
    assert_eq!(
        config.runtime.teleport.addr(),
        "teleport.cluster.local:3025"
    );
    let explained: Vec<String> = config
        .runtime
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(explained.len(), 1, "{explained:?}");
    assert!(
        explained[0].contains("\"db\" has no effect") && explained[0].contains("plugin data"),
        "{explained:?}"
    );
    let http = config.http.expect("[http] configures the webhook listener");
    assert_eq!(http.listen_addr, ":8044");
    assert!(
        matches!(http.transport, Transport::Tls { ref cert_file, .. } if cert_file.ends_with("webproxy_cert.pem"))
    );
}

#[test]
fn the_printed_sample_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.toml");
    std::fs::write(
        &path,
        <teleport_gitlab::GitlabPlugin as teleport_plugin_runtime::plugin::Plugin>::SAMPLE_CONFIG,
    )
    .unwrap();
    let config = config::load(&path).expect("the sample is a valid config");
    assert!(config.gitlab.webhook.is_some());
    assert!(
        config.runtime.warnings.is_empty(),
        "{:?}",
        config.runtime.warnings
    );
}

#[test]
fn polling_needs_neither_http_nor_a_secret() {
    let config = from_str(&gitlab(
        "poll_interval = \"1m30s\"\nmin_access_level = \"developer\"\nurl = \"https://git.example.com/\"\n",
    ))
    .unwrap();
    assert_eq!(config.gitlab.poll_interval, Some(Duration::from_secs(90)));
    assert!(config.gitlab.webhook.is_none());
    assert_eq!(config.gitlab.min_access_level, 30);
    assert_eq!(config.gitlab.url, "https://git.example.com");
    assert_eq!(config.gitlab.project, ProjectRef::Path("ops/access".into()));

    assert!(
        config.http.is_none(),
        "no listener: outbound connections only"
    );

    let both = from_str(&gitlab(&format!(
        "poll_interval = \"30s\"\nwebhook_secret = \"s\"\n\n[http]\npublic_addr = \"https://plugin.example.com\"\n{TLS}"
    )))
    .unwrap();
    assert!(both.gitlab.webhook.is_some() && both.gitlab.poll_interval.is_some());
    assert_eq!(
        both.http.expect("the listener runs too").listen_addr,
        ":8081"
    );

    // [http] without a secret and a public address starts no listener when polling; said.
    let idle = from_str(&gitlab(
        "poll_interval = \"30s\"\n\n[http]\nlisten_addr = \":8044\"\n",
    ))
    .unwrap();
    assert!(idle.http.is_none() && idle.gitlab.webhook.is_none());
    let warned: Vec<String> = idle
        .runtime
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        warned.iter().any(|w| w.contains("\"http\" has no effect")),
        "{warned:?}"
    );
}

#[test]
fn basic_auth_goes_into_the_hook_url_gitlab_calls() {
    let config = from_str(&gitlab(&format!(
        "webhook_secret = \"s\"\n\n[http]\npublic_addr = \"plugin.example.com:8443\"\n{TLS}\n[http.basic_auth]\nuser = \"gitlab\"\npassword = \"p@ss:word\"\n"
    )))
    .unwrap();
    let hook = config.gitlab.webhook.as_ref().unwrap().hook_url();
    assert_eq!(
        hook,
        "https://gitlab:p%40ss%3Aword@plugin.example.com:8443/webhook"
    );
    let auth = config
        .http
        .unwrap()
        .basic_auth
        .expect("the listener checks it");
    assert_eq!(
        (auth.user.as_str(), auth.password.expose()),
        ("gitlab", "p@ss:word")
    );
}

#[test]
fn project_id_may_be_an_integer_and_levels_a_number() {
    let config = from_str(&format!(
        "{TELEPORT}[gitlab]\ntoken = \"t\"\nproject_id = 77\npoll_interval = \"10s\"\nmin_access_level = 50\n"
    ))
    .unwrap();
    assert_eq!(config.gitlab.project, ProjectRef::Id(77));
    assert_eq!(config.gitlab.min_access_level, 50);
}

#[test]
fn secrets_come_from_files_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "glpat-from-file\n").unwrap();
    let config = from_str(&format!(
        "{TELEPORT}[gitlab]\ntoken = \"{}\"\nproject_id = 1\nwebhook_secret = \"env:PATH\"\n\n[http]\npublic_addr = \"p.example.com\"\n{TLS}",
        token.display()
    ))
    .unwrap();
    assert_eq!(config.gitlab.token.expose(), "glpat-from-file");
    let secret = &config.gitlab.webhook.as_ref().unwrap().secret;
    assert!(!secret.expose().is_empty());
    assert!(
        !format!("{config:?}").contains("glpat-from-file"),
        "Debug hides secrets"
    );
}

#[test]
fn each_mistake_names_its_key() {
    let cases = [
        (
            gitlab(""),
            "gitlab.webhook_secret",
            "required unless gitlab.poll_interval",
        ),
        (
            gitlab("webhook_secret = \"s\"\n"),
            "http.public_addr",
            "required with gitlab.webhook_secret",
        ),
        (
            gitlab("\n[http]\npublic_addr = \"p.example.com\"\n"),
            "gitlab.webhook_secret",
            "required with [http]",
        ),
        (
            gitlab("webhook_secret = \"s\"\n\n[http]\npublic_addr = \"p.example.com\"\n"),
            "http.https_cert_file",
            "--insecure-no-tls",
        ),
        (
            gitlab(&format!(
                "webhook_secret = \"s\"\n\n[http]\npublic_addr = \"p.example.com\"\nlisten_addr = \"8044\"\n{TLS}"
            )),
            "http.listen_addr",
            "[host]:port",
        ),
        (
            gitlab("poll_interval = \"10ms\"\n"),
            "gitlab.poll_interval",
            "at least 1s",
        ),
        (
            gitlab("poll_interval = \"soon\"\n"),
            "gitlab.poll_interval",
            "expected a duration",
        ),
        (
            gitlab("poll_interval = \"1m\"\nmin_access_level = \"admin\"\n"),
            "gitlab.min_access_level",
            "maintainer",
        ),
        (
            gitlab("poll_interval = \"1m\"\nurl = \"gitlab.example.com\"\n"),
            "gitlab.url",
            "http:// or https://",
        ),
        (
            format!(
                "{TELEPORT}[gitlab]\ntoken = \"t\"\nproject_id = \"access\"\npoll_interval = \"1m\"\n"
            ),
            "gitlab.project_id",
            "group/project",
        ),
        (
            format!("{TELEPORT}[gitlab]\ntoken = \"\"\nproject_id = 1\npoll_interval = \"1m\"\n"),
            "gitlab.token",
            "empty",
        ),
        (
            format!("{TELEPORT}[gitlab]\nproject_id = 1\n"),
            "gitlab.token",
            "required key is missing",
        ),
    ];
    for (text, key, problem) in cases {
        let error = from_str(&text).expect_err(key);
        assert!(
            error.contains(&format!("key \"{key}\"")) && error.contains(problem),
            "{key}: {error}"
        );
        assert!(!error.contains("glpat-secret-value"), "{error}");
    }
}

#[test]
fn the_http_sections_password_is_not_in_debug_output() {
    let config = from_str(&gitlab(&format!(
        "webhook_secret = \"s\"\n\n[http]\npublic_addr = \"p.example.com\"\n{TLS}\n[http.basic_auth]\nuser = \"gitlab\"\npassword = \"hunter2-basic\"\n",
    )))
    .unwrap();
    let shown = format!("{config:?}");
    assert!(shown.contains("basic_auth"), "{shown}");
    assert!(!shown.contains("hunter2-basic"), "{shown}");
}

#[test]
fn credentials_in_public_addr_are_not_in_debug_output() {
    let config = from_str(&gitlab(&format!(
        "webhook_secret = \"s\"\n\n[http]\npublic_addr = \"https://gitlab:pa55word@p.example.com\"\n{TLS}",
    )))
    .unwrap();
    let shown = format!("{:?}", config.gitlab);
    assert!(
        shown.contains("https://***@p.example.com/webhook"),
        "{shown}"
    );
    assert!(!shown.contains("pa55word"), "{shown}");
}

#[test]
fn insecure_no_tls_makes_the_hook_plain_http() {
    let text =
        gitlab("webhook_secret = \"s\"\n\n[http]\npublic_addr = \"plugin.example.com:8044\"\n");
    let loaded = load_plugin_config_str::<GitlabFile>("test.toml", &text).unwrap();
    let config = Config::from_loaded(loaded, true).unwrap();
    assert_eq!(
        config.gitlab.webhook.unwrap().hook_url(),
        "http://plugin.example.com:8044/webhook"
    );
}
