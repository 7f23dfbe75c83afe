//! The real `teleport-email` binary: `configure`, and `start` sending through a real SMTP server.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::smtp_server::{SmtpOptions, SmtpServer};
use common::*;
use teleport_email::SAMPLE_CONFIG;

const BINARY: &str = env!("CARGO_BIN_EXE_teleport-email");

#[test]
fn configure_prints_the_sample() {
    let out = Command::new(BINARY).arg("configure").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), SAMPLE_CONFIG);
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
    let mut child = tokio::process::Command::new(BINARY)
        .args(["start", "-c"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    env.wait_for_watcher().await;
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .unwrap();
    let id = request_id(&request);
    let mail = server.wait_for(WAIT, |m, _| m.first().cloned()).await;
    assert!(mail.header("Subject").unwrap().ends_with(&id));
    assert!(mail.auth.is_some());

    let pid = child.id().expect("running").to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits in time")
        .unwrap();
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn both_transports_stop_the_binary_with_a_clear_error() {
    let env = Env::start().await;
    let section =
        "[smtp]\nhost = \"localhost\"\n\n[mailgun]\ndomain = \"d\"\nprivate_key = \"key-secret\"\n";
    let path = env.write_config(section, "\"*\" = \"admin@example.com\"");
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(BINARY)
            .args(["start", "-c"])
            .arg(&path)
            .output(),
    )
    .await
    .expect("exits in time")
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(last.contains("both [smtp] and [mailgun]"), "{stderr}");
    assert!(last.contains(&path.display().to_string()), "{stderr}");
    assert!(!stderr.contains("key-secret"), "{stderr}");
}
