//! Loading the plugin's Teleport credentials: an identity file or the TLS trio.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::error::CredentialsError;

/// Where the credentials come from, as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialsSource {
    /// An identity file written by `tctl auth sign --format=file` or by tbot.
    IdentityFile(PathBuf),
    /// The `tctl auth sign --format=tls` trio.
    TlsFiles {
        /// The user certificate (`client_crt`).
        cert: PathBuf,
        /// The private key (`client_key`).
        key: PathBuf,
        /// The host CA certificates (`root_cas`).
        cas: PathBuf,
    },
}

impl CredentialsSource {
    /// The files whose change means the credentials were renewed.
    pub fn files(&self) -> Vec<&Path> {
        match self {
            Self::IdentityFile(path) => vec![path.as_path()],
            Self::TlsFiles { cert, key, cas } => vec![cert.as_path(), key.as_path(), cas.as_path()],
        }
    }

    /// Reads and validates the credentials now.
    pub fn load(&self) -> Result<Identity, CredentialsError> {
        match self {
            Self::IdentityFile(path) => {
                let text = read_text(path)?;
                Identity::from_identity_file(path, &text)
            }
            Self::TlsFiles { cert, key, cas } => {
                let cert_pem = read_text(cert)?;
                let key_pem = read_text(key)?;
                let cas_pem = read_text(cas)?;
                let cert_chain = parse_certs(cert, &cert_pem)?;
                let key_der = parse_key(key, key_pem.as_bytes())?;
                let roots = parse_certs(cas, &cas_pem)?;
                Identity::new(cert.clone(), cert_chain, key_der, roots)
            }
        }
    }
}

/// A validated client identity: the user certificate, its key and the host CAs
/// that sign Teleport's auth servers.
#[derive(Clone)]
pub struct Identity {
    origin: PathBuf,
    cert_chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
    roots: Vec<CertificateDer<'static>>,
    username: String,
    cluster_name: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    /// The SSH half of an identity file, for the reverse tunnel; `None` for the TLS trio.
    ssh: Option<Arc<SshCredentials>>,
}

/// The SSH lines of an identity file, kept as text: only the reverse tunnel parses them, and
/// an identity without them (or with a key the SSH library cannot read) still works over TLS.
#[derive(Clone)]
pub(crate) struct SshCredentials {
    /// The private key PEM block (the same key as the TLS certificate's).
    pub(crate) key_pem: String,
    /// The `<type>-cert-v01@openssh.com <base64> ...` line.
    pub(crate) cert_line: String,
    /// The `@cert-authority <hosts> <type> <base64> ...` lines: the host CAs.
    pub(crate) ca_lines: Vec<String>,
}

impl std::fmt::Debug for Identity {
    // The private key is deliberately absent.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("origin", &self.origin)
            .field("username", &self.username)
            .field("cluster_name", &self.cluster_name)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Parses the text of a Teleport identity file.
    ///
    /// Layout: the first PEM block is the private key, the second the TLS user
    /// certificate and every further one a host CA; one OpenSSH certificate line
    /// and `@cert-authority` known-hosts lines sit between them and are not
    /// needed for gRPC over TLS.
    pub fn from_identity_file(path: &Path, text: &str) -> Result<Self, CredentialsError> {
        let blocks = pem_blocks(text);
        let mut blocks = blocks.into_iter();
        let key_block = blocks.next().ok_or_else(|| CredentialsError::Malformed {
            path: path.to_owned(),
            reason:
                "no PEM block found; expected a private key, a TLS certificate and CA certificates"
                    .into(),
        })?;
        let cert_block = blocks.next().ok_or_else(|| CredentialsError::Malformed {
            path: path.to_owned(),
            reason: "only one PEM block found; expected the TLS certificate after the private key"
                .into(),
        })?;
        let key = parse_key(path, key_block.as_bytes())?;
        let cert_chain = parse_certs(path, &cert_block)?;
        let mut roots = Vec::new();
        for block in blocks {
            roots.extend(parse_certs(path, &block)?);
        }
        if roots.is_empty() {
            return Err(CredentialsError::Malformed {
                path: path.to_owned(),
                reason: "no CA certificate found after the TLS certificate".into(),
            });
        }
        let mut identity = Self::new(path.to_owned(), cert_chain, key, roots)?;
        identity.ssh = ssh_lines(text).map(|(cert_line, ca_lines)| {
            Arc::new(SshCredentials {
                key_pem: key_block,
                cert_line,
                ca_lines,
            })
        });
        Ok(identity)
    }

