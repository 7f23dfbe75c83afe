//! Outbound TLS configuration: system roots plus an optional extra CA, ring provider.
//!
//! Every outbound HTTPS client in the plugins (Slack, Mattermost, PagerDuty, Jira, GitLab,
//! Mailgun, SMTP STARTTLS) trusts the same roots: the system store, read by
//! `rustls-native-certs` (which honours `SSL_CERT_FILE` and `SSL_CERT_DIR`, as Go and OpenSSL
//! do), plus an optional extra CA file for a self-hosted service with a private CA. The crypto
//! provider is always ring, passed explicitly so that no process-wide default is needed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Why a TLS client configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The extra CA file could not be read or is not PEM.
    #[error("cannot read CA certificates from {}: {source}", path.display())]
    ReadExtraCa {
        /// The extra CA file.
        path: PathBuf,
        /// The reading or parsing problem.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The extra CA file holds no certificate.
    #[error("{} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)", path.display())]
    EmptyExtraCa {
        /// The extra CA file.
        path: PathBuf,
    },
    /// A certificate in the extra CA file cannot be a trust anchor.
    #[error("certificate {index} in {} cannot be used as a CA: {source}", path.display())]
    BadExtraCa {
        /// The extra CA file.
        path: PathBuf,
        /// 1-based position of the certificate in the file.
        index: usize,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
    /// There is nothing to trust at all.
    #[error(
        "no trusted root certificates: the system certificate store is empty{detail} and no \
         extra CA file is configured (install the ca-certificates package, or point \
         SSL_CERT_FILE or SSL_CERT_DIR at CA certificates)"
    )]
    NoRoots {
        /// What went wrong while reading the system store, if anything (starts with "; ").
        detail: String,
    },
    /// rustls rejected the configuration.
    #[error("cannot build the TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The ring crypto provider every TLS configuration in the plugins uses.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The roots to trust: the system store (`SSL_CERT_FILE` / `SSL_CERT_DIR` when set) plus every
/// certificate in `extra_ca_file`. Problems reading parts of the system store are logged as
/// warnings; an empty result is an error.
pub fn root_store(extra_ca_file: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "problem reading the system certificate store");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    if ignored > 0 {
        tracing::debug!(
            added,
            ignored,
            "some system certificates cannot be used as roots"
        );
    }
    if let Some(path) = extra_ca_file {
        add_extra_ca(&mut roots, path)?;
    }
    if roots.is_empty() {
        let detail = native
            .errors
            .iter()
            .map(|e| format!("; {e}"))
            .collect::<String>();
        return Err(TlsError::NoRoots { detail });
    }
    Ok(roots)
}

fn add_extra_ca(roots: &mut RootCertStore, path: &Path) -> Result<(), TlsError> {
    let read_err = |source| TlsError::ReadExtraCa {
        path: path.to_path_buf(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(read_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err)?;
    if certs.is_empty() {
        return Err(TlsError::EmptyExtraCa {
            path: path.to_path_buf(),
        });
    }
    // The extra CA is configured on purpose, so a certificate in it that cannot be used is an
    // error rather than something to skip silently.
    for (i, cert) in certs.into_iter().enumerate() {
        roots.add(cert).map_err(|source| TlsError::BadExtraCa {
            path: path.to_path_buf(),
            index: i + 1,
            source,
        })?;
    }
    Ok(())
}

/// A rustls client configuration (ring, TLS 1.2 and 1.3, no client certificate) trusting
/// [`root_store`]. ALPN is left empty; the HTTP client builders set it.
pub fn client_tls_config(extra_ca_file: Option<&Path>) -> Result<rustls::ClientConfig, TlsError> {
    let roots = root_store(extra_ca_file)?;
    Ok(
        rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}
