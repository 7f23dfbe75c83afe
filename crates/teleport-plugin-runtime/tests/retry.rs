//! The retry policy on tokio's paused clock, and error classification against real sockets.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, StatusCode};
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
use teleport_plugin_runtime::retry::{RetryError, RetryPolicy, retry};
use teleport_plugin_runtime::service_error::ServiceError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const SEC: Duration = Duration::from_secs(1);

fn policy() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(100),
        cap: Duration::from_secs(10),
        ..Default::default()
    }
}

/// A log sink for the current thread, to read what the loop logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test(start_paused = true)]
async fn retries_until_success_honouring_retry_after() {
    let captured = Captured::default();
    let _guard = captured.install();
    let calls = AtomicU32::new(0);
    let started = Instant::now();
    let result = retry(
        &policy(),
        &CancellationToken::new(),
        "post message",
        |attempt| {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            assert_eq!(attempt, n);
            async move {
                if attempt < 3 {
                    Err(ServiceError::Transient {
                        message: format!("rate limited #{attempt}"),
                        retry_after: Some(2 * SEC),
                        answered: true,
                    })
                } else {
                    Ok("sent")
                }
            }
        },
    )
    .await;
    assert_eq!(result.unwrap(), "sent");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // Two waits of exactly Retry-After on the paused clock.
    assert_eq!(started.elapsed(), 4 * SEC);
    let log = captured.text();
    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains("post message failed; retrying"), "{log}");
    assert!(
        log.contains("attempt=1") && log.contains("attempt=2"),
        "{log}"
    );
    assert!(!log.contains("attempt=3"), "{log}");
    assert!(log.contains("error=rate limited #2"), "{log}");
    assert!(log.contains("retry_in=2s"), "{log}");
}

#[tokio::test(start_paused = true)]
async fn backoff_waits_grow_between_attempts() {
    let started = Instant::now();
    let mut waits = Vec::new();
    let mut last = Instant::now();
    let result: Result<(), _> = retry(
        &RetryPolicy {
            max_attempts: Some(6),
            ..policy()
        },
        &CancellationToken::new(),
        "call",
        |_| {
            waits.push(last.elapsed());
            last = Instant::now();
            async { Err(ServiceError::transient("503")) }
        },
    )
    .await;
    let err = result.unwrap_err();
    assert!(
        matches!(err, RetryError::Exhausted { attempts: 6, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "temporary failure: 503 (gave up after 6 attempts)"
    );
    assert_eq!(waits[0], Duration::ZERO);
    let mut prev = Duration::from_millis(100);
    for wait in &waits[1..] {
        assert!(*wait >= Duration::from_millis(100), "{waits:?}");
        assert!(*wait <= prev * 3, "{waits:?}");
        prev = *wait;
    }
    assert_eq!(started.elapsed(), waits.iter().sum::<Duration>());
}

#[tokio::test(start_paused = true)]
async fn permanent_failure_stops_at_once() {
    let started = Instant::now();
    let result: Result<(), _> = retry(&policy(), &CancellationToken::new(), "call", |_| async {
        Err(ServiceError::permanent("404 channel_not_found"))
    })
    .await;
    let err = result.unwrap_err();
    assert!(
        matches!(err, RetryError::GaveUp { attempts: 1, .. }),
        "{err}"
    );
    assert_eq!(
        err.into_last_error(),
        Some(ServiceError::permanent("404 channel_not_found"))
    );
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn time_budget_stops_before_overrunning() {
    let started = Instant::now();
    let result: Result<(), _> = retry(
        &RetryPolicy {
            max_elapsed: Some(10 * SEC),
            ..policy()
        },
        &CancellationToken::new(),
        "call",
        |_| async {
            Err(ServiceError::Transient {
                message: "429".into(),
                retry_after: Some(4 * SEC),
                answered: true,
            })
        },
    )
    .await;
    let err = result.unwrap_err();
    // Attempts at 0 s, 4 s and 8 s; a fourth at 12 s would be past the budget.
    assert!(
        matches!(err, RetryError::Exhausted { attempts: 3, .. }),
        "{err}"
    );
    assert_eq!(started.elapsed(), 8 * SEC);
}

#[tokio::test(start_paused = true)]
async fn long_retry_after_is_capped() {
    let started = Instant::now();
    let mut first = true;
    let result = retry(
        &RetryPolicy {
            max_retry_after: 60 * SEC,
            ..policy()
        },
        &CancellationToken::new(),
        "call",
        |_| {
            let fail = std::mem::replace(&mut first, false);
            async move {
                if fail {
                    Err(ServiceError::Transient {
                        message: "429".into(),
                        retry_after: Some(86_400 * SEC),
                        answered: true,
                    })
                } else {
                    Ok(())
                }
            }
        },
    )
    .await;
    result.unwrap();
    assert_eq!(started.elapsed(), 60 * SEC);
}

#[tokio::test(start_paused = true)]
async fn cancellation_interrupts_the_wait() {
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(5 * SEC).await;
        canceller.cancel();
    });
    let started = Instant::now();
    let result: Result<(), _> = retry(&policy(), &cancel, "call", |_| async {
        Err(ServiceError::Transient {
            message: "503".into(),
            retry_after: Some(60 * SEC),
            answered: true,
        })
    })
    .await;
    let err = result.unwrap_err();
    assert!(
        matches!(
            &err,
            RetryError::Cancelled {
                attempts: 1,
                last_error: Some(ServiceError::Transient { .. })
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "cancelled after 1 attempts; last error: temporary failure: 503"
    );
    assert_eq!(started.elapsed(), 5 * SEC);
}

#[tokio::test(start_paused = true)]
async fn cancellation_abandons_an_attempt_in_progress() {
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(SEC).await;
        canceller.cancel();
    });
    let result: Result<(), RetryError> = retry(&policy(), &cancel, "call", |_| async {
        std::future::pending::<()>().await;
        Ok(())
    })
    .await;
    assert!(matches!(
        result,
        Err(RetryError::Cancelled {
            attempts: 1,
            last_error: None
        })
    ));

    // Already cancelled: no attempt at all.
    let result: Result<(), RetryError> =
        retry(&policy(), &cancel, "call", |_| async { Ok(()) }).await;
    assert!(matches!(
        result,
        Err(RetryError::Cancelled { attempts: 0, .. })
    ));
}

/// The runtime's own client (reqwest here has no TLS provider of its own).
fn client(timeout: Duration) -> reqwest::Client {
    http_client(&HttpClientOptions {
        timeout,
        ..Default::default()
    })
    .unwrap()
}

fn headers(retry_after: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::RETRY_AFTER,
        HeaderValue::from_str(retry_after).unwrap(),
    );
    headers
}

