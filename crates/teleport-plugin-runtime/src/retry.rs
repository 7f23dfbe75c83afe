//! The shared "nothing lost" send policy: backoff, retry classification and the retry loop.
//!
//! A call to a target API (post a message, create an incident) that fails for a reason that
//! may go away (rate limiting, a 5xx, a refused connection, a timeout) is retried with
//! decorrelated-jitter backoff, or after the server's `Retry-After`, until it succeeds, the
//! policy's budget runs out, or the process shuts down. A failure that will not go away (other
//! 4xx) stops at once. Retrying a request that timed out may deliver it twice; the plugins
//! prefer a duplicate message to a lost one.

use std::fmt;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};
use rand::Rng;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Decorrelated-jitter backoff: each delay is random in `[base, 3 × previous delay]`, never
/// more than `cap`. Spreads retries of many clients apart while still growing quickly.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    prev: Duration,
}

impl Backoff {
    /// A backoff starting at `base` and never exceeding `cap` (a `cap` below `base` is raised
    /// to `base`).
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap: cap.max(base),
            prev: base,
        }
    }

    /// The next delay, using the thread's random generator.
    pub fn next_delay(&mut self) -> Duration {
        self.next_delay_with(&mut rand::rng())
    }

    /// The next delay, using `rng` (for reproducible tests).
    pub fn next_delay_with<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Duration {
        let upper = self.prev.saturating_mul(3).min(self.cap);
        let delay = if upper > self.base {
            rng.random_range(self.base..=upper)
        } else {
            self.base
        };
        self.prev = delay;
        delay
    }

    /// Starts over from `base` (after a success).
    pub fn reset(&mut self) {
        self.prev = self.base;
    }
}

/// What to do about a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again: after `after` when the server said so (`Retry-After`), else after the backoff.
    Retry {
        /// The server's requested wait.
        after: Option<Duration>,
    },
    /// Do not try again; the failure is permanent.
    GiveUp,
}

/// Classifies an HTTP response that is not a success:
/// 429 and 503 retry after `Retry-After` when given; 408 and every other 5xx retry with backoff;
/// every other status (4xx: bad request, unauthorized, not found...) gives up.
pub fn classify_status(status: StatusCode, headers: &HeaderMap) -> RetryDecision {
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        RetryDecision::Retry {
            after: retry_after(headers),
        }
    } else if status == StatusCode::REQUEST_TIMEOUT {
        RetryDecision::Retry { after: None }
    } else {
        RetryDecision::GiveUp
    }
}

/// The `Retry-After` header as a wait: delay-seconds, or an HTTP-date (a date in the past is
/// no wait). `None` when absent or unreadable.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Classifies a reqwest error: a status error by [`classify_status`] (without headers),
/// connection failures, timeouts and connections dropped mid-request retry, anything else
/// (a bad URL, an unreadable body, a redirect loop) gives up.
pub fn classify_reqwest_error(error: &reqwest::Error) -> RetryDecision {
    if let Some(status) = error.status() {
        return classify_status(status, &HeaderMap::new());
    }
    if error.is_connect() || error.is_timeout() || dropped_connection(error) {
        RetryDecision::Retry { after: None }
    } else {
        RetryDecision::GiveUp
    }
}

