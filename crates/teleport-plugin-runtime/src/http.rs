//! Outbound HTTPS clients (reqwest, hyper) built on the runtime's rustls configuration.

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
