//! Outbound HTTPS clients (reqwest, hyper) built on the runtime's rustls configuration, and
//! the plumbing every API client shares: its base URL, the URLs under it, error text without
//! the URL, and the bounded reading of answers.

use std::path::PathBuf;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::tls::{self, TlsError};

/// The Go plugins' timeout for every call to a target API.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings for [`http_client`].
#[derive(Debug, Clone)]
pub struct HttpClientOptions {
    /// A PEM file of extra CA certificates to trust besides the system store.
    pub extra_ca: Option<PathBuf>,
    /// The whole-request timeout (connect, send, receive the body). Default 10 s.
    pub timeout: Duration,
    /// The `User-Agent` header, e.g. `teleport-slack/1.2.3`; none by default.
    pub user_agent: Option<String>,
}

impl Default for HttpClientOptions {
    fn default() -> Self {
        Self {
            extra_ca: None,
            timeout: DEFAULT_TIMEOUT,
            user_agent: None,
        }
    }
}

/// Why an HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpClientError {
    /// The TLS configuration failed (no roots, bad extra CA).
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// reqwest refused the settings.
    #[error("cannot build the HTTP client: {0}")]
    Build(#[from] reqwest::Error),
}

/// A reqwest client using [`tls::client_tls_config`] (ring, system roots, optional extra CA).
///
/// Proxies from `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` are honoured, as in the Go plugins.
pub fn http_client(options: &HttpClientOptions) -> Result<reqwest::Client, HttpClientError> {
    let mut tls = tls::client_tls_config(options.extra_ca.as_deref())?;
    // A preconfigured rustls config is used as it is, so ALPN must be set here.
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(options.timeout);
    if let Some(agent) = &options.user_agent {
        builder = builder.user_agent(agent);
    }
    Ok(builder.build()?)
}

/// [`http_client`] with the defaults and the plugin's `User-Agent`: what an API client of
/// an incident plugin is built on.
pub fn user_agent_client(user_agent: &str) -> Result<reqwest::Client, HttpClientError> {
    user_agent_client_with_ca(user_agent, None)
}

/// [`user_agent_client`] that also trusts the CA certificates in `extra_ca` (a chat
/// plugin's `ca_file`, for a server with a private CA).
pub fn user_agent_client_with_ca(
    user_agent: &str,
    extra_ca: Option<PathBuf>,
) -> Result<reqwest::Client, HttpClientError> {
    http_client(&HttpClientOptions {
        user_agent: Some(user_agent.to_owned()),
        extra_ca,
        ..HttpClientOptions::default()
    })
}

/// A hyper connector (HTTPS, or plain HTTP for local fakes; HTTP/1.1 and HTTP/2) using `tls`,
/// for clients that take a connector rather than a reqwest client (slack-morphism). Build
/// `tls` with [`tls::client_tls_config`]; its ALPN list is replaced.
pub fn https_connector(tls: rustls::ClientConfig) -> HttpsConnector<HttpConnector> {
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build()
}

/// The largest response body read from an outside API. Every answer the plugins need (an
/// issue with its comments, a page of search results, a user list) is far smaller; a
/// larger one is a misbehaving or hostile server, and reading it whole could exhaust memory.
pub const MAX_RESPONSE_BODY: usize = 8 * 1024 * 1024;

/// Why a response body was not read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is larger than the limit (declared or streamed); nothing more is read.
    #[error("the answer is larger than {limit} bytes; not read")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The connection failed while the body was read.
    #[error("cannot read the answer: {0}")]
    Read(#[source] reqwest::Error),
}

impl BodyError {
    /// The shared classification: a failed read is judged like any transport error (usually
    /// transient), a body over the limit is permanent (asking again gets the same answer).
    pub fn into_service_error(self) -> crate::service_error::ServiceError {
        match self {
            Self::Read(error) => crate::service_error::ServiceError::from_reqwest(&error),
            too_large @ Self::TooLarge { .. } => {
                crate::service_error::ServiceError::permanent(too_large.to_string())
            }
        }
    }
}

/// Reads `response`'s body, at most `limit` bytes: a declared `Content-Length` over the
/// limit is refused before reading, and a streamed body is cut off as soon as it passes it.
pub async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<bytes::Bytes, BodyError> {
    if response
        .content_length()
        .is_some_and(|declared| declared > limit as u64)
    {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// reqwest's error text names the URL, and an API may take a key in its query: only the kind
/// of failure and its cause are kept.
pub fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_decode() {
        "cannot decode the answer"
    } else {
        "request failed"
    };
    match std::error::Error::source(error) {
        Some(source) => format!("{kind}: {source}"),
        None => kind.to_owned(),
    }
}

/// An API's base URL from the configuration. A URL that cannot take path segments
/// (`mailto:x`) is refused, since every call appends its own; `what` opens the error text
/// (`bad API URL: ...`).
pub fn api_base(text: &str, what: &str) -> Result<reqwest::Url, String> {
    let base = reqwest::Url::parse(text).map_err(|e| format!("{what}: {e}"))?;
    if base.cannot_be_a_base() {
        return Err(what.to_owned());
    }
    Ok(base)
}

/// `base` with `segments` appended, each escaped (so an ID from a request cannot climb out of
/// its path), after dropping a trailing empty segment of `base`; `query` added when not empty.
pub fn api_url(base: &reqwest::Url, segments: &[&str], query: &[(&str, &str)]) -> reqwest::Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    url
}

/// The text of a failed answer as most APIs give it: the JSON body's `message` string, else
/// the status's reason phrase (`Not Found`).
pub fn message_or_reason(body: Option<&serde_json::Value>, status: http::StatusCode) -> String {
    body.and_then(|v| v.get("message"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_escape_segments_and_keep_the_base_path() {
        let base = api_base("https://api.example.com/prefix/", "bad API URL").unwrap();
        assert_eq!(
            api_url(&base, &["alerts", "a/../b"], &[]).as_str(),
            "https://api.example.com/prefix/alerts/a%2F..%2Fb"
        );
        assert_eq!(
            api_url(&base, &["on-calls"], &[("flat", "true")]).as_str(),
            "https://api.example.com/prefix/on-calls?flat=true"
        );
        assert_eq!(
            api_base("mailto:x@example.com", "bad API URL"),
            Err("bad API URL".to_owned())
        );
        assert!(
            api_base("not a url", "bad API URL")
                .unwrap_err()
                .starts_with("bad API URL: ")
        );
    }

    #[test]
    fn failed_answers_are_worded_by_their_message_or_status() {
        let body = serde_json::json!({ "message": "Unknown Channel" });
        assert_eq!(
            message_or_reason(Some(&body), http::StatusCode::NOT_FOUND),
            "Unknown Channel"
        );
        assert_eq!(
            message_or_reason(None, http::StatusCode::NOT_FOUND),
            "Not Found"
        );
    }
}
