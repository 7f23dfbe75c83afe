//! The one classification of a failed call to a plugin's service (Slack, PagerDuty, an SMTP
//! server, ...): what the runtime should do about it.
//!
//! Every API client maps its failures to a [`ServiceError`]; HTTP clients use
//! [`ServiceError::from_status`] and [`ServiceError::from_reqwest`] and map only the codes their
//! API adds (Slack's `ok: false` codes, say). The runtime then treats every plugin alike:
//!
//! * **Transient** (429, 5xx, 408, refused or dropped connections, timeouts): retried, after the
//!   service's `Retry-After` when it gave one. Nothing is lost.
//! * **Unauthorized** (401, 403, a revoked token): retried too, but loudly — an error log line
//!   and the `teleport_plugin_auth_failures` metric on every refusal. Giving up would lose every
//!   message until a restart, and an operator who rotates a token must see at once that the
//!   plugin still holds the old one; once the token works again the backlog is delivered.
//! * **Permanent** (any other 4xx, an unknown channel, a bad address): this one call will never
//!   succeed; it is logged, recorded and skipped.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};

/// A failed call to the plugin's service, sorted by what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// May pass: try again, after `retry_after` when the service said how long to wait.
    #[error("temporary failure: {message}")]
    Transient {
        /// What happened.
        message: String,
        /// The service's `Retry-After`.
        retry_after: Option<Duration>,
        /// The service itself answered (a status other than a gateway's 502 or 504): what it
        /// did with the call, it did before answering. `false` for a timeout, a dropped
        /// connection or a gateway's answer, after which the call may still be carried out;
        /// the look-up for a post that may have landed then stays open (see
        /// [`StepError::may_still_land`](crate::record::StepError::may_still_land)).
        answered: bool,
    },
    /// The service refused the plugin's credentials: retried, loudly (see the module docs).
    #[error("credentials refused: {message}")]
    Unauthorized {
        /// What happened.
        message: String,
    },
    /// Trying this call again will not help (unknown channel, bad recipient, other 4xx).
    #[error("permanent failure: {message}")]
    Permanent {
        /// What happened.
        message: String,
    },
}

impl ServiceError {
    /// A transient failure without a `Retry-After` nor an answer that says when the call
    /// ended (a timeout, a dropped connection, or a client that cannot tell).
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient {
            message: message.into(),
            retry_after: None,
            answered: false,
        }
    }

    /// A transient failure the service itself answered, with its `Retry-After` if any.
    pub fn answered(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self::Transient {
            message: message.into(),
            retry_after,
            answered: true,
        }
    }

    /// A permanent failure.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent {
            message: message.into(),
        }
    }

    /// Refused credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized {
            message: message.into(),
        }
    }

    /// Classifies an HTTP answer that is not a success: 429 and 5xx are transient (with the
    /// `Retry-After` header when given), as is 408; 401 and 403 are refused credentials; every
    /// other status is permanent. `message` says what was called and what came back.
    pub fn from_status(
        status: StatusCode,
        headers: &HeaderMap,
        message: impl Into<String>,
    ) -> Self {
        let message = message.into();
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Self::Transient {
                message,
                retry_after: retry_after(headers),
                answered: !is_gateway_failure(status),
            }
        } else if status == StatusCode::REQUEST_TIMEOUT {
            Self::answered(message, None)
        } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            Self::Unauthorized { message }
        } else {
            Self::Permanent { message }
        }
    }

    /// Classifies a reqwest error: a status error by [`from_status`](Self::from_status)
    /// (without headers); permanent only when asking again cannot help — a failed TLS
    /// handshake (an unknown or expired certificate, a server that does not speak TLS;
    /// reqwest counts it as a connect error, but asking again gets the same certificate until
    /// an operator acts), a request that cannot be built (a bad URL), a redirect loop, an
    /// answer that cannot be decoded; everything else failed in flight and is transient:
    /// a refused connection, a timeout, a connection reset, or one the server closed before
    /// answering in full (hyper's "connection closed before message completed" has no I/O
    /// error under it, so no list of I/O error kinds catches it: skipping such a send lost
    /// an e-mail reply in a chaos run).
    pub fn from_reqwest(error: &reqwest::Error) -> Self {
        let message = error_chain(error);
        if let Some(status) = error.status() {
            return Self::from_status(status, &HeaderMap::new(), message);
        }
        if tls_failure(error) || error.is_builder() || error.is_redirect() || error.is_decode() {
            Self::permanent(message)
        } else {
            Self::transient(message)
        }
    }

    /// Whether trying again later may succeed (transient failures and refused credentials).
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Permanent { .. })
    }

    /// How long the service asked to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// For clients whose errors only tell "try again" from "give up": a transient failure's
    /// message and wait, or the message of anything else.
    pub fn into_transient(self) -> Result<(String, Option<Duration>), String> {
        match self {
            Self::Transient {
                message,
                retry_after,
                ..
            } => Ok((message, retry_after)),
            Self::Unauthorized { message } | Self::Permanent { message } => Err(message),
        }
    }

    /// The same failure with `context` in front of its message (what was being done, what to
    /// check).
    pub fn with_context(self, context: &str) -> Self {
        match self {
            Self::Transient {
                message,
                retry_after,
                answered,
            } => Self::Transient {
                message: format!("{context}: {message}"),
                retry_after,
                answered,
            },
            Self::Unauthorized { message } => Self::unauthorized(format!("{context}: {message}")),
            Self::Permanent { message } => Self::permanent(format!("{context}: {message}")),
        }
    }

    /// The same classification and wait with another text (one that names no URL, say).
    pub fn reworded(self, message: String) -> Self {
        match self {
            Self::Transient {
                retry_after,
                answered,
                ..
            } => Self::Transient {
                message,
                retry_after,
                answered,
            },
            Self::Unauthorized { .. } => Self::Unauthorized { message },
            Self::Permanent { .. } => Self::Permanent { message },
        }
    }

    /// What happened, without the classification.
    pub fn message(&self) -> &str {
        match self {
            Self::Transient { message, .. }
            | Self::Unauthorized { message }
            | Self::Permanent { message } => message,
        }
    }
}

