//! Dialing Teleport: TCP, then mutual TLS either straight to the auth server or
//! through the proxy's TLS routing (ALPN `teleport-auth@<hex cluster>...`).
//!
//! Both modes end in the same end-to-end mTLS handshake with auth; they differ
//! only in the ALPN list the proxy routes on. TLS is done here rather than by
//! tonic because tonic cannot set a custom ALPN, and because each new
//! connection must pick up the current (possibly renewed) identity.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::credentials::Identity;
use crate::error::CredentialsError;
use crate::identity_store::IdentityStore;

/// The name every Teleport auth server certificate carries, and the SNI it expects.
pub const TELEPORT_SERVER_NAME: &str = "teleport.cluster.local";
/// Port of a Teleport auth server by convention.
pub(crate) const AUTH_PORT: u16 = 3025;

/// How to reach the auth server from the configured address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialMode {
    /// The address is an auth server: mTLS straight to it.
    AuthDirect,
    /// The address is a proxy web port with TLS routing: mTLS to auth through it.
    ProxyTlsRouting,
}

impl DialMode {
    fn to_u8(self) -> u8 {
        match self {
            Self::AuthDirect => 1,
            Self::ProxyTlsRouting => 2,
        }
    }

    fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::AuthDirect),
            2 => Some(Self::ProxyTlsRouting),
            _ => None,
        }
    }
}

/// Which modes to try.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DialPolicy {
    /// Like the Go client: auth first when the port is 3025, proxy first otherwise,
    /// then the other one; the mode that worked is tried first next time.
    #[default]
    Auto,
    /// Only this mode.
    Only(DialMode),
}

/// Opens authenticated TLS connections to the auth server.
pub(crate) struct Dialer {
    addr: String,
    port: u16,
    policy: DialPolicy,
    identities: Arc<IdentityStore>,
    last_good: AtomicU8,
    connect_timeout: Duration,
}

impl Dialer {
    pub(crate) fn new(
        addr: String,
        port: u16,
        policy: DialPolicy,
        identities: Arc<IdentityStore>,
        connect_timeout: Duration,
    ) -> Self {
        Self {
            addr,
            port,
            policy,
            identities,
            last_good: AtomicU8::new(0),
            connect_timeout,
        }
    }

    fn modes(&self) -> Vec<DialMode> {
        match self.policy {
            DialPolicy::Only(mode) => vec![mode],
            DialPolicy::Auto => {
                let preferred = DialMode::from_u8(self.last_good.load(Ordering::Relaxed))
                    .unwrap_or(if self.port == AUTH_PORT {
                        DialMode::AuthDirect
                    } else {
                        DialMode::ProxyTlsRouting
                    });
                let other = match preferred {
                    DialMode::AuthDirect => DialMode::ProxyTlsRouting,
                    DialMode::ProxyTlsRouting => DialMode::AuthDirect,
                };
                vec![preferred, other]
            }
        }
    }

    /// Connects with the first mode that completes a TLS handshake.
    pub(crate) async fn connect(&self) -> std::io::Result<TokioIo<TlsStream<TcpStream>>> {
        let identity = self.identities.current_for_connect();
        let mut errors = Vec::new();
        for mode in self.modes() {
            let attempt =
                tokio::time::timeout(self.connect_timeout, self.connect_mode(mode, &identity))
                    .await;
            match attempt {
                Ok(Ok(stream)) => {
                    if self.last_good.swap(mode.to_u8(), Ordering::Relaxed) != mode.to_u8() {
                        tracing::debug!(addr = %self.addr, ?mode, "connected to Teleport");
                    }
                    return Ok(TokioIo::new(stream));
                }
                Ok(Err(e)) => errors.push(format!("{mode:?}: {e}")),
                Err(_) => errors.push(format!(
                    "{mode:?}: timed out after {:?}",
                    self.connect_timeout
                )),
            }
        }
        Err(std::io::Error::other(format!(
            "cannot connect to Teleport at {}: {}",
            self.addr,
            errors.join("; ")
        )))
    }

    async fn connect_mode(
        &self,
        mode: DialMode,
        identity: &Identity,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let config = tls_config(identity, mode).map_err(std::io::Error::other)?;
        let tcp = TcpStream::connect(&self.addr).await?;
        tcp.set_nodelay(true)?;
        let server_name =
            ServerName::try_from(TELEPORT_SERVER_NAME).map_err(std::io::Error::other)?;
        let stream = TlsConnector::from(Arc::new(config))
            .connect(server_name, tcp)
            .await?;
        let alpn = stream.get_ref().1.alpn_protocol();
        if alpn != Some(b"h2") {
            return Err(std::io::Error::other(format!(
                "the server did not negotiate HTTP/2 (ALPN {:?}); is this a Teleport {} address?",
                alpn.map(String::from_utf8_lossy),
                match mode {
                    DialMode::AuthDirect => "auth server",
                    DialMode::ProxyTlsRouting => "proxy",
                }
            )));
        }
        Ok(stream)
    }
}

/// The ALPN protocol the proxy routes to the auth server of `cluster`.
pub fn auth_alpn_protocol(cluster: &str) -> String {
    format!(
        "teleport-auth@{}.{TELEPORT_SERVER_NAME}",
        hex::encode(cluster)
    )
}

/// Builds the client TLS configuration for one mode from an identity.
pub(crate) fn tls_config(
    identity: &Identity,
    mode: DialMode,
) -> Result<rustls::ClientConfig, CredentialsError> {
    let tls_error = |reason: String| CredentialsError::Tls {
        path: identity.origin().to_owned(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    for ca in identity.roots() {
        roots
            .add(ca.clone())
            .map_err(|e| tls_error(format!("bad CA certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(identity.cert_chain().to_vec(), identity.key().clone_key())
        .map_err(|e| tls_error(e.to_string()))?;
    config.alpn_protocols = match mode {
        DialMode::AuthDirect => vec![b"h2".to_vec()],
        DialMode::ProxyTlsRouting => vec![
            auth_alpn_protocol(identity.cluster_name()).into_bytes(),
            b"h2".to_vec(),
        ],
    };
    Ok(config)
}
