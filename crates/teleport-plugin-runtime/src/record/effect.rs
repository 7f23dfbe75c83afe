//! Side effects under a claim: the send policy every handler shares.
//!
//! Before each side effect the previous one's outcome is written and the lease renewed when
//! it runs low ([`Claim::before_effect`]); a service that asked to slow down pauses every
//! send of the plugin (see [`SendPause`]), short waits are taken in place holding the lease;
//! every send is counted by kind; transient failures and refused credentials end the step
//! (retried by the dispatcher), and only permanent failures are left for the caller to
//! record and skip.

use std::time::Duration;

use super::pause::{MAX_WAIT_IN_PLACE, SendPause};
use super::{Claim, RecordCodec, StepError};
use crate::dispatch::Outcome;
use crate::metrics::Metrics;
use crate::service_error::ServiceError;

/// Refusals with a short `Retry-After` waited out in place, per send, before the request
/// is given back to the dispatcher.
pub(crate) const MAX_TRIES_IN_PLACE: usize = 5;

/// The send policy of one handler (shared by all its requests).
pub struct Effects {
    pause: SendPause,
    metrics: Metrics,
}

/// A permanent failure of one side effect: it will never succeed; record it and go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permanent(pub String);

impl std::fmt::Display for Permanent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Effects {
    /// A policy counting sends in `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        Self {
            pause: SendPause::default(),
            metrics,
        }
    }

    /// While a long pause asked for by the service lasts, the outcome to return at once,
    /// before any Teleport call: there is no point claiming a request that cannot be sent.
    pub fn paused(&self) -> Option<Outcome> {
        self.pause
            .remaining()
            .filter(|left| *left > MAX_WAIT_IN_PLACE)
            .map(|left| Outcome::Retry(Some(left)))
    }

    /// Pauses every send for `delay` (as a refusal with that `Retry-After` would).
    pub fn pause_for(&self, delay: Duration) {
        self.pause.pause_for(delay);
    }

    /// Runs one side effect `send` of `kind` (a metric label: `request`, `review`, `note`,
    /// ...) on the claimed request: waits out a pause the service asked for, makes sure the
    /// previous outcome is recorded and the lease has time left, tries again in place while
    /// the service asks for short waits, and counts the result.
    ///
    /// `Ok(Ok(value))` on success; `Ok(Err(Permanent))` when this effect can never succeed
    /// (the caller logs, records and skips it); `Err` ends the step: Teleport failed, the
    /// lease was lost, or the service failed transiently or refused the credentials (logged
    /// here, retried by the dispatcher).
    pub async fn run<C, T, F>(
        &self,
        claim: &mut Claim<'_, C>,
        kind: &'static str,
        send: impl Fn() -> F,
    ) -> Result<Result<T, Permanent>, StepError>
    where
        C: RecordCodec,
        F: Future<Output = Result<T, ServiceError>>,
    {
        let mut tries = 1;
        loop {
            if let Err(left) = self.pause.wait(MAX_WAIT_IN_PLACE).await {
                return Err(StepError::Service(ServiceError::answered(
                    "the service asked to slow down",
                    Some(left),
                )));
            }
            claim.before_effect().await?;
            let error = match send().await {
                Ok(value) => {
                    self.metrics.sent(kind);
                    return Ok(Ok(value));
                }
                Err(error) => error,
            };
            self.metrics.send_failed(kind);
            match error {
                ServiceError::Permanent { message } => return Ok(Err(Permanent(message))),
                ServiceError::Unauthorized { message } => {
                    self.metrics.auth_failures.inc();
                    tracing::error!(kind, error = %message, "the service refused the plugin's credentials; will retry (check the token in the config)");
                    return Err(StepError::Service(ServiceError::Unauthorized { message }));
                }
                ServiceError::Transient {
                    message,
                    retry_after: Some(delay),
                    ..
                } if delay <= MAX_WAIT_IN_PLACE && tries < MAX_TRIES_IN_PLACE => {
                    self.pause.pause_for(delay);
                    tries += 1;
                    tracing::debug!(kind, error = %message, ?delay, "rate limited; waiting before trying again");
                }
                ServiceError::Transient {
                    message,
                    retry_after,
                    answered,
                } => {
                    if let Some(delay) = retry_after {
                        self.pause.pause_for(delay);
                    }
                    tracing::warn!(kind, error = %message, ?retry_after, "sending failed; will retry");
                    return Err(StepError::Service(ServiceError::Transient {
                        message,
                        retry_after,
                        answered,
                    }));
                }
            }
        }
    }
}
