//! The start-up health check every integration has: "can I reach my service with these
//! credentials?", asked once by the runtime after Teleport answered, retried within one
//! start-up budget while the service fails transiently.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::retry::{RetryError, RetryPolicy, retry};
use crate::service_error::ServiceError;

/// How long start-up keeps retrying a service that fails transiently.
pub const STARTUP_CHECK_BUDGET: Duration = Duration::from_secs(30);

/// What an integration's start-up check needs.
pub trait HealthCheck: Send + Sync {
    /// The service's name in logs and errors (`Slack API`, `SMTP server`).
    fn service_name(&self) -> &'static str;

    /// Checks once that the service answers and takes the plugin's credentials (and whatever
    /// else the plugin cannot work without); logs what it found. A transient error is
    /// retried within [`STARTUP_CHECK_BUDGET`]; any other ends start-up.
    fn check_health(&self) -> impl Future<Output = Result<(), ServiceError>> + Send;
}

/// Why the start-up check failed.
#[derive(Debug, thiserror::Error)]
#[error("{service} health check failed: {}", what(error))]
pub struct HealthCheckError {
    /// The service checked.
    pub service: &'static str,
    /// The last failure.
    pub error: ServiceError,
}

/// The failure as an operator reads it: refused credentials say so, other failures are
/// their message alone (the runtime has already retried what was transient).
fn what(error: &ServiceError) -> String {
    match error {
        ServiceError::Unauthorized { message } => format!("credentials refused: {message}"),
        other => other.message().to_owned(),
    }
}

/// Runs `service`'s health check until it passes, fails other than transiently, the budget
/// runs out, or `stop` fires. `Ok(false)` when stopped before it passed.
pub async fn check_at_start<H: HealthCheck>(
    service: &H,
    stop: &CancellationToken,
) -> Result<bool, HealthCheckError> {
    let policy = RetryPolicy {
        base: Duration::from_millis(200),
        cap: Duration::from_secs(5),
        max_elapsed: Some(STARTUP_CHECK_BUDGET),
        ..RetryPolicy::default()
    };
    let what = format!("{} health check", service.service_name());
    match retry(&policy, stop, &what, |_| service.check_health()).await {
        Ok(()) => Ok(true),
        Err(RetryError::Cancelled { .. }) => Ok(false),
        Err(error) => Err(HealthCheckError {
            service: service.service_name(),
            error: error
                .into_last_error()
                .unwrap_or_else(|| ServiceError::transient("no answer")),
        }),
    }
}

/// The [`HealthCheck`] of a service whose check is one API call: `health_check!(Opsgenie,
/// "Opsgenie API", |service| service.api.ping(), "Opsgenie API key works")` names the
/// service, makes the call (its error converted into a [`ServiceError`]) and logs the
/// message once it passed.
#[macro_export]
macro_rules! health_check {
    ($service:ty, $name:literal, |$this:ident| $call:expr, $passed:literal) => {
        impl $crate::health::HealthCheck for $service {
            fn service_name(&self) -> &'static str {
                $name
            }

            async fn check_health(&self) -> Result<(), $crate::service_error::ServiceError> {
                let $this = self;
                $call.await?;
                ::tracing::info!($passed);
                Ok(())
            }
        }
    };
}
