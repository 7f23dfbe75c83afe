//! The retry policy on tokio's paused clock, and error classification against real sockets.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, StatusCode};
use rand::SeedableRng;
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
use teleport_plugin_runtime::retry::{
    Backoff, Failure, RetryDecision, RetryError, RetryPolicy, classify_reqwest_error,
    classify_status, retry,
};
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

#[test]
fn backoff_stays_within_decorrelated_bounds() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let base = Duration::from_millis(100);
    let cap = Duration::from_secs(5);
    let mut backoff = Backoff::new(base, cap);
    let mut prev = base;
    let mut reached_cap = false;
    for _ in 0..200 {
        let delay = backoff.next_delay_with(&mut rng);
        assert!(delay >= base, "{delay:?}");
        assert!(delay <= (prev * 3).min(cap), "{delay:?} after {prev:?}");
        reached_cap |= delay > cap / 2;
        prev = delay;
    }
    assert!(reached_cap, "the delays should grow towards the cap");
    backoff.reset();
    assert!(backoff.next_delay_with(&mut rng) <= base * 3);
}

#[test]
fn backoff_with_cap_below_base_uses_base() {
    let mut backoff = Backoff::new(SEC, Duration::from_millis(1));
    assert_eq!(backoff.next_delay(), SEC);
    assert_eq!(backoff.next_delay(), SEC);
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
                    Err(Failure::retry_after(
                        format!("rate limited #{attempt}"),
                        Some(2 * SEC),
                    ))
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
            async { Err(Failure::retry("503")) }
        },
    )
    .await;
    let err = result.unwrap_err();
    assert!(
        matches!(err, RetryError::Exhausted { attempts: 6, .. }),
        "{err}"
    );
    assert_eq!(err.to_string(), "503 (gave up after 6 attempts)");
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
        Err(Failure::give_up("404 channel_not_found"))
    })
    .await;
    let err = result.unwrap_err();
    assert!(
        matches!(err, RetryError::GaveUp { attempts: 1, .. }),
        "{err}"
    );
    assert_eq!(err.into_last_error(), Some("404 channel_not_found"));
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
        |_| async { Err(Failure::retry_after("429", Some(4 * SEC))) },
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
                    Err(Failure::retry_after("429", Some(86_400 * SEC)))
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
        Err(Failure::retry_after("503", Some(60 * SEC)))
    })
    .await;
    let err = result.unwrap_err();
    assert!(
        matches!(
            &err,
            RetryError::Cancelled {
                attempts: 1,
                last_error: Some("503")
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "cancelled after 1 attempts; last error: 503"
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
    let result: Result<(), RetryError<String>> = retry(&policy(), &cancel, "call", |_| async {
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
    let result: Result<(), RetryError<String>> =
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

#[test]
fn statuses_are_classified() {
    let none = HeaderMap::new();
    let retry = |after| RetryDecision::Retry { after };
    assert_eq!(
        classify_status(StatusCode::TOO_MANY_REQUESTS, &headers("7")),
        retry(Some(7 * SEC))
    );
    assert_eq!(
        classify_status(StatusCode::TOO_MANY_REQUESTS, &none),
        retry(None)
    );
    assert_eq!(
        classify_status(StatusCode::SERVICE_UNAVAILABLE, &headers("120")),
        retry(Some(120 * SEC))
    );
    assert_eq!(
        classify_status(StatusCode::TOO_MANY_REQUESTS, &headers("soon")),
        retry(None)
    );
    for status in [500, 502, 503, 504, 408] {
        assert_eq!(
            classify_status(StatusCode::from_u16(status).unwrap(), &none),
            retry(None),
            "{status}"
        );
    }
    for status in [400, 401, 403, 404, 409, 410, 422] {
        assert_eq!(
            classify_status(StatusCode::from_u16(status).unwrap(), &none),
            RetryDecision::GiveUp,
            "{status}"
        );
    }
}

#[test]
fn retry_after_http_date() {
    let later = httpdate::fmt_http_date(SystemTime::now() + 30 * SEC);
    let RetryDecision::Retry { after: Some(after) } =
        classify_status(StatusCode::TOO_MANY_REQUESTS, &headers(&later))
    else {
        panic!("expected a retry with a wait")
    };
    // HTTP dates have whole seconds, so up to one second is lost.
    assert!(after > 28 * SEC && after <= 30 * SEC, "{after:?}");

    let earlier = httpdate::fmt_http_date(SystemTime::now() - 30 * SEC);
    assert_eq!(
        classify_status(StatusCode::TOO_MANY_REQUESTS, &headers(&earlier)),
        RetryDecision::Retry {
            after: Some(Duration::ZERO)
        }
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
    assert_eq!(
        classify_reqwest_error(&err),
        RetryDecision::Retry { after: None }
    );
    let failure: Failure<reqwest::Error> = err.into();
    assert_eq!(failure.decision, RetryDecision::Retry { after: None });
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
    assert_eq!(
        classify_reqwest_error(&err),
        RetryDecision::Retry { after: None }
    );
    hold.abort();

    let err = client.get("http://[::1/").send().await.unwrap_err();
    assert_eq!(classify_reqwest_error(&err), RetryDecision::GiveUp);
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
    assert_eq!(classify_reqwest_error(&err), RetryDecision::GiveUp);
    let err = client
        .get(&url)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap_err();
    assert_eq!(
        classify_reqwest_error(&err),
        RetryDecision::Retry { after: None }
    );
}
