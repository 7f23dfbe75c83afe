//! Why a Datadog call failed, and the one mapping of those failures to the runtime's
//! [`ServiceError`] (retried, retried loudly, or skipped).

use std::time::Duration;

use teleport_plugin_runtime::service_error::ServiceError;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum DatadogError {
    /// 401 or 403: Datadog refuses a wrong API or application key with 403.
    #[error("Datadog refused the call ({message}); check [datadog] api_key and application_key")]
    Unauthorized {
        /// Datadog's errors.
        message: String,
    },
    /// The application key's role may not write incidents.
    #[error(
        "the Datadog application key lacks the incident_write permission; grant it to the key's user or service account"
    )]
    MissingPermission,
    /// 404.
    #[error("not found: {message}")]
    NotFound {
        /// Datadog's errors.
        message: String,
    },
    /// 429.
    #[error("rate limited by Datadog")]
    RateLimited {
        /// How long to wait, when Datadog said.
        retry_after: Option<Duration>,
    },
    /// 5xx, or 408.
    #[error("Datadog server error {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Datadog's errors.
        message: String,
    },
    /// Another 4xx (400 invalid body, ...).
    #[error("Datadog refused the call with {status}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Datadog's errors.
        message: String,
    },
    /// Datadog could not be reached, did not answer in time, or the answer could not be read.
    #[error("cannot reach Datadog: {0}")]
    Network(String),
    /// The answer was not what the API documents.
    #[error("unexpected answer from Datadog: {0}")]
    Decode(String),
}

impl DatadogError {
    /// Whether trying again may succeed (the runtime retries these).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unauthorized { .. }
                | Self::RateLimited { .. }
                | Self::Server { .. }
                | Self::Network(_)
        )
    }
}

/// What the runtime does about a Datadog failure: refused keys, rate limits, server errors
/// and network trouble are retried; other refusals of this one call are not.
impl From<DatadogError> for ServiceError {
    fn from(error: DatadogError) -> Self {
        let message = error.to_string();
        match error {
            DatadogError::Unauthorized { .. } => ServiceError::Unauthorized { message },
            DatadogError::RateLimited { retry_after } => ServiceError::Transient {
                message,
                retry_after,
            },
            DatadogError::Server { .. } | DatadogError::Network(_) => {
                ServiceError::transient(message)
            }
            DatadogError::MissingPermission
            | DatadogError::NotFound { .. }
            | DatadogError::Refused { .. }
            | DatadogError::Decode(_) => ServiceError::Permanent { message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(matches!(
            ServiceError::from(DatadogError::Unauthorized {
                message: String::new()
            }),
            ServiceError::Unauthorized { .. }
        ));
        assert!(matches!(
            ServiceError::from(DatadogError::MissingPermission),
            ServiceError::Permanent { .. }
        ));
        assert!(matches!(
            ServiceError::from(DatadogError::RateLimited {
                retry_after: Some(Duration::from_secs(1))
            }),
            ServiceError::Transient {
                retry_after: Some(_),
                ..
            }
        ));
        assert!(
            !DatadogError::Refused {
                status: 400,
                message: String::new()
            }
            .is_transient()
        );
    }
}
