//! How a failed GitLab call is reported: one error type sorted by what to do about it, read
//! from the status, `Retry-After` and GitLab's error bodies.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use teleport_plugin_runtime::service_error::{FailedAnswer, ServiceError, retry_after_text};

/// Longest piece of an error body kept in an error message.
const MESSAGE_LIMIT: usize = 300;

/// Why a GitLab call failed.
#[derive(Debug, thiserror::Error)]
pub enum GitlabError {
    /// 429: try again after `retry_after` (GitLab's `Retry-After`), or after a backoff.
    #[error("GitLab rate limited the call{}", retry_after_text(*retry_after))]
    RateLimited {
        /// The server's requested wait.
        retry_after: Option<Duration>,
    },
    /// 5xx, connection failure or timeout: worth retrying.
    #[error("transient GitLab failure: {reason}")]
    Transient {
        /// What went wrong.
        reason: String,
        /// The server's requested wait (a 503 may carry one).
        retry_after: Option<Duration>,
    },
    /// 401/403: the token is wrong, expired, lacks the `api` scope, or its user lacks the
    /// role for the call.
    #[error("GitLab refused the token: HTTP {status}: {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// GitLab's message.
        message: String,
    },
    /// 404: the project, issue, hook or member does not exist (or is hidden from the token).
    #[error("not found in GitLab: {message}")]
    NotFound {
        /// GitLab's message.
        message: String,
    },
    /// 409: e.g. `Label already exists`.
    #[error("GitLab refused the call as a conflict: {message}")]
    Conflict {
        /// GitLab's message.
        message: String,
    },
    /// Another 4xx: retrying the same call will not help.
    #[error("GitLab refused the call: HTTP {status}: {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// GitLab's message.
        message: String,
    },
    /// A success answer that cannot be read, or a request that cannot be built.
    #[error("unexpected answer from GitLab: {reason}")]
    Unexpected {
        /// What was wrong with it.
        reason: String,
    },
}

/// GitLab's error text: `message` (a string, or an object of field errors) or `error`.
fn error_message(bytes: &[u8]) -> String {
    let text = match serde_json::from_slice::<Value>(bytes) {
        Ok(body) => match body.get("message").or_else(|| body.get("error")) {
            Some(Value::String(message)) => message.clone(),
            Some(other) => other.to_string(),
            None => body.to_string(),
        },
        Err(_) => String::from_utf8_lossy(bytes).trim().to_owned(),
    };
    text.chars().take(MESSAGE_LIMIT).collect()
}

/// What the runtime does about a GitLab failure: rate limits, 5xx and network trouble are
/// retried; a refused token (401/403: wrong, expired, missing the `api` scope, or its user
/// lacking the role) is retried loudly — people fix it, and nothing may be lost meanwhile;
/// other refusals of this one call are not retried.
impl From<GitlabError> for ServiceError {
    fn from(error: GitlabError) -> Self {
        let message = error.to_string();
        match error {
            GitlabError::RateLimited { retry_after }
            | GitlabError::Transient { retry_after, .. } => ServiceError::Transient {
                message,
                retry_after,
                answered: false,
            },
            GitlabError::Refused { .. } => ServiceError::Unauthorized { message },
            GitlabError::NotFound { .. }
            | GitlabError::Conflict { .. }
            | GitlabError::Api { .. }
            | GitlabError::Unexpected { .. } => ServiceError::Permanent { message },
        }
    }
}

pub(super) fn status_error(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    bytes: &[u8],
) -> GitlabError {
    let message = error_message(bytes);
    match FailedAnswer::of(status, headers) {
        FailedAnswer::RateLimited { retry_after } => GitlabError::RateLimited { retry_after },
        FailedAnswer::Transient { retry_after } => GitlabError::Transient {
            reason: format!("HTTP {status} {message}").trim_end().to_owned(),
            retry_after,
        },
        FailedAnswer::Refused => GitlabError::Refused {
            status: status.as_u16(),
            message,
        },
        FailedAnswer::NotFound => GitlabError::NotFound { message },
        FailedAnswer::Refusal if status == StatusCode::CONFLICT => {
            GitlabError::Conflict { message }
        }
        FailedAnswer::Refusal => GitlabError::Api {
            status: status.as_u16(),
            message,
        },
    }
}

teleport_plugin_runtime::transport_failure!(GitlabError, rate_limited);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_read_in_every_shape() {
        assert_eq!(
            error_message(br#"{"message":"404 Not found"}"#),
            "404 Not found"
        );
        assert_eq!(
            error_message(br#"{"error":"title is missing"}"#),
            "title is missing"
        );
        assert_eq!(
            error_message(br#"{"message":{"color":["must be a valid color code"]}}"#),
            r#"{"color":["must be a valid color code"]}"#
        );
        assert_eq!(error_message(b"Retry later\n"), "Retry later");
    }
}
