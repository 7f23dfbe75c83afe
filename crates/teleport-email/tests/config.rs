//! Config files: the Go plugin's sample, our sample, the transport rule, and clear errors.

use std::path::PathBuf;

use teleport_email::EmailPlugin;
use teleport_email::config::{self, Config, StartTlsPolicy, Transport};
use teleport_plugin_runtime::config::ConfigError;
use teleport_plugin_runtime::plugin::Plugin;
use teleport_plugin_testsupport::go_config;

fn load_text(text: &str) -> (tempfile::TempDir, PathBuf, Result<Config, ConfigError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("email.toml");
    std::fs::write(&path, text).unwrap();
    let result = config::load(&path);
    (dir, path, result)
}

const BASE: &str = "[teleport]\naddr = \"localhost:3025\"\nidentity = \"/id\"\n[delivery]\nsender = \"noreply@example.com\"\n";
const SMTP: &str = "[smtp]\nhost = \"smtp.example.com\"\nusername = \"u\"\npassword = \"p\"\n";
const RECIPIENTS: &str = "[role_to_recipients]\n\"*\" = \"admin@example.com\"\n";

#[test]
fn the_go_sample_loads_and_sends_with_smtp_as_go_did() {
    let Some(path) = go_config("email-example.toml") else {
        return;
    };
    let loaded = teleport_plugin_runtime::config::load_plugin_config::<config::EmailFile>(&path)
        .expect("parses");
    assert!(
        loaded.warnings.is_empty(),
        "every key is known: {:?}",
        loaded.warnings
    );
    let config = Config::from_loaded(loaded).expect("loads");
    let warnings: Vec<String> = config
        .runtime
        .warnings
        .iter()
        .map(|w| w.to_string())
        .collect();
    assert!(
        matches!(warnings.as_slice(), [w] if w.contains("\"mailgun\"") && w.contains("SMTP")),
        "{warnings:?}"
    );
    assert_eq!(
        config.role_to_recipients.get("dev"),
        ["dev-manager@example.com"]
    );
    assert_eq!(config.sender.email.to_string(), "noreply@example.com");
    assert!(
        !config.notify_requester,
        "the Go plugin never mailed the requester"
    );
    let smtp = config.smtp.as_ref().expect("smtp");
    assert_eq!((smtp.host.as_str(), smtp.port), ("smtp.gmail.com", 587));
    assert_eq!(smtp.starttls, StartTlsPolicy::Mandatory);
    assert!(
        config.mailgun.is_none(),
        "Go read nothing of [mailgun] then"
    );

    // Its password is empty, which Go refused too; filled in, it sends with SMTP.
    let error = config.transport().expect_err("no password yet");
    assert_eq!(error.key(), Some("smtp.password"));
    let filled = std::fs::read_to_string(&path)
        .unwrap()
        .replace("password = \"\"", "password = \"filled-in\"");
    let (_d, _p, result) = load_text(&filled);
    assert!(matches!(
        result.expect("loads").transport(),
        Ok(Transport::Smtp(_))
    ));
}

#[test]
fn secrets_given_twice_and_a_password_without_user_are_taken_as_go_did() {
    let (dir, _p, _) = load_text("");
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "from-the-file\n").unwrap();
    let (_d, path, result) = load_text(&format!(
        "{BASE}[mailgun]\ndomain = \"d\"\nprivate_key = \"inline\"\nprivate_key_file = \"{}\"\n{RECIPIENTS}",
        key_file.display()
    ));
    let config = result.expect("loads");
    let Ok(Transport::Mailgun(mailgun)) = config.transport() else {
        panic!("mailgun")
    };
    assert_eq!(mailgun.private_key.expose(), "inline");
    let warning = config.runtime.warnings[0].to_string();
    assert!(
        warning.contains("mailgun.private_key_file")
            && warning.contains("line 9")
            && warning.contains(&path.display().to_string()),
        "{warning}"
    );

    let (_d, _p, result) = load_text(&format!(
        "{BASE}[smtp]\nhost = \"h\"\npassword = \"p\"\n{RECIPIENTS}"
    ));
    let config = result.expect("loads");
    let Ok(Transport::Smtp(smtp)) = config.transport() else {
        panic!("smtp")
    };
    assert!(smtp.credentials.is_none());
    assert_eq!(config.runtime.warnings[0].key(), "smtp.username");
}

#[test]
fn our_sample_loads_with_smtp() {
    let (_dir, _path, result) = load_text(EmailPlugin::SAMPLE_CONFIG);
    let config = result.expect("the sample loads");
    let Transport::Smtp(smtp) = config.transport().expect("one transport") else {
        panic!("expected SMTP");
    };
    assert_eq!(smtp.port, 587);
    assert!(smtp.credentials.is_some());
    assert_eq!(
        config.role_to_recipients.get("*"),
        ["security-team@example.com"]
    );
}