    fn new(
        origin: PathBuf,
        cert_chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        roots: Vec<CertificateDer<'static>>,
    ) -> Result<Self, CredentialsError> {
        let leaf = cert_chain
            .first()
            .ok_or_else(|| CredentialsError::Malformed {
                path: origin.clone(),
                reason: "no certificate found".into(),
            })?;
        let (_, parsed) =
            X509Certificate::from_der(leaf.as_ref()).map_err(|e| CredentialsError::Malformed {
                path: origin.clone(),
                reason: format!("the TLS certificate does not parse: {e}"),
            })?;
        let username = common_name(parsed.subject()).unwrap_or_default();
        let cluster_name = common_name(parsed.issuer()).unwrap_or_default();
        let not_before = parsed.validity().not_before.to_datetime();
        let not_after = parsed.validity().not_after.to_datetime();
        if not_after <= OffsetDateTime::now_utc() {
            return Err(CredentialsError::Expired {
                path: origin,
                subject: username,
                not_after,
            });
        }
        let signing_key = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| {
            CredentialsError::Malformed {
                path: origin.clone(),
                reason: format!("unsupported private key: {e}"),
            }
        })?;
        let certified_key = CertifiedKey::new(cert_chain.clone(), signing_key);
        certified_key
            .keys_match()
            .map_err(|_| CredentialsError::KeyMismatch {
                path: origin.clone(),
            })?;
        Ok(Self {
            origin,
            cert_chain,
            key: Arc::new(key),
            roots,
            username,
            cluster_name,
            not_before,
            not_after,
            ssh: None,
        })
    }

    /// The file the identity was read from (the certificate file for the trio).
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// The Teleport user the certificate was issued to.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The cluster name, read from the certificate's issuer (the user CA).
    pub fn cluster_name(&self) -> &str {
        &self.cluster_name
    }

    /// When the user certificate stops being valid.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// When the user certificate became valid.
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    /// Time left until expiry (zero when already expired).
    pub fn remaining(&self) -> std::time::Duration {
        let left = self.not_after - OffsetDateTime::now_utc();
        left.try_into().unwrap_or_default()
    }

    pub(crate) fn cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.cert_chain
    }

    pub(crate) fn key(&self) -> &PrivateKeyDer<'static> {
        &self.key
    }

    pub(crate) fn roots(&self) -> &[CertificateDer<'static>] {
        &self.roots
    }

    pub(crate) fn ssh(&self) -> Option<&SshCredentials> {
        self.ssh.as_deref()
    }

    /// True when the identity can authenticate over SSH (the reverse tunnel).
    pub fn has_ssh_certificate(&self) -> bool {
        self.ssh.is_some()
    }
}

fn read_text(path: &Path) -> Result<String, CredentialsError> {
    std::fs::read_to_string(path).map_err(|source| CredentialsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The SSH certificate line and the host-CA lines, by Go's rules: the first word of a cert
/// line is `<name>-cert-v<NN>@openssh.com`, a CA line starts with `@cert-authority`.
fn ssh_lines(text: &str) -> Option<(String, Vec<String>)> {
    let is_cert_type = |word: &str| {
        word.strip_suffix("@openssh.com")
            .and_then(|w| w.rsplit_once("-cert-v"))
            .is_some_and(|(name, version)| {
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && version.len() == 2
                    && version.bytes().all(|b| b.is_ascii_digit())
            })
    };
    let mut cert = None;
    let mut cas = Vec::new();
    for line in text.lines().map(str::trim) {
        let first = line.split_whitespace().next().unwrap_or_default();
        if first == "@cert-authority" {
            cas.push(line.to_owned());
        } else if cert.is_none() && is_cert_type(first) {
            cert = Some(line.to_owned());
        }
    }
    cert.map(|cert| (cert, cas))
}

/// Splits text into whole PEM blocks (BEGIN line to END line), in order.
fn pem_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN ") {
            current = Some(String::new());
        }
        if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
            if line.starts_with("-----END ") {
                blocks.extend(current.take());
            }
        }
    }
    blocks
}

fn parse_certs(path: &Path, pem: &str) -> Result<Vec<CertificateDer<'static>>, CredentialsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CredentialsError::Malformed {
            path: path.to_owned(),
            reason: format!("expected PEM CERTIFICATE blocks: {e}"),
        })?;
    if certs.is_empty() {
        return Err(CredentialsError::Malformed {
            path: path.to_owned(),
            reason: "expected a PEM CERTIFICATE block, found none".into(),
        });
    }
    Ok(certs)
}

fn parse_key(path: &Path, pem: &[u8]) -> Result<PrivateKeyDer<'static>, CredentialsError> {
    // Accepts PKCS#1 (`RSA PRIVATE KEY`), PKCS#8 (`PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`).
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| CredentialsError::Malformed {
        path: path.to_owned(),
        reason: format!(
            "expected a private key PEM block (RSA PRIVATE KEY, PRIVATE KEY or EC PRIVATE KEY): {e}"
        ),
    })
}

fn common_name(name: &x509_parser::x509::X509Name<'_>) -> Option<String> {
    name.iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
}
