//! The start-up retry loop: a call to the plugin's service retried while it fails
//! transiently, within a budget of attempts and time, until the process shuts down.
//!
//! Failures are classified once, by [`ServiceError`]; the waits are Teleport's
//! decorrelated-jitter backoff, or the service's `Retry-After`. Work on access requests does
//! not use this loop: the dispatcher retries a whole handling step (see `dispatch`).

use std::time::Duration;

use teleport_client::backoff::DecorrelatedJitter;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::service_error::ServiceError;

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
pub enum RetryError {
    /// An attempt failed in a way that retrying will not mend (permanent, or refused
    /// credentials: at start-up those are a configuration error to report at once).
    #[error("{error}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        error: ServiceError,
    },
    /// The attempts or the time allowed by the policy ran out.
    #[error("{error} (gave up after {attempts} attempts)")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        error: ServiceError,
    },
    /// The cancellation token fired (shutdown).
    #[error("cancelled after {attempts} attempts{}", last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default())]
    Cancelled {
        /// Attempts started.
        attempts: u32,
        /// The last error, if an attempt had failed.
        last_error: Option<ServiceError>,
    },
}

impl RetryError {
    /// The last attempt's error, if there was one.
    pub fn into_last_error(self) -> Option<ServiceError> {
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

/// Runs `op` (given the 1-based attempt number) until it succeeds, fails other than
/// transiently, the policy's budget runs out, or `cancel` fires. Cancellation also abandons an
/// attempt in progress. Each retry is logged at WARN with `what`, the attempt number, the wait
/// and the error.
pub async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    cancel: &CancellationToken,
    what: &str,
    mut op: F,
) -> Result<T, RetryError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, ServiceError>>,
{
    let started = Instant::now();
    let mut backoff = DecorrelatedJitter::new(policy.base, policy.cap);
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
        let error = match outcome {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let after = match &error {
            ServiceError::Transient { retry_after, .. } => *retry_after,
            ServiceError::Unauthorized { .. } | ServiceError::Permanent { .. } => {
                return Err(RetryError::GaveUp {
                    attempts: attempt,
                    error,
                });
            }
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
            error = %error.message(),
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
