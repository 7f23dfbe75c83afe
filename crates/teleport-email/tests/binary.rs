//! The real `teleport-email` binary: `configure`, and `start` sending through a real SMTP server.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::smtp_server::{SmtpOptions, SmtpServer};
use common::*;
use teleport_email::EmailPlugin;
use teleport_plugin_runtime::plugin::Plugin;
use teleport_plugin_testsupport::{cli_stdout, run_to_exit, start_plugin, terminate};

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
async fn both_transports_stop_the_binary_with_a_clear_error() {
    let env = Env::start().await;
    let section =
        "[smtp]\nhost = \"localhost\"\n\n[mailgun]\ndomain = \"d\"\nprivate_key = \"key-secret\"\n";
    let path = env.write_config(section, "\"*\" = \"admin@example.com\"");
    let out = run_to_exit(BINARY, &path, Duration::from_secs(60)).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(last.contains("both [smtp] and [mailgun]"), "{stderr}");
    assert!(last.contains(&path.display().to_string()), "{stderr}");
    assert!(!stderr.contains("key-secret"), "{stderr}");
}
