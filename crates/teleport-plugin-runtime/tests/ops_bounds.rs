//! The ops endpoint's bounds over a real socket: a body is refused before it is read, a
//! client that connects and sends nothing is cut off, and connections beyond the cap wait
//! while the endpoint keeps answering the ones it holds.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use teleport_plugin_runtime::inbound::ListenerOptions;
use teleport_plugin_runtime::metrics::Metrics;
use teleport_plugin_runtime::ops::{OpsServer, Readiness, ops_listener_options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

async fn serve(options: ListenerOptions) -> (SocketAddr, CancellationToken) {
    let server = OpsServer::bind_with(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Readiness::default(),
        Metrics::new(),
        options,
    )
    .await
    .expect("the ops endpoint binds");
    let addr = server.local_addr().expect("bound address");
    let stop = CancellationToken::new();
    tokio::spawn(server.serve(stop.clone()));
    (addr, stop)
}

/// Sends `request` on a fresh connection and returns the status line of the answer.
async fn status_line(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("send");
    let mut answer = vec![0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("an answer within 5 s")
        .expect("read");
    String::from_utf8_lossy(&answer[..read])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_body_is_refused_before_it_is_read() {
    let (addr, stop) = serve(ops_listener_options()).await;
    // Announces 10 MiB and sends none of it: the answer must come from the header alone.
    let line = status_line(
        addr,
        b"POST /healthz HTTP/1.1\r\nHost: ops\r\nContent-Length: 10485760\r\n\r\n",
    )
    .await;
    assert!(line.contains("413"), "oversized body refused: {line}");
    let line = status_line(addr, b"GET /healthz HTTP/1.1\r\nHost: ops\r\n\r\n").await;
    assert!(line.contains("200"), "still healthy: {line}");
    stop.cancel();
}

#[tokio::test]
async fn a_silent_client_is_cut_off() {
    let options = ListenerOptions {
        handshake_timeout: Duration::from_millis(300),
        ..ops_listener_options()
    };
    let (addr, stop) = serve(options).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let started = Instant::now();
    let mut buf = [0u8; 16];
    // A closed connection reads 0 bytes (or an error) once the header timeout fires.
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("the endpoint closes a silent connection within 5 s");
    assert!(
        matches!(read, Ok(0) | Err(_)) || buf.starts_with(b"HTTP/1.1 408"),
        "closed (or 408) rather than served: {read:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
    stop.cancel();
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_their_turn() {
    let options = ListenerOptions {
        max_connections: 2,
        handshake_timeout: Duration::from_millis(800),
        ..ops_listener_options()
    };
    let (addr, stop) = serve(options).await;
    // Two idle connections take both slots...
    let _a = TcpStream::connect(addr).await.expect("connect a");
    let _b = TcpStream::connect(addr).await.expect("connect b");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // ...so a third is answered only after one of them is cut off as silent.
    let started = Instant::now();
    let line = status_line(addr, b"GET /healthz HTTP/1.1\r\nHost: ops\r\n\r\n").await;
    assert!(line.contains("200"), "served in the end: {line}");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the third connection waited for a slot ({:?})",
        started.elapsed()
    );
    stop.cancel();
}
