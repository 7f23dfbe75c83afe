//! Waiting for what no fake can signal: a condition, a listening port, an HTTP answer.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use teleport_testkit::Testkit;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How often a condition is checked again.
const POLL: Duration = Duration::from_millis(20);

/// Polls `check` until it holds; panics naming `what` after `within`.
pub async fn eventually<F: Future<Output = bool>>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> F,
) {
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Polls request `request_id`'s plugin data in `namespace` until `ready` holds and returns
/// it; panics naming `what`, with the data last seen, after `within`.
pub async fn wait_plugin_data(
    kit: &Testkit,
    request_id: &str,
    namespace: &str,
    what: &str,
    within: Duration,
    mut ready: impl FnMut(&HashMap<String, String>) -> bool,
) -> HashMap<String, String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let data = kit.plugin_data(request_id, namespace).unwrap_or_default();
        if ready(&data) {
            return data;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; plugin data: {data:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the plugin in `namespace` took its on-call decision on the request
/// (`auto_approval` set, not `pending`) and released the record; returns the decision.
pub async fn wait_auto_approval(
    kit: &Testkit,
    request_id: &str,
    namespace: &str,
    within: Duration,
) -> String {
    let decided = |data: &HashMap<String, String>| {
        data.get("auto_approval")
            .is_some_and(|a| !a.is_empty() && a != "pending")
            && data.get("claim").is_none_or(String::is_empty)
    };
    let what = "the on-call decision";
    wait_plugin_data(kit, request_id, namespace, what, within, decided).await["auto_approval"]
        .clone()
}

/// A loopback port nothing listens on right now (for a plugin's `[ops] listen_addr`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A plain HTTP/1.1 GET that reads until the server closes; returns (status line, body),
/// or `None` when nothing (complete) came back.
pub async fn http_get(addr: SocketAddr, path: &str) -> Option<(String, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_owned(), body.to_owned()))
}
