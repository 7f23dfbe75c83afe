//! The SSH half of an identity file, parsed for the reverse tunnel: the private key, the
//! OpenSSH user certificate, the login and the host CAs' fingerprints.
//!
//! The vendored russh is built without the `rsa` crate (RUSTSEC-2023-0071), so it can neither
//! load an `RSA PRIVATE KEY` nor sign with one. RSA keys (Teleport's legacy suite) are kept as
//! ring key pairs instead and sign the user-auth through russh's external-signer hook with
//! `rsa-sha2-512`, which OpenSSH and Teleport accept; SHA-1 `ssh-rsa` is never used.

use std::future::Future;
use std::io;
use std::sync::Arc;

use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA512, RsaKeyPair};
use russh::keys::agent::AgentIdentity;
use russh::keys::ssh_key::{Algorithm, Fingerprint, HashAlg};
use russh::keys::{Certificate, PublicKey};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::credentials::SshCredentials;

/// The hash RSA user-auth signatures use (`rsa-sha2-512`).
pub(super) const RSA_SIGNATURE_HASH: HashAlg = HashAlg::Sha512;
/// The signature algorithm name written in front of an RSA signature.
const RSA_SIGNATURE_NAME: &str = "rsa-sha2-512";

/// A private key russh can use itself, or an RSA key ring signs with.
pub(super) enum SshKey {
    Native(Box<russh::keys::PrivateKey>),
    Rsa(RingRsaSigner),
}

/// The SSH half of the identity, parsed.
pub(super) struct Parsed {
    pub(super) key: SshKey,
    pub(super) cert: Certificate,
    pub(super) user: String,
    pub(super) cas: Vec<Fingerprint>,
}

fn invalid(what: &str, e: &dyn std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the identity's {what}: {e}"),
    )
}

impl Parsed {
    pub(super) fn from(ssh: &SshCredentials) -> io::Result<Self> {
        let cert = Certificate::from_openssh(&ssh.cert_line)
            .map_err(|e| invalid("SSH certificate does not parse", &e))?;
        let key = match cert.public_key().algorithm() {
            Algorithm::Rsa { .. } => SshKey::Rsa(RingRsaSigner::from_pem(&ssh.key_pem)?),
            _ => SshKey::Native(Box::new(
                russh::keys::decode_secret_key(&ssh.key_pem, None)
                    .map_err(|e| invalid("private key cannot be used for SSH", &e))?,
            )),
        };
        // Go logs in as the first principal, else the key ID.
        let user = cert
            .valid_principals()
            .first()
            .cloned()
            .unwrap_or_else(|| cert.key_id().to_owned());
        let mut cas = Vec::new();
        for line in &ssh.ca_lines {
            // `@cert-authority <hosts> <type> <base64> [comment]`
            let mut words = line.split_whitespace().skip(2);
            let (Some(kind), Some(data)) = (words.next(), words.next()) else {
                return Err(invalid("host CA line is incomplete", &line));
            };
            let key = PublicKey::from_openssh(&format!("{kind} {data}"))
                .map_err(|e| invalid("host CA key does not parse", &e))?;
            cas.push(key.fingerprint(HashAlg::Sha256));
        }
        if cas.is_empty() {
            return Err(invalid(
                "host CAs",
                &"no @cert-authority line, so no SSH host can be trusted",
            ));
        }
        Ok(Self {
            key,
            cert,
            user,
            cas,
        })
    }
}

/// Signs SSH user-auth data with an RSA key held by ring.
pub(super) struct RingRsaSigner {
    key: Arc<RsaKeyPair>,
}

/// Why an RSA user-auth signature could not be made.
#[derive(Debug, thiserror::Error)]
pub(super) enum RsaSignError {
    #[error("the SSH session ended during authentication")]
    Send(#[from] russh::SendError),
    #[error("RSA signing failed")]
    Sign,
}

impl RingRsaSigner {
    /// From a PKCS#1 (`RSA PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`) PEM block.
    fn from_pem(pem: &str) -> io::Result<Self> {
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| invalid("RSA private key does not parse", &e))?;
        let key = match &der {
            PrivateKeyDer::Pkcs1(pkcs1) => RsaKeyPair::from_der(pkcs1.secret_pkcs1_der()),
            PrivateKeyDer::Pkcs8(pkcs8) => RsaKeyPair::from_pkcs8(pkcs8.secret_pkcs8_der()),
            _ => {
                return Err(invalid(
                    "private key",
                    &"the SSH certificate is RSA but the key is not",
                ));
            }
        }
        .map_err(|e| invalid("RSA private key is not usable", &e))?;
        Ok(Self { key: Arc::new(key) })
    }

    /// `to_sign` with the SSH signature blob (`string name, string signature`) appended, as
    /// russh's signer hook expects.
    fn sign(&self, mut to_sign: Vec<u8>) -> Result<Vec<u8>, RsaSignError> {
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA512,
                &SystemRandom::new(),
                &to_sign,
                &mut signature,
            )
            .map_err(|_| RsaSignError::Sign)?;
        let mut blob = Vec::with_capacity(signature.len() + 32);
        put_string(&mut blob, RSA_SIGNATURE_NAME.as_bytes());
        put_string(&mut blob, &signature);
        put_string(&mut to_sign, &blob);
        Ok(to_sign)
    }
}

/// An SSH `string`: a big-endian u32 length, then the bytes.
fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    // Signatures and names are far below 4 GiB.
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(bytes);
}

impl russh::Signer for RingRsaSigner {
    type Error = RsaSignError;

    fn auth_sign(
        &mut self,
        _key: &AgentIdentity,
        _hash_alg: Option<HashAlg>,
        to_sign: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, Self::Error>> + Send {
        let signed = self.sign(to_sign);
        async move { signed }
    }
}
