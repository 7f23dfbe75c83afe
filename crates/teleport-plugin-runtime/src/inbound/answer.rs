//! The answers a plugin's webhook route gives, worded alike for Jira and GitLab: a short
//! text line, and the two answers to a delivery that could not be processed, chosen by
//! [`failed`] from how its failure is classified.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::service_error::ServiceError;

/// `status` with `text` and a newline as the body.
pub fn answer(status: StatusCode, text: &'static str) -> Response {
    (status, format!("{text}\n")).into_response()
}

/// 503 for a delivery that may be processed later: the sender may deliver it again, after
/// `retry_after` (whole seconds, at least one) when known.
pub fn try_again_later(retry_after: Option<Duration>) -> Response {
    let mut response = answer(StatusCode::SERVICE_UNAVAILABLE, "try again later");
    if let Some(after) = retry_after {
        let seconds = after.as_secs().max(1).to_string();
        if let Ok(value) = HeaderValue::from_str(&seconds) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

/// 500 for a delivery that will never be processed.
pub fn cannot_process() -> Response {
    answer(
        StatusCode::INTERNAL_SERVER_ERROR,
        "cannot process the webhook",
    )
}

/// A failure to act on an issue seen by webhook or by polling (Jira's and GitLab's).
pub trait SeenFailure: std::fmt::Display {
    /// Whether seeing the issue again later may succeed.
    fn is_transient(&self) -> bool;

    /// How long to wait before trying again, when known.
    fn retry_after(&self) -> Option<Duration>;

    /// As the runtime classifies it: transient, with its wait, or permanent.
    fn service_error(&self) -> ServiceError {
        if self.is_transient() {
            ServiceError::Transient {
                message: self.to_string(),
                retry_after: self.retry_after(),
                answered: false,
            }
        } else {
            ServiceError::permanent(self.to_string())
        }
    }
}

/// The answer to a delivery whose processing failed, logged: one that may pass is
/// [`try_again_later`] — the sender may deliver it again, and polling, when on, sees it —,
/// another [`cannot_process`].
pub fn failed(error: &impl SeenFailure) -> Response {
    if error.is_transient() {
        tracing::warn!(%error, "webhook not processed now; it may be delivered again, and polling (when on) will see it");
        return try_again_later(error.retry_after());
    }
    tracing::error!(%error, "webhook could not be processed");
    cannot_process()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_is_given_in_whole_seconds_of_at_least_one() {
        let later = try_again_later(Some(Duration::from_millis(300)));
        assert_eq!(later.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(later.headers()[header::RETRY_AFTER], "1");
        let later = try_again_later(None);
        assert!(later.headers().get(header::RETRY_AFTER).is_none());
        assert_eq!(cannot_process().status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
