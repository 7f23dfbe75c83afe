//! TLS configurations for dialing: the end-to-end mTLS with auth (host CA, client
//! certificate, routing ALPN), and the outer TLS to a proxy's web port (web PKI).

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::credentials::Identity;
use crate::error::CredentialsError;

/// ALPN of Teleport's proxy reverse-tunnel route; offered alone to detect an L7 load balancer.
pub(crate) const REVERSE_TUNNEL_ALPN: &[u8] = b"teleport-reversetunnel";
/// The name every Teleport auth server certificate carries, and the SNI it expects.
pub const TELEPORT_SERVER_NAME: &str = "teleport.cluster.local";

/// The ALPN protocol the proxy routes to the auth server of `cluster`.
pub fn auth_alpn_protocol(cluster: &str) -> String {
    format!(
        "teleport-auth@{}.{TELEPORT_SERVER_NAME}",
        hex::encode(cluster)
    )
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client TLS configuration for the end-to-end handshake with auth. `route` adds the
/// proxy's auth route ahead of `h2` (TLS routing, directly or inside an upgrade).
pub(crate) fn auth_tls_config(
    identity: &Identity,
    route: bool,
) -> Result<rustls::ClientConfig, CredentialsError> {
    let tls_error = |reason: String| CredentialsError::Tls {
        path: identity.origin().to_owned(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    for ca in identity.roots() {
        roots
            .add(ca.clone())
            .map_err(|e| tls_error(format!("bad CA certificate: {e}")))?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(identity.cert_chain().to_vec(), identity.key().clone_key())
        .map_err(|e| tls_error(e.to_string()))?;
    config.alpn_protocols = if route {
        vec![
            auth_alpn_protocol(identity.cluster_name()).into_bytes(),
            b"h2".to_vec(),
        ]
    } else {
        vec![b"h2".to_vec()]
    };
    Ok(config)
}

/// The system store, read once per process: reading and parsing it costs milliseconds, which
/// would otherwise be paid on every connection attempt to a load balancer.
static SYSTEM_ROOTS: tokio::sync::OnceCell<Arc<RootCertStore>> = tokio::sync::OnceCell::const_new();

async fn system_roots() -> Arc<RootCertStore> {
    SYSTEM_ROOTS
        .get_or_init(|| async {
            // File reads and parsing: off the async workers.
            tokio::task::spawn_blocking(|| {
                let mut roots = RootCertStore::empty();
                let native = rustls_native_certs::load_native_certs();
                for error in &native.errors {
                    tracing::debug!(%error, "skipped part of the system certificate store");
                }
                let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
                Arc::new(roots)
            })
            .await
            .unwrap_or_else(|_| Arc::new(RootCertStore::empty()))
        })
        .await
        .clone()
}

/// Roots for the proxy's (or load balancer's) public web certificate: the system store
/// (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured) plus an optional extra CA file.
pub(crate) async fn web_roots(extra_ca: Option<&Path>) -> Result<Arc<RootCertStore>, String> {
    let system = system_roots().await;
    let Some(path) = extra_ca else {
        return Ok(system);
    };
    let mut roots = RootCertStore::clone(&system);
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the web CA file {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("bad CA certificate in {}: {e}", path.display()))?;
    }
    Ok(Arc::new(roots))
}

/// A failed handshake worded with who it was with, its kind kept.
pub(crate) fn handshake_with(peer: &'static str) -> impl FnOnce(io::Error) -> io::Error {
    move |error| io::Error::new(error.kind(), format!("TLS handshake with {peer}: {error}"))
}

/// A client configuration for the proxy's web port, offering `alpn`.
pub(crate) fn web_tls_config(
    roots: Arc<RootCertStore>,
    alpn: &[&[u8]],
) -> Result<rustls::ClientConfig, String> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}