/// A gateway's failure (502, 504): the gateway gave up on the service, which may still carry
/// the call out.
fn is_gateway_failure(status: StatusCode) -> bool {
    status == StatusCode::BAD_GATEWAY || status == StatusCode::GATEWAY_TIMEOUT
}

/// The longest `Retry-After` a [`FailedAnswer`] honours as given; a longer one waits this long.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// A failed HTTP answer sorted as a client error type with a variant for each needs it (Jira,
/// GitLab): [`ServiceError::from_status`]'s classification, with rate limits and missing
/// resources told apart and the wait capped at [`MAX_RETRY_AFTER`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailedAnswer {
    /// 429.
    RateLimited {
        /// The service's `Retry-After`, capped.
        retry_after: Option<Duration>,
    },
    /// 5xx or 408.
    Transient {
        /// The service's `Retry-After`, capped.
        retry_after: Option<Duration>,
    },
    /// 401 or 403: the credentials.
    Refused,
    /// 404.
    NotFound,
    /// Any other refusal of this one call.
    Refusal,
}

impl FailedAnswer {
    /// Sorts an answer that is not a success.
    pub fn of(status: StatusCode, headers: &HeaderMap) -> Self {
        match ServiceError::from_status(status, headers, "") {
            ServiceError::Transient { retry_after, .. } => {
                let retry_after = retry_after.map(|wait| wait.min(MAX_RETRY_AFTER));
                if status == StatusCode::TOO_MANY_REQUESTS {
                    Self::RateLimited { retry_after }
                } else {
                    Self::Transient { retry_after }
                }
            }
            ServiceError::Unauthorized { .. } => Self::Refused,
            ServiceError::Permanent { .. } if status == StatusCode::NOT_FOUND => Self::NotFound,
            ServiceError::Permanent { .. } => Self::Refusal,
        }
    }
}

/// A wait in an error's text: `; retry after 1.5s`, or nothing.
pub fn retry_after_text(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|wait| format!("; retry after {}s", wait.as_secs_f64()))
        .unwrap_or_default()
}

/// A client error type that sorts transport and body failures only as "try again" or "give
/// up" (Jira, GitLab, PagerDuty): it names its two variants, and the classification itself is
/// [`ServiceError::from_reqwest`] and [`BodyError::into_service_error`](crate::http::BodyError::into_service_error), shared.
pub trait TransportFailure: Sized {
    /// A failure worth retrying, after `retry_after` when given.
    fn transient(reason: String, retry_after: Option<Duration>) -> Self;
    /// A failure that asking again will not mend.
    fn unexpected(reason: String) -> Self;

    /// The shared classification, in this client's terms.
    fn from_service_error(error: ServiceError) -> Self {
        match error.into_transient() {
            Ok((reason, retry_after)) => Self::transient(reason, retry_after),
            Err(reason) => Self::unexpected(reason),
        }
    }

    /// A call that got no answer. reqwest's error names the URL, never headers, so it carries
    /// no secret.
    fn from_transport(error: &reqwest::Error) -> Self {
        Self::from_service_error(ServiceError::from_reqwest(error))
    }

    /// A response body that failed to arrive, or was over the limit.
    fn from_body(error: crate::http::BodyError) -> Self {
        Self::from_service_error(error.into_service_error())
    }
}

/// [`TransportFailure`] for a client error enum of the usual shape: a
/// `Transient { reason, retry_after }` variant and an `Unexpected { reason }` variant. One
/// line per client instead of the same impl written again in each. With `rate_limited`, for
/// an enum with a `RateLimited { retry_after }` variant too, also its `is_transient` and
/// `retry_after`.
#[macro_export]
macro_rules! transport_failure {
    ($error:ty, rate_limited) => {
        $crate::transport_failure!($error);

        impl $error {
            /// Whether the same call may succeed later without anyone changing anything.
            pub fn is_transient(&self) -> bool {
                matches!(self, Self::RateLimited { .. } | Self::Transient { .. })
            }

            /// How long the service asked to wait.
            pub fn retry_after(&self) -> Option<::std::time::Duration> {
                match self {
                    Self::RateLimited { retry_after } | Self::Transient { retry_after, .. } => {
                        *retry_after
                    }
                    _ => None,
                }
            }
        }
    };
    ($error:ty) => {
        impl $crate::service_error::TransportFailure for $error {
            fn transient(reason: String, retry_after: Option<::std::time::Duration>) -> Self {
                Self::Transient {
                    reason,
                    retry_after,
                }
            }

            fn unexpected(reason: String) -> Self {
                Self::Unexpected { reason }
            }
        }
    };
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

/// The error and its sources on one line: reqwest's own text ("error sending request")
/// hides the cause an operator needs (connection refused, certificate unknown).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A failed TLS handshake: a rustls error in the chain. The connector wraps it in I/O errors
/// (twice, today), and an `io::Error`'s `source()` skips the error it wraps, so the errors
/// inside each I/O error are looked at too.
fn tls_failure(error: &reqwest::Error) -> bool {
    if !error.is_connect() {
        return false;
    }
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        let mut layer: &(dyn std::error::Error + 'static) = e;
        loop {
            if layer.is::<rustls::Error>() {
                return true;
            }
            match layer
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
            {
                Some(inner) => layer = inner,
                None => break,
            }
        }
        source = e.source();
    }
    false
}