/// The classification alone: `transient(<retry after>)`, `unauthorized` or `permanent`.
fn kind(error: &ServiceError) -> String {
    match error {
        ServiceError::Transient { retry_after, .. } => format!("transient({retry_after:?})"),
        ServiceError::Unauthorized { .. } => "unauthorized".into(),
        ServiceError::Permanent { .. } => "permanent".into(),
    }
}

fn classify(status: u16, headers: &HeaderMap) -> String {
    let status = StatusCode::from_u16(status).unwrap();
    kind(&ServiceError::from_status(status, headers, "call"))
}

#[test]
fn statuses_are_classified() {
    let none = HeaderMap::new();
    assert_eq!(classify(429, &headers("7")), "transient(Some(7s))");
    assert_eq!(classify(429, &none), "transient(None)");
    assert_eq!(classify(503, &headers("120")), "transient(Some(120s))");
    assert_eq!(classify(429, &headers("soon")), "transient(None)");
    for status in [500, 502, 503, 504, 408] {
        assert_eq!(classify(status, &none), "transient(None)", "{status}");
    }
    for status in [401, 403] {
        assert_eq!(classify(status, &none), "unauthorized", "{status}");
    }
    for status in [400, 404, 409, 410, 422] {
        assert_eq!(classify(status, &none), "permanent", "{status}");
    }
}

#[test]
fn retry_after_http_date() {
    let later = httpdate::fmt_http_date(SystemTime::now() + 30 * SEC);
    let error = ServiceError::from_status(StatusCode::TOO_MANY_REQUESTS, &headers(&later), "x");
    let after = error.retry_after().expect("a wait");
    // HTTP dates have whole seconds, so up to one second is lost.
    assert!(after > 28 * SEC && after <= 30 * SEC, "{after:?}");

    let earlier = httpdate::fmt_http_date(SystemTime::now() - 30 * SEC);
    let error = ServiceError::from_status(StatusCode::TOO_MANY_REQUESTS, &headers(&earlier), "x");
    assert_eq!(error.retry_after(), Some(Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn refused_credentials_stop_the_start_up_loop_at_once() {
    let result: Result<(), _> = retry(&policy(), &CancellationToken::new(), "call", |_| async {
        Err(ServiceError::unauthorized("401 invalid token"))
    })
    .await;
    assert!(
        matches!(result, Err(RetryError::GaveUp { attempts: 1, .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn refused_connection_is_retried() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = client(Duration::from_secs(10));
    let err = client
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap_err();
    let error = ServiceError::from_reqwest(&err);
    assert_eq!(kind(&error), "transient(None)");
    assert!(
        error.message().contains("onnection refused"),
        "the cause is kept: {error}"
    );
}

#[tokio::test]
async fn timeout_is_retried_and_bad_url_is_not() {
    // Accepts connections but never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let client = client(Duration::from_millis(300));
    let err = client
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(kind(&ServiceError::from_reqwest(&err)), "transient(None)");
    hold.abort();

    let err = client.get("http://[::1/").send().await.unwrap_err();
    assert_eq!(kind(&ServiceError::from_reqwest(&err)), "permanent");
}

#[tokio::test]
async fn status_errors_use_the_status() {
    // A one-shot HTTP server answering 404 then 503.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        for status in ["404 Not Found", "503 Service Unavailable"] {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            let response =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            socket.write_all(response.as_bytes()).await.unwrap();
        }
    });
    let client = client(Duration::from_secs(10));
    let url = format!("http://{addr}/");
    let err = client
        .get(&url)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap_err();
    assert_eq!(kind(&ServiceError::from_reqwest(&err)), "permanent");
    let err = client
        .get(&url)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap_err();
    assert_eq!(kind(&ServiceError::from_reqwest(&err)), "transient(None)");
}
