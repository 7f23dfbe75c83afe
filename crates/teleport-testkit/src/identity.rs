//! Client identities: what `tctl auth sign` would hand a plugin, as strings and as files.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::keys::KeyKind;

/// What to issue: the user (certificate CN), key kind and validity window.
///
/// Defaults: ECDSA P-256 PKCS#8 key, valid from one minute ago for one hour.
#[derive(Debug, Clone)]
pub struct IdentityRequest {
    user: String,
    key: KeyKind,
    validity: Validity,
}

#[derive(Debug, Clone, Copy)]
enum Validity {
    Ttl(Duration),
    Window(SystemTime, SystemTime),
}

impl IdentityRequest {
    /// An identity for `user` with the defaults above.
    pub fn new(user: impl Into<String>) -> Self {
        IdentityRequest {
            user: user.into(),
            key: KeyKind::default(),
            validity: Validity::Ttl(Duration::from_secs(3600)),
        }
    }

    /// Chooses the private key kind and encoding.
    #[must_use]
    pub fn key(mut self, key: KeyKind) -> Self {
        self.key = key;
        self
    }

    /// Valid from one minute ago until `ttl` from now.
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.validity = Validity::Ttl(ttl);
        self
    }

    /// An explicit window; `not_after` in the past makes an already-expired certificate.
    #[must_use]
    pub fn validity(mut self, not_before: SystemTime, not_after: SystemTime) -> Self {
        self.validity = Validity::Window(not_before, not_after);
        self
    }

    /// Shorthand for a certificate that expired an hour ago.
    #[must_use]
    pub fn expired(self) -> Self {
        let now = SystemTime::now();
        self.validity(
            now - Duration::from_secs(2 * 3600),
            now - Duration::from_secs(3600),
        )
    }

    /// The user the certificate names.
    pub fn user(&self) -> &str {
        &self.user
    }

    pub(crate) fn key_kind(&self) -> KeyKind {
        self.key
    }

    pub(crate) fn window(&self) -> (SystemTime, SystemTime) {
        match self.validity {
            Validity::Ttl(ttl) => {
                let now = SystemTime::now();
                (now - Duration::from_secs(60), now + ttl)
            }
            Validity::Window(from, to) => (from, to),
        }
    }
}

/// An issued client identity. Every PEM string is newline-terminated.
#[derive(Clone)]
pub struct Identity {
    /// The certificate's subject CN.
    pub user: String,
    /// Which key kind `key_pem` holds.
    pub key_kind: KeyKind,
    /// The private key PEM (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`).
    pub key_pem: String,
    /// The TLS client certificate PEM, issued by the user CA.
    pub cert_pem: String,
    /// The host CA certificate PEM the client should trust for servers.
    pub host_ca_pem: String,
    /// The OpenSSH user certificate line (no newline), signed by the user CA's key.
    pub ssh_cert_line: String,
    /// The known_hosts `@cert-authority … type=host` line (no newline).
    pub ssh_ca_line: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The private key stays out of logs and assertion output.
        f.debug_struct("Identity")
            .field("user", &self.user)
            .field("key_kind", &self.key_kind)
            .finish_non_exhaustive()
    }
}

/// Paths written by [`Identity::write_tls_trio`] (`tctl auth sign --format=tls` layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `tls.crt`: the client certificate.
    pub crt: PathBuf,
    /// `tls.key`: the private key (mode 0600).
    pub key: PathBuf,
    /// `tls.cas`: the host CA certificate(s).
    pub cas: PathBuf,
}

impl Identity {
    /// The identity file text, block order as Teleport writes it: key PEM, SSH certificate
    /// line, TLS certificate PEM, `@cert-authority` line, host CA PEM.
    pub fn identity_file_contents(&self) -> String {
        format!(
            "{}{}\n{}{}\n{}",
            self.key_pem, self.ssh_cert_line, self.cert_pem, self.ssh_ca_line, self.host_ca_pem
        )
    }

    /// Writes [`identity_file_contents`](Self::identity_file_contents) to `path` (mode 0600),
    /// atomically, so a client re-reading the file never sees half of it.
    pub fn write_identity_file(&self, path: &Path) -> io::Result<()> {
        write_atomically(path, &self.identity_file_contents(), true)
    }

