//! A hyper connector honouring `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (as the Go plugins'
//! HTTP clients do), for API clients that take a connector rather than a reqwest client
//! (slack-morphism): connections to a proxied host are tunnelled with `CONNECT`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// TCP connections, through the environment's HTTP proxy where it names one for the
/// destination. Wrap it in the TLS connector (`hyper_rustls`), which then speaks TLS to the
/// API through the tunnel.
#[derive(Clone, Debug)]
pub struct ProxyConnector {
    inner: HttpConnector,
    proxies: Arc<Matcher>,
}

impl ProxyConnector {
    /// `inner` (which must allow `https://` destinations: `enforce_http(false)`), with the
    /// proxies the environment names.
    pub fn from_env(inner: HttpConnector) -> Self {
        Self {
            inner,
            proxies: Arc::new(Matcher::from_env()),
        }
    }
}

impl Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // HttpConnector is always ready; each call works on its own clone.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, destination: Uri) -> Self::Future {
        let inner = self.inner.clone();
        match self.proxies.intercept(&destination) {
            Some(proxy) => {
                let mut tunnel = Tunnel::new(proxy.uri().clone(), inner);
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                // The tunnel assumes 443 for a destination without a port.
                let destination = with_default_port(destination);
                Box::pin(async move { Ok(tunnel.call(destination).await?) })
            }
            None => {
                let mut direct = inner;
                Box::pin(async move { Ok(direct.call(destination).await?) })
            }
        }
    }
}

/// `destination` with its scheme's port written out (80 for `http`, else 443).
fn with_default_port(destination: Uri) -> Uri {
    let (Some(host), None) = (destination.host(), destination.port()) else {
        return destination;
    };
    let port = if destination.scheme_str() == Some("http") {
        80
    } else {
        443
    };
    let mut parts = destination.clone().into_parts();
    parts.authority = format!("{host}:{port}").parse().ok();
    Uri::from_parts(parts).unwrap_or(destination)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunnels_name_the_scheme_s_port() {
        let uri = |text: &str| text.parse::<Uri>().unwrap();
        assert_eq!(
            with_default_port(uri("http://slack.test/api/x")).to_string(),
            "http://slack.test:80/api/x"
        );
        assert_eq!(
            with_default_port(uri("https://slack.com/api/")).to_string(),
            "https://slack.com:443/api/"
        );
        assert_eq!(
            with_default_port(uri("https://slack.com:8443/")).to_string(),
            "https://slack.com:8443/"
        );
    }
}