/// A pooled connection that the server closed, or a reset, surfaces as an I/O error deep in
/// the chain rather than as a connect error.
fn dropped_connection(error: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind;
    let mut source = error.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// A failed attempt: the error and what to do about it.
#[derive(Debug)]
pub struct Failure<E> {
    /// What went wrong.
    pub error: E,
    /// Whether to try again.
    pub decision: RetryDecision,
}

impl<E> Failure<E> {
    /// A failure with an explicit decision.
    pub fn new(error: E, decision: RetryDecision) -> Self {
        Self { error, decision }
    }

    /// A transient failure, retried after the backoff.
    pub fn retry(error: E) -> Self {
        Self::new(error, RetryDecision::Retry { after: None })
    }

    /// A transient failure, retried after `after` when given (e.g. from [`retry_after`]).
    pub fn retry_after(error: E, after: Option<Duration>) -> Self {
        Self::new(error, RetryDecision::Retry { after })
    }

    /// A permanent failure.
    pub fn give_up(error: E) -> Self {
        Self::new(error, RetryDecision::GiveUp)
    }
}

impl From<reqwest::Error> for Failure<reqwest::Error> {
    fn from(error: reqwest::Error) -> Self {
        let decision = classify_reqwest_error(&error);
        Self { error, decision }
    }
}

/// How long and how often to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// The first backoff delay. Default 500 ms.
    pub base: Duration,
    /// The longest backoff delay. Default 30 s.
    pub cap: Duration,
    /// Stop after this many attempts in total; `None` = no limit. Default none.
    pub max_attempts: Option<u32>,
    /// Stop when the next wait would end more than this long after the first attempt began;
    /// `None` = no limit (only cancellation stops it). Default none.
    pub max_elapsed: Option<Duration>,
    /// The longest `Retry-After` honoured as given; longer requests wait this long. Default 5 min.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_attempts: None,
            max_elapsed: None,
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// Why [`retry`] returned without a result.
#[derive(Debug, thiserror::Error)]
pub enum RetryError<E: fmt::Display> {
    /// An attempt failed permanently.
    #[error("{error}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The permanent error.
        error: E,
    },
    /// The attempts or the time allowed by the policy ran out.
    #[error("{error} (gave up after {attempts} attempts)")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        error: E,
    },
    /// The cancellation token fired (shutdown).
    #[error("cancelled after {attempts} attempts{}", last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default())]
    Cancelled {
        /// Attempts started.
        attempts: u32,
        /// The last error, if an attempt had failed.
        last_error: Option<E>,
    },
}

impl<E: fmt::Display> RetryError<E> {
    /// The last attempt's error, if there was one.
    pub fn into_last_error(self) -> Option<E> {
        match self {
            Self::GaveUp { error, .. } | Self::Exhausted { error, .. } => Some(error),
            Self::Cancelled { last_error, .. } => last_error,
        }
    }

    /// How many attempts were made.
    pub fn attempts(&self) -> u32 {
        match self {
            Self::GaveUp { attempts, .. }
            | Self::Exhausted { attempts, .. }
            | Self::Cancelled { attempts, .. } => *attempts,
        }
    }
}

/// Runs `op` (given the 1-based attempt number) until it succeeds, fails permanently, the
/// policy's budget runs out, or `cancel` fires. Cancellation also abandons an attempt in
/// progress. Each retry is logged at WARN with `what`, the attempt number, the wait and the
/// error.
pub async fn retry<T, E, F, Fut>(
    policy: &RetryPolicy,
    cancel: &CancellationToken,
    what: &str,
    mut op: F,
) -> Result<T, RetryError<E>>
where
    E: fmt::Display,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Failure<E>>>,
{
    let started = Instant::now();
    let mut backoff = Backoff::new(policy.base, policy.cap);
    let mut attempt = 0;
    let mut last_error = None;
    loop {
        if cancel.is_cancelled() {
            return Err(RetryError::Cancelled {
                attempts: attempt,
                last_error,
            });
        }
        attempt += 1;
        let outcome = tokio::select! {
            biased;
            () = cancel.cancelled() => {
                return Err(RetryError::Cancelled { attempts: attempt, last_error });
            }
            outcome = op(attempt) => outcome,
        };
        let Failure { error, decision } = match outcome {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        let after = match decision {
            RetryDecision::GiveUp => {
                return Err(RetryError::GaveUp {
                    attempts: attempt,
                    error,
                });
            }
            RetryDecision::Retry { after } => after,
        };
        if policy.max_attempts.is_some_and(|max| attempt >= max) {
            return Err(RetryError::Exhausted {
                attempts: attempt,
                error,
            });
        }
        let wait = match after {
            Some(after) => after.min(policy.max_retry_after),
            None => backoff.next_delay(),
        };
        if policy
            .max_elapsed
            .is_some_and(|max| started.elapsed() + wait > max)
        {
            return Err(RetryError::Exhausted {
                attempts: attempt,
                error,
            });
        }
        tracing::warn!(
            attempt,
            retry_in = ?wait,
            error = %error,
            "{what} failed; retrying"
        );
        last_error = Some(error);
        tokio::select! {
            biased;
            () = cancel.cancelled() => {
                return Err(RetryError::Cancelled { attempts: attempt, last_error });
            }
            () = tokio::time::sleep(wait) => {}
        }
    }
}
