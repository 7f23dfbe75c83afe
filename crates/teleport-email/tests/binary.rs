//! The real `teleport-email` binary: `configure`, and `start` sending through a real SMTP server.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::smtp_server::{SmtpOptions, SmtpServer};
use common::*;
use teleport_email::EmailPlugin;
use teleport_plugin_runtime::plugin::Plugin;
use teleport_plugin_testsupport::{cli_stdout, start_plugin, terminate};

const BINARY: &str = env!("CARGO_BIN_EXE_teleport-email");

#[test]
fn configure_prints_the_sample() {
    assert_eq!(
        cli_stdout(BINARY, &["configure"]),
        EmailPlugin::SAMPLE_CONFIG
    );
}

#[tokio::test]
async fn start_mails_then_stops_cleanly_on_sigterm() {
    let env = Env::start().await;
    let server = SmtpServer::start(SmtpOptions {
        credentials: Some(("mailer".into(), "pw".into())),
        ..SmtpOptions::default()
    })
    .await;
    let password_file = env.write("smtp-password", "pw\n");
    let section = format!(
        "[smtp]\nhost = \"localhost\"\nport = {}\nstarttls_policy = \"opportunistic\"\nusername = \"mailer\"\npassword_file = \"{}\"\n",
        server.port(),
        password_file.display()
    );
    let path = env.write_config(&section, "\"*\" = \"admin@example.com\"");
    let mut child = start_plugin(BINARY, &path, Stdio::null(), Stdio::null());
    env.wait_for_watcher().await;
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .unwrap();
    let id = request_id(&request);
    let mail = server.wait_for(WAIT, |m, _| m.first().cloned()).await;
    assert!(mail.header("Subject").unwrap().ends_with(&id));
    assert!(mail.auth.is_some());

    let status = terminate(&mut child, Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn configs_the_go_plugin_accepted_start_with_warnings_naming_file_key_and_line() {
    let env = Env::start().await;
    let server = SmtpServer::start(SmtpOptions {
        credentials: Some(("mailer".into(), "pw".into())),
        ..SmtpOptions::default()
    })
    .await;
    let password_file = env.write("smtp-password", "not-the-one-used\n");
    // Both transports (Go sent with SMTP), and the password twice (Go took the inline one).
    let section = format!(
        "[smtp]\nhost = \"localhost\"\nport = {}\nstarttls_policy = \"opportunistic\"\nusername = \"mailer\"\npassword = \"pw\"\npassword_file = \"{}\"\n\n[mailgun]\ndomain = \"d\"\nprivate_key = \"key-secret\"\n",
        server.port(),
        password_file.display()
    );
    let path = env.write_config(&section, "\"*\" = \"admin@example.com\"");
    let log = env.dir.path().join("plugin.log");
    let (stdout, stderr) = teleport_plugin_testsupport::log_file(&log);
    let mut child = start_plugin(BINARY, &path, stdout, stderr);
    env.wait_for_watcher().await;
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .unwrap();
    let id = request_id(&request);
    let mail = server.wait_for(WAIT, |m, _| m.first().cloned()).await;
    assert!(mail.header("Subject").unwrap().ends_with(&id));
    assert!(
        mail.auth.is_some(),
        "authenticated with the inline password"
    );
    let status = terminate(&mut child, Duration::from_secs(30)).await;
    let output = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{output}");

    let file = path.display().to_string();
    for (key, line) in [("mailgun", 13), ("smtp.password_file", 11)] {
        let warning = output
            .lines()
            .find(|l| l.contains(&format!("key \"{key}\"")))
            .unwrap_or_else(|| panic!("no warning about {key}:\n{output}"));
        assert!(warning.contains(&file), "{warning}");
        assert!(warning.contains(&format!("line {line}")), "{warning}");
    }
    assert!(!output.contains("key-secret"), "{output}");
}
