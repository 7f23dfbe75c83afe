//! The one classification of transport failures: a refused connection or a timeout may pass
//! and is retried; a failed TLS handshake or a URL that cannot be called will not, and is not.

use std::time::Duration;

use teleport_plugin_runtime::http::{HttpClientOptions, http_client, without_url};
use teleport_plugin_runtime::service_error::ServiceError;
use tokio::io::AsyncWriteExt;

fn client(timeout: Duration) -> reqwest::Client {
    http_client(&HttpClientOptions {
        timeout,
        ..HttpClientOptions::default()
    })
    .expect("client")
}

async fn classify(url: &str, timeout: Duration) -> ServiceError {
    let error = client(timeout)
        .get(url)
        .send()
        .await
        .expect_err("the call must fail");
    ServiceError::from_reqwest(&error)
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    // Bind, learn the port, close: nothing listens there any more.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let error = classify(&format!("https://{addr}/"), Duration::from_secs(5)).await;
    assert!(matches!(error, ServiceError::Transient { .. }), "{error:?}");
}

#[tokio::test]
async fn a_timeout_is_transient() {
    // Accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let error = classify(&format!("http://{addr}/"), Duration::from_millis(200)).await;
    assert!(matches!(error, ServiceError::Transient { .. }), "{error:?}");
}

#[tokio::test]
async fn a_failed_tls_handshake_is_permanent() {
    // Answers the ClientHello in plain HTTP: the handshake fails however often it is tried.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let error = classify(&format!("https://{addr}/"), Duration::from_secs(5)).await;
    assert!(matches!(error, ServiceError::Permanent { .. }), "{error:?}");
}

#[tokio::test]
async fn an_unusable_url_is_permanent() {
    let error = classify("https://", Duration::from_secs(5)).await;
    assert!(matches!(error, ServiceError::Permanent { .. }), "{error:?}");
}

#[tokio::test]
async fn error_text_names_no_url() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let error = client(Duration::from_secs(5))
        .get(format!("http://{addr}/path?api_key=s3cret"))
        .send()
        .await
        .expect_err("refused");
    let text = without_url(&error);
    assert!(text.starts_with("connection failed"), "{text}");
    assert!(
        !text.contains("s3cret") && !text.contains("/path"),
        "{text}"
    );
}

#[tokio::test]
async fn a_connection_closed_before_the_answer_is_transient() {
    // Reads the request, then closes without a word: the call may have been carried out,
    // and asking again may well succeed.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await;
            drop(socket);
        }
    });
    let error = classify(&format!("http://{addr}/"), Duration::from_secs(5)).await;
    assert!(
        matches!(
            error,
            ServiceError::Transient {
                answered: false,
                ..
            }
        ),
        "{error:?}"
    );
}
