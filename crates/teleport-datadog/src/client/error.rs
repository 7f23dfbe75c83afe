//! Why a Datadog call failed — its own codes read from a failed answer (`errors`, the
//! rate-limit headers), everything else as the runtime classifies it — and the one mapping
//! of those failures to the runtime's [`ServiceError`] (retried, retried loudly, or skipped).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use teleport_plugin_runtime::json_api::ApiFailure;
use teleport_plugin_runtime::service_error::{self, ServiceError};

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
    /// Any other failure, as the runtime classifies it (5xx and 408 transient, other 4xx
    /// permanent, no answer by its cause).
    #[error("{}", .0.message())]
    Other(ServiceError),
}

impl DatadogError {
    /// Whether trying again may succeed (the runtime retries these).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unauthorized { .. } | Self::RateLimited { .. } => true,
            Self::MissingPermission | Self::NotFound { .. } => false,
            Self::Other(error) => error.is_retryable(),
        }
    }

    /// A failure asking again will not mend, worded `text`.
    pub(crate) fn permanent(text: impl Into<String>) -> Self {
        Self::Other(ServiceError::permanent(text))
    }
}

/// What the runtime does about a Datadog failure: refused keys and rate limits are retried;
/// a missing permission or incident is not; the rest as the runtime sorts it.
impl From<DatadogError> for ServiceError {
    fn from(error: DatadogError) -> Self {
        let message = error.to_string();
        match error {
            DatadogError::Unauthorized { .. } => ServiceError::Unauthorized { message },
            DatadogError::RateLimited { retry_after } => {
                ServiceError::answered(message, retry_after)
            }
            DatadogError::MissingPermission | DatadogError::NotFound { .. } => {
                ServiceError::Permanent { message }
            }
            DatadogError::Other(error) => error,
        }
    }
}

/// Datadog's own codes, worded with its `errors`; everything else goes to the runtime's
/// classifier.
impl From<ApiFailure> for DatadogError {
    fn from(failure: ApiFailure) -> Self {
        let answer = match failure.into_answer("Datadog") {
            Ok(answer) => answer,
            Err(error) => return Self::Other(error),
        };
        let message = answer.message_by(errors_text);
        match answer.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Self::Unauthorized { message },
            StatusCode::NOT_FOUND => Self::NotFound { message },
            StatusCode::TOO_MANY_REQUESTS => Self::RateLimited {
                retry_after: rate_limit_wait(&answer.headers).map(|d| d.min(MAX_RETRY_AFTER)),
            },
            status => {
                let text = format!("Datadog answered {}: {message}", status.as_u16());
                Self::Other(answer.classify(text))
            }
        }
    }
}

/// The longest pause a rate limit may impose (Datadog's windows are a minute or so).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Datadog's `{"errors": [...]}`, comma-joined; `None` when there are none.
fn errors_text(body: &Value) -> Option<String> {
    let errors = body.get("errors")?.as_array()?;
    let text = errors
        .iter()
        .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
        .collect::<Vec<_>>()
        .join(", ");
    (!text.is_empty()).then_some(text)
}

/// How long a 429 asks to wait: `Retry-After`, else Datadog's own `X-RateLimit-Reset`
/// (seconds until the window resets).
fn rate_limit_wait(headers: &HeaderMap) -> Option<Duration> {
    service_error::retry_after(headers).or_else(|| {
        headers
            .get("X-RateLimit-Reset")?
            .to_str()
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
            .map(Duration::from_secs)
    })
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
        assert!(!answer(400).is_transient());
        assert_eq!(
            ServiceError::from(answer(502)),
            ServiceError::transient("Datadog answered 502: down")
        );
        assert!(matches!(answer(403), DatadogError::Unauthorized { .. }));
    }

    fn answer(status: u16) -> DatadogError {
        let failure =
            ApiFailure::Answer(Box::new(teleport_plugin_runtime::json_api::FailedAnswer {
                status: StatusCode::from_u16(status).unwrap(),
                headers: HeaderMap::new(),
                body: serde_json::json!({ "errors": ["down"] }),
            }));
        DatadogError::from(failure)
    }

    #[test]
    fn rate_limit_wait_reads_retry_after_then_datadogs_reset() {
        let mut headers = HeaderMap::new();
        headers.insert("X-RateLimit-Reset", "7".parse().unwrap());
        assert_eq!(rate_limit_wait(&headers), Some(Duration::from_secs(7)));
        headers.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(rate_limit_wait(&headers), Some(Duration::from_secs(2)));
    }
}
