//! The periodic poll driver: asks an outside system for recent decisions every interval
//! (with jitter), backs off while it fails, honours its `Retry-After`, and stops on the stop
//! token.
//!
//! Nothing is lost while the system is down because a poll is bounded by "recently
//! updated", never by a cursor that would move past a failure: the driver tells each poll
//! how far back to look ([`PollWindow`]), from the start of the last poll that succeeded,
//! so the next successful poll sees again whatever the failed ones missed.

use std::future::Future;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use teleport_client::backoff::DecorrelatedJitter;

use crate::service_error::ServiceError;

/// How often and how patiently to poll.
#[derive(Clone, Debug)]
pub struct PollOptions {
    /// Time between polls.
    pub interval: Duration,
    /// Each wait is the interval ± up to this fraction of it (0.0–0.5), so replicas spread.
    pub jitter: f64,
    /// How far the first poll looks back (the process may have been down).
    pub first_lookback: Duration,
    /// The least any poll looks back, whatever the interval.
    pub min_lookback: Duration,
    /// The most any poll looks back (after a long outage).
    pub max_lookback: Duration,
    /// Backoff after failures: first delay.
    pub backoff_base: Duration,
    /// Backoff after failures: longest delay.
    pub backoff_cap: Duration,
    /// The longest `Retry-After` honoured as given.
    pub max_retry_after: Duration,
}

impl PollOptions {
    /// Defaults around `interval`: look back at least 10 minutes and twice the interval,
    /// a day on the first poll, a week at most; back off from the interval up to 10 minutes.
    pub fn every(interval: Duration) -> Self {
        let interval = interval.max(Duration::from_millis(10));
        Self {
            interval,
            jitter: 0.1,
            first_lookback: Duration::from_secs(24 * 3600),
            min_lookback: (interval * 2).max(Duration::from_secs(600)),
            max_lookback: Duration::from_secs(7 * 24 * 3600),
            backoff_base: interval,
            backoff_cap: Duration::from_secs(600).max(interval),
            max_retry_after: Duration::from_secs(600),
        }
    }
}

/// How far back one poll must look: everything updated since `since` (rounded up to whole
/// minutes by callers whose query language counts in minutes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollWindow {
    /// Look at everything changed since then.
    pub since: SystemTime,
    /// `now - since` when the window was made.
    pub lookback: Duration,
}

/// One poll: find and apply recent decisions. A failure says, by its class, whether and
/// when to retry.
pub trait Poller: Send + Sync {
    /// Polls once over `window`; returns how many decisions it applied.
    fn poll(&self, window: PollWindow) -> impl Future<Output = Result<usize, ServiceError>> + Send;
}

/// The failure a poll reports after trying each decision it found: of those that may pass,
/// the one with the longest wait, which decides when the next poll runs.
#[derive(Debug, Default)]
pub struct LongestWait(Option<ServiceError>);

impl LongestWait {
    /// One more decision that may pass later.
    pub fn note(&mut self, failure: ServiceError) {
        if self
            .0
            .as_ref()
            .is_none_or(|kept| kept.retry_after() < failure.retry_after())
        {
            self.0 = Some(failure);
        }
    }

    /// The poll's result: `applied`, or the failure kept.
    pub fn result(self, applied: usize) -> Result<usize, ServiceError> {
        match self.0 {
            Some(failure) => Err(failure),
            None => Ok(applied),
        }
    }
}

/// The window for a poll starting `now`, given when the last successful poll started.
pub fn window(
    options: &PollOptions,
    last_success: Option<SystemTime>,
    now: SystemTime,
) -> PollWindow {
    let wanted = match last_success {
        None => options.first_lookback,
        // Margin for clocks and for changes that the upstream indexes late.
        Some(at) => now.duration_since(at).unwrap_or_default() + options.interval,
    };
    let lookback = wanted.clamp(
        options.min_lookback,
        options.max_lookback.max(options.min_lookback),
    );
    PollWindow {
        since: now.checked_sub(lookback).unwrap_or(SystemTime::UNIX_EPOCH),
        lookback,
    }
}

fn jittered(interval: Duration, jitter: f64) -> Duration {
    let jitter = jitter.clamp(0.0, 0.5);
    if jitter == 0.0 {
        return interval;
    }
    let factor = 1.0 + rand::random_range(-jitter..=jitter);
    interval.mul_f64(factor)
}

/// Polls until `stop` fires: the first poll at once, then every interval (jittered); after
/// a failure, after the backoff or the upstream's `Retry-After`, whichever is longer.
pub async fn run_poller<P: Poller>(poller: &P, options: &PollOptions, stop: &CancellationToken) {
    let mut backoff = DecorrelatedJitter::new(options.backoff_base, options.backoff_cap);
    let mut last_success: Option<SystemTime> = None;
    let mut failures = 0u32;
    loop {
        let started = SystemTime::now();
        let window = window(options, last_success, started);
        let outcome = tokio::select! {
            outcome = poller.poll(window) => outcome,
            () = stop.cancelled() => return,
        };
        let wait = match outcome {
            Ok(applied) => {
                if failures > 0 {
                    tracing::info!(failures, "polling works again");
                }
                failures = 0;
                backoff.reset();
                last_success = Some(started);
                tracing::debug!(applied, lookback = ?window.lookback, "poll done");
                jittered(options.interval, options.jitter)
            }
            Err(error) => {
                failures += 1;
                let wait = match &error {
                    ServiceError::Transient { retry_after, .. } => {
                        let after = retry_after.map(|a| a.min(options.max_retry_after));
                        backoff.next_delay().max(after.unwrap_or_default())
                    }
                    // Refused credentials or a permanent failure (a JQL error) are logged
                    // loudly but polling goes on: the operator may fix the upstream side
                    // meanwhile, and nothing decided in between is lost.
                    ServiceError::Unauthorized { .. } | ServiceError::Permanent { .. } => {
                        options.backoff_cap
                    }
                };
                if error.is_retryable() && !matches!(error, ServiceError::Unauthorized { .. }) {
                    tracing::warn!(%error, failures, retry_in = ?wait, "poll failed; decisions made meanwhile are picked up by the next poll that works");
                } else {
                    tracing::error!(%error, failures, retry_in = ?wait, "poll refused; decisions made meanwhile are picked up by the next poll that works");
                }
                wait
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_covers_everything_since_the_last_success() {
        let options = PollOptions::every(Duration::from_secs(30));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000_000);
        let first = window(&options, None, now);
        assert_eq!(first.lookback, Duration::from_secs(24 * 3600));
        assert_eq!(first.since, now - first.lookback);

        let recent = window(&options, Some(now - Duration::from_secs(30)), now);
        assert_eq!(
            recent.lookback,
            Duration::from_secs(600),
            "at least the minimum"
        );

        let after_outage = window(&options, Some(now - Duration::from_secs(3 * 3600)), now);
        assert_eq!(after_outage.lookback, Duration::from_secs(3 * 3600 + 30));

        let after_long_outage = window(
            &options,
            Some(now - Duration::from_secs(30 * 24 * 3600)),
            now,
        );
        assert_eq!(after_long_outage.lookback, options.max_lookback);
    }

    #[test]
    fn jitter_stays_in_bounds() {
        let interval = Duration::from_secs(10);
        for _ in 0..200 {
            let wait = jittered(interval, 0.1);
            assert!(
                wait >= Duration::from_secs(9) && wait <= Duration::from_secs(11),
                "{wait:?}"
            );
        }
        assert_eq!(jittered(interval, 0.0), interval);
    }
}
