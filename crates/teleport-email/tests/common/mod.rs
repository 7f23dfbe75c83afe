//! Test support: a testkit Teleport, a real SMTP server or the fake Mailgun, and the plugin.

#![allow(dead_code, unused_imports)] // each test crate uses its own part of these helpers

pub(crate) mod smtp_server;

use std::path::{Path, PathBuf};
use std::time::Duration;

use teleport_email::config;
pub(crate) use teleport_plugin_testsupport::request_id;
use teleport_plugin_testsupport::{InProcessPlugin, identity_dir, startup_error};
use teleport_testkit::{IdentityRequest, Testkit};
use tokio_util::sync::CancellationToken;

pub(crate) const WAIT: Duration = Duration::from_secs(30);
pub(crate) const SENDER: &str = "teleport@example.com";

pub(crate) struct Env {
    pub kit: Testkit,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub(crate) async fn start() -> Self {
        let kit = Testkit::builder()
            .cluster_name("teleport.example.com")
            .start()
            .await
            .expect("testkit");
        let (dir, _) = identity_dir(
            &kit,
            &IdentityRequest::new("access-plugin-email"),
            "identity",
        );
        Self { kit, dir }
    }

    /// Writes a file into the temp dir and returns its path.
    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    /// A complete config with this transport section and `role_to_recipients` body.
    pub(crate) fn write_config(&self, transport: &str, recipients: &str) -> PathBuf {
        let text = format!(
            "[teleport]\naddr = \"{addr}\"\nidentity = \"{identity}\"\n\n{transport}\n\n\
             [delivery]\nsender = \"{SENDER}\"\nnotify_requester = true\n\n[role_to_recipients]\n{recipients}\n",
            addr = self.kit.auth_addr(),
            identity = self.dir.path().join("identity").display(),
        );
        self.write("teleport-email.toml", &text)
    }

    pub(crate) fn spawn(&self, path: &Path) -> InProcessPlugin {
        let config = config::load(path).expect("config loads");
        InProcessPlugin::spawn(WAIT, |stop| teleport_email::run(config, stop))
    }

    pub(crate) async fn start_error(&self, path: &Path) -> String {
        let config = config::load(path).expect("config loads");
        startup_error(WAIT, teleport_email::run(config, CancellationToken::new())).await
    }

    pub(crate) async fn wait_for_watcher(&self) {
        self.kit
            .wait_for_watchers(1, WAIT)
            .await
            .expect("plugin watching");
    }
}

/// The text/plain and text/html parts of a raw MIME message (quoted-printable or
/// base64 decoded as lettre wrote them).
pub(crate) fn parts(data: &str) -> (String, String) {
    let mut text = String::new();
    let mut html = String::new();
    for part in data.split("\r\n--") {
        let Some((head, body)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let head_lower = head.to_ascii_lowercase();
        let body = body.trim_end_matches("\r\n");
        let decoded = if head_lower.contains("content-transfer-encoding: base64") {
            use base64::Engine;
            let joined: String = body.split("\r\n").collect();
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(joined)
                    .unwrap_or_default(),
            )
            .unwrap_or_default()
        } else if head_lower.contains("content-transfer-encoding: quoted-printable") {
            decode_qp(body)
        } else {
            body.to_owned()
        };
        if head_lower.contains("content-type: text/plain") {
            text = decoded.replace("\r\n", "\n");
        } else if head_lower.contains("content-type: text/html") {
            html = decoded.replace("\r\n", "\n");
        }
    }
    (text, html)
}

fn decode_qp(body: &str) -> String {
    let mut bytes = Vec::new();
    let mut lines = body.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        let (line, soft) = match line.strip_suffix('=') {
            Some(l) => (l, true),
            None => (line, false),
        };
        let raw = line.as_bytes();
        let mut i = 0;
        while i < raw.len() {
            if raw[i] == b'=' && i + 2 < raw.len() {
                let hex = std::str::from_utf8(&raw[i + 1..i + 3]).unwrap_or("");
                if let Ok(b) = u8::from_str_radix(hex, 16) {
                    bytes.push(b);
                    i += 3;
                    continue;
                }
            }
            bytes.push(raw[i]);
            i += 1;
        }
        if !soft && lines.peek().is_some() {
            bytes.extend_from_slice(b"\r\n");
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