    /// Writes `tls.crt`, `tls.key` and `tls.cas` into `dir` (atomically each) and returns them.
    pub fn write_tls_trio(&self, dir: &Path) -> io::Result<TlsFiles> {
        let files = TlsFiles {
            crt: dir.join("tls.crt"),
            key: dir.join("tls.key"),
            cas: dir.join("tls.cas"),
        };
        write_atomically(&files.crt, &self.cert_pem, false)?;
        write_atomically(&files.key, &self.key_pem, true)?;
        write_atomically(&files.cas, &self.host_ca_pem, false)?;
        Ok(files)
    }

    /// The certificate and key as a tonic client identity.
    pub fn tonic_identity(&self) -> tonic::transport::Identity {
        tonic::transport::Identity::from_pem(&self.cert_pem, &self.key_pem)
    }
}

fn write_atomically(path: &Path, contents: &str, private: bool) -> io::Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    let tmp = path.with_file_name(tmp_name);
    std::fs::write(&tmp, contents)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::{CaKind, CertAuthority};

    fn identity(kind: KeyKind) -> Identity {
        let user_ca = CertAuthority::new("example.com", CaKind::User).unwrap();
        let host_ca = CertAuthority::new("example.com", CaKind::Host).unwrap();
        user_ca
            .issue_identity(&IdentityRequest::new("bot").key(kind), &host_ca)
            .unwrap()
    }

    /// Splits the file the way Teleport's parser does: PEM blocks, the SSH cert, CA lines.
    fn parse(text: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
        let (mut pems, mut certs, mut cas) = (Vec::new(), Vec::new(), Vec::new());
        let mut current: Option<String> = None;
        for line in text.lines().map(str::trim) {
            if let Some(block) = current.as_mut() {
                block.push_str(line);
                block.push('\n');
                if line.starts_with("-----END") {
                    pems.push(current.take().unwrap());
                }
            } else if line.starts_with("-----BEGIN") {
                current = Some(format!("{line}\n"));
            } else if line.starts_with("@cert-authority") {
                cas.push(line.to_owned());
            } else if line
                .split(' ')
                .next()
                .is_some_and(|w| w.ends_with("-cert-v01@openssh.com"))
            {
                certs.push(line.to_owned());
            } else {
                assert!(line.is_empty(), "unexpected line {line:?}");
            }
        }
        (pems, certs, cas)
    }

    #[test]
    fn identity_file_has_teleport_block_order() {
        for kind in [KeyKind::EcdsaP256, KeyKind::Rsa2048Pkcs1, KeyKind::EcSec1] {
            let id = identity(kind);
            let text = id.identity_file_contents();
            let (pems, certs, cas) = parse(&text);
            assert_eq!(pems.len(), 3, "{kind:?}");
            assert_eq!(pems[0], id.key_pem);
            assert_eq!(pems[1], id.cert_pem);
            assert_eq!(pems[2], id.host_ca_pem);
            assert_eq!(certs, std::slice::from_ref(&id.ssh_cert_line));
            assert_eq!(cas, std::slice::from_ref(&id.ssh_ca_line));
            // The SSH line sits between the key and the certificate, the CA line before the CA.
            let order: Vec<usize> = [
                &id.key_pem,
                &id.ssh_cert_line,
                &id.cert_pem,
                &id.ssh_ca_line,
                &id.host_ca_pem,
            ]
            .iter()
            .map(|part| text.find(part.as_str()).unwrap())
            .collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
            assert!(text.ends_with("-----END CERTIFICATE-----\n"));
        }
    }

    #[test]
    fn rsa_identity_ssh_line_is_rsa() {
        let id = identity(KeyKind::Rsa2048Pkcs1);
        assert!(
            id.ssh_cert_line
                .starts_with("ssh-rsa-cert-v01@openssh.com AAAA")
        );
        assert!(id.key_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    }

    #[test]
    fn files_are_written_with_private_keys_protected() {
        let dir = tempfile::tempdir().unwrap();
        let id = identity(KeyKind::EcdsaP256);
        let path = dir.path().join("identity");
        id.write_identity_file(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            id.identity_file_contents()
        );
        let files = id.write_tls_trio(dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&files.crt).unwrap(), id.cert_pem);
        assert_eq!(std::fs::read_to_string(&files.key).unwrap(), id.key_pem);
        assert_eq!(std::fs::read_to_string(&files.cas).unwrap(), id.host_ca_pem);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for p in [&path, &files.key] {
                let mode = std::fs::metadata(p).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{p:?}");
            }
        }
        // Only the four files: no temporaries left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);
    }

    #[test]
    fn debug_hides_the_key() {
        let id = identity(KeyKind::EcdsaP256);
        assert!(!format!("{id:?}").contains("PRIVATE"));
    }
}
