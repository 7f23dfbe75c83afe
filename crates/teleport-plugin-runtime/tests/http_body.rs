//! Response bodies from outside services are read with a bound: a declared length over it
//! is refused before reading, a streamed (chunked) body is cut off as it passes it, and a
//! body within it is read whole.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use teleport_plugin_runtime::http::{BodyError, HttpClientOptions, http_client, read_body};
use teleport_plugin_runtime::service_error::ServiceError;

const LIMIT: usize = 1024;

async fn serve() -> SocketAddr {
    let chunked = || async {
        // Eight 512-byte chunks with no Content-Length: only streaming reveals the size.
        let chunks = (0..8).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 512]));
        Body::from_stream(futures::stream::iter(chunks))
    };
    let app = Router::new()
        .route("/small", get(|| async { vec![b'a'; LIMIT] }))
        .route("/declared", get(|| async { vec![b'b'; 4 * LIMIT] }))
        .route("/chunked", get(chunked));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn fetch(addr: SocketAddr, path: &str) -> Result<bytes::Bytes, BodyError> {
    // The runtime's own client, as the plugins build it.
    let client = http_client(&HttpClientOptions::default()).expect("client");
    let response = client
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap();
    read_body(response, LIMIT).await
}

#[tokio::test]
async fn a_body_within_the_limit_is_read_whole() {
    let addr = serve().await;
    let body = fetch(addr, "/small").await.expect("read");
    assert_eq!(body.len(), LIMIT);
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused() {
    let addr = serve().await;
    let error = fetch(addr, "/declared").await.expect_err("refused");
    assert!(
        matches!(error, BodyError::TooLarge { limit: LIMIT }),
        "{error:?}"
    );
    assert!(
        matches!(error.into_service_error(), ServiceError::Permanent { .. }),
        "asking again gets the same answer: not retried"
    );
}

#[tokio::test]
async fn a_streamed_body_is_cut_off_past_the_limit() {
    let addr = serve().await;
    let error = fetch(addr, "/chunked").await.expect_err("cut off");
    assert!(
        matches!(error, BodyError::TooLarge { limit: LIMIT }),
        "{error:?}"
    );
}
