//! Why a Jira call failed, sorted by what to do about it, and how an HTTP answer becomes one.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use teleport_plugin_runtime::json_api::string_list;
use teleport_plugin_runtime::service_error::{FailedAnswer, ServiceError, retry_after_text};

/// Why a Jira call failed.
#[derive(Debug, thiserror::Error)]
pub enum JiraError {
    /// 429: try again after `retry_after`.
    #[error("Jira rate limited the call{}", retry_after_text(*retry_after))]
    RateLimited {
        /// Jira's requested wait.
        retry_after: Option<Duration>,
    },
    /// 5xx, connection failure or timeout: worth retrying.
    #[error("transient Jira failure: {reason}")]
    Transient {
        /// What went wrong.
        reason: String,
        /// Jira's requested wait (a 503 may carry one).
        retry_after: Option<Duration>,
    },
    /// 401/403: the credentials are wrong or lack rights.
    #[error("Jira refused the credentials: HTTP {status}{}", message(messages))]
    Auth {
        /// The HTTP status.
        status: u16,
        /// Jira's messages.
        messages: Vec<String>,
    },
    /// 404: the issue, project or endpoint does not exist (or is not visible).
    #[error("not found in Jira{}", message(messages))]
    NotFound {
        /// Jira's messages.
        messages: Vec<String>,
    },
    /// Another 4xx: retrying the same call will not help.
    #[error("Jira refused the call: HTTP {status}{}", message(messages))]
    Api {
        /// The HTTP status.
        status: u16,
        /// Jira's messages (`errorMessages` and `errors`).
        messages: Vec<String>,
    },
    /// A success answer that cannot be read.
    #[error("unexpected answer from Jira: {reason}")]
    Unexpected {
        /// What was wrong with it.
        reason: String,
    },
}

pub(crate) fn message(messages: &[String]) -> String {
    if messages.is_empty() {
        String::new()
    } else {
        format!(": {}", messages.join("; "))
    }
}

/// What the runtime does about a Jira failure: rate limits, 5xx and network trouble are
/// retried; refused credentials (401/403) are retried loudly; other refusals of this one
/// call, and answers that cannot be read, are not.
impl From<JiraError> for ServiceError {
    fn from(error: JiraError) -> Self {
        let message = error.to_string();
        match error {
            JiraError::RateLimited { retry_after } => ServiceError::answered(message, retry_after),
            JiraError::Transient { retry_after, .. } => ServiceError::Transient {
                message,
                retry_after,
                answered: false,
            },
            JiraError::Auth { .. } => ServiceError::Unauthorized { message },
            JiraError::NotFound { .. } | JiraError::Api { .. } | JiraError::Unexpected { .. } => {
                ServiceError::Permanent { message }
            }
        }
    }
}

// Transport and body failures take the runtime's one classification: a refused connection or
// a timeout is retried; a failed TLS handshake or an unusable URL is not.
teleport_plugin_runtime::transport_failure!(JiraError, rate_limited);

/// Jira's `errorMessages` and `errors` values, or a short piece of a non-JSON body.
pub(crate) fn messages(text: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        let text = text.trim();
        return if text.is_empty() {
            Vec::new()
        } else {
            vec![text.chars().take(200).collect()]
        };
    };
    let mut out = string_list(&value["errorMessages"]);
    if let Some(errors) = value["errors"].as_object() {
        out.extend(
            errors
                .iter()
                .map(|(field, text)| format!("{field}: {}", text.as_str().unwrap_or_default())),
        );
    }
    out
}

pub(crate) fn status_error(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    text: &str,
) -> JiraError {
    let messages = messages(text);
    match FailedAnswer::of(status, headers) {
        FailedAnswer::RateLimited { retry_after } => JiraError::RateLimited { retry_after },
        FailedAnswer::Transient { retry_after } => JiraError::Transient {
            reason: format!("HTTP {status}{}", message(&messages)),
            retry_after,
        },
        FailedAnswer::Refused => JiraError::Auth {
            status: status.as_u16(),
            messages,
        },
        FailedAnswer::NotFound => JiraError::NotFound { messages },
        FailedAnswer::Refusal => JiraError::Api {
            status: status.as_u16(),
            messages,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
    use teleport_plugin_runtime::service_error::TransportFailure;
    use tokio::io::AsyncWriteExt;

    async fn transport_failure(url: &str) -> JiraError {
        let client = http_client(&HttpClientOptions::default()).expect("client");
        let error = client
            .get(url)
            .send()
            .await
            .expect_err("the call must fail");
        JiraError::from_transport(&error)
    }

    #[tokio::test]
    async fn only_transport_failures_that_may_pass_are_retried() {
        // Nothing listens on a port just freed: a refused connection may pass.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let refused = listener.local_addr().unwrap();
        drop(listener);
        let error = transport_failure(&format!("https://{refused}/rest/api/2/myself")).await;
        assert!(matches!(error, JiraError::Transient { .. }), "{error:?}");
        assert!(error.is_transient());

        // A server that does not speak TLS fails every handshake alike.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            }
        });
        let error = transport_failure(&format!("https://{plain}/rest/api/2/myself")).await;
        assert!(matches!(error, JiraError::Unexpected { .. }), "{error:?}");
        assert!(!error.is_transient());

        // A URL that cannot be called never will be.
        let error = transport_failure("https://").await;
        assert!(matches!(error, JiraError::Unexpected { .. }), "{error:?}");
    }

    #[test]
    fn reads_jira_error_bodies() {
        assert_eq!(
            messages(r#"{"errorMessages":["Issue does not exist"],"errors":{}}"#),
            ["Issue does not exist"]
        );
        assert_eq!(
            messages(r#"{"errorMessages":[],"errors":{"issuetype":"Specify an issue type"}}"#),
            ["issuetype: Specify an issue type"]
        );
        assert_eq!(
            messages("<html>Bad gateway</html>"),
            ["<html>Bad gateway</html>"]
        );
    }
}