#[test]
fn mailgun_defaults_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "key-from-file\n").unwrap();
    let (_d, _p, result) = load_text(&format!(
        "{BASE}[mailgun]\nDomain = \"mg.example.com\"\nprivate_key_file = \"{}\"\n{RECIPIENTS}",
        key.display()
    ));
    let Transport::Mailgun(mailgun) = result.unwrap().transport().unwrap() else {
        panic!("expected Mailgun")
    };
    assert_eq!(mailgun.domain, "mg.example.com");
    assert_eq!(mailgun.private_key.expose(), "key-from-file");
    assert_eq!(mailgun.api_base, "https://api.mailgun.net/v3");
}

#[test]
fn legacy_delivery_recipients_become_the_wildcard() {
    let (_d, _p, result) = load_text(&format!(
        "{BASE}recipients = [\"a@example.com\", \"b@example.com\"]\n{SMTP}"
    ));
    let config = result.expect("loads");
    assert_eq!(
        config.role_to_recipients.get("*"),
        ["a@example.com", "b@example.com"]
    );
    assert_eq!(config.runtime.warnings[0].key(), "delivery.recipients");

    let (_d, path, result) = load_text(&format!(
        "{BASE}recipients = [\"a@example.com\"]\n{SMTP}{RECIPIENTS}"
    ));
    let error = result.expect_err("both");
    assert_eq!(error.key(), Some("delivery.recipients"));
    assert!(error.to_string().contains(&path.display().to_string()));
}

#[test]
fn bad_values_name_the_key_the_file_and_the_line() {
    let cases = [
        (
            format!(
                "[teleport]\nidentity = \"/id\"\n[delivery]\nsender = \"not an address\"\n{SMTP}{RECIPIENTS}"
            ),
            "delivery.sender",
            Some(4),
        ),
        (
            format!(
                "{BASE}{SMTP}[role_to_recipients]\n\"*\" = [\"admin@example.com\", \"#ops\"]\n"
            ),
            "role_to_recipients.\"*\"[1]",
            Some(11),
        ),
        (
            format!(
                "{BASE}{SMTP}[role_to_recipients]\n\"*\" = \"admin@example.com\"\ndev = \"dev-team\"\n"
            ),
            "role_to_recipients.dev",
            Some(12),
        ),
        (
            format!("{BASE}{SMTP}[role_to_recipients]\ndev = \"dev@example.com\"\n"),
            "role_to_recipients",
            Some(10),
        ),
        (
            format!("{BASE}[smtp]\nhost = \"h\"\nstarttls_policy = \"always\"\n{RECIPIENTS}"),
            "smtp.starttls_policy",
            Some(8),
        ),
        (
            format!("{BASE}[smtp]\nhost = \"h\"\nport = 0\n{RECIPIENTS}"),
            "smtp.port",
            Some(8),
        ),
        (
            format!(
                "{BASE}[smtp]\nhost = \"h\"\npassword_file = \"/nonexistent/pw\"\nusername = \"u\"\n{RECIPIENTS}"
            ),
            "smtp.password_file",
            Some(8),
        ),
        (
            format!("{BASE}[smtp]\nhost = \"h\"\nca_file = \"/nonexistent/ca.pem\"\n{RECIPIENTS}"),
            "smtp.ca_file",
            Some(8),
        ),
        (
            format!("{BASE}[mailgun]\ndomain = \"d\"\n{RECIPIENTS}"),
            "mailgun.private_key",
            None,
        ),
        (
            format!(
                "{BASE}[mailgun]\ndomain = \"d\"\nprivate_key = \"k\"\napi_base = \"api.eu.mailgun.net\"\n{RECIPIENTS}"
            ),
            "mailgun.api_base",
            Some(9),
        ),
    ];
    for (text, key, line) in cases {
        let (_dir, path, result) = load_text(&text);
        let error = result.expect_err(&text);
        assert_eq!(error.key(), Some(key), "{error}");
        assert_eq!(error.line(), line, "{error}");
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );
    }
}

#[test]
fn transport_rules() {
    let (_d, _p, result) = load_text(&format!("{BASE}{RECIPIENTS}"));
    let error = result.unwrap().transport().expect_err("none");
    assert!(
        error.to_string().contains("configure [smtp] or [mailgun]"),
        "{error}"
    );

    let (_d, _p, result) = load_text(&format!(
        "{BASE}[smtp]\nhost = \"h\"\nusername = \"u\"\n{RECIPIENTS}"
    ));
    let error = result.unwrap().transport().expect_err("no password");
    assert_eq!(error.key(), Some("smtp.password"));

    let (_d, _p, result) = load_text(&format!(
        "{BASE}[smtp]\nhost = \"h\"\nport = 465\n{RECIPIENTS}"
    ));
    let Transport::Smtp(smtp) = result.unwrap().transport().unwrap() else {
        panic!("smtp")
    };
    assert!(smtp.implicit_tls());
    assert!(smtp.credentials.is_none());
}
