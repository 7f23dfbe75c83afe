//! The SSH half of a legacy-suite host CA (Teleport clusters created before v17 and not
//! migrated): an RSA host CA whose key signs the tunnel's RSA host key's certificate with
//! `rsa-sha2-512`. ssh-key signs and checks RSA only with the `rsa` crate (RUSTSEC-2023-0071,
//! kept out of the build), so the certificate is written here and ring signs it; ring cannot
//! generate RSA keys, so the keys are throw-away fixtures (`fixtures/README.md`).

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA512, RsaKeyPair};
use russh::keys::ssh_key::private::{KeypairData, RsaKeypair, RsaPrivateKey};
use russh::keys::ssh_key::public::RsaPublicKey;
use russh::keys::ssh_key::{Certificate, Mpint, PrivateKey};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::der;
use crate::error::{Error, Result};
use crate::ssh::Wire;

const HOST_CA_PEM: &str = include_str!("../fixtures/test-rsa2048-host-ca.pkcs1.pem");
const OTHER_HOST_CA_PEM: &str = include_str!("../fixtures/test-rsa2048-host-ca-other.pkcs1.pem");
const HOST_KEY_PEM: &str = include_str!("../fixtures/test-rsa2048-host-key.pkcs1.pem");

/// The key of the host CA's SSH half, which signs the tunnel's host certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SshHostCa {
    /// The host CA's own P-256 key signs a P-256 host key's certificate (Teleport's
    /// balanced suites). Default.
    #[default]
    Ecdsa,
    /// An RSA-2048 host CA signs an RSA-2048 host key's certificate with `rsa-sha2-512`
    /// (the legacy suite). Always the same fixture keys.
    Rsa,
    /// As `Rsa` with another fixture CA key: a cluster an identity of a `Rsa` testkit must
    /// not trust.
    RsaOther,
    /// As `Rsa`, but the certificate's signature is labelled SHA-1 `ssh-rsa` (its bytes
    /// stay SHA-512: ring cannot sign SHA-1, and the label is what a client must refuse).
    RsaSha1Label,
}

/// An RSA key held twice: as ring's key pair (signs) and as its SSH integers.
struct RsaKey {
    pair: RsaKeyPair,
    /// PKCS#1's n, e, d, p, q and qInv as DER INTEGER contents, which are SSH mpints.
    n: Vec<u8>,
    e: Vec<u8>,
    d: Vec<u8>,
    p: Vec<u8>,
    q: Vec<u8>,
    q_inv: Vec<u8>,
}

impl RsaKey {
    fn from_pkcs1_pem(pem: &str) -> Result<Self> {
        let bad = || Error::Key("unexpected RSA fixture layout".into());
        let PrivateKeyDer::Pkcs1(pkcs1) = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| Error::Key(format!("RSA fixture: {e}")))?
        else {
            return Err(bad());
        };
        let pkcs1 = pkcs1.secret_pkcs1_der();
        let pair = RsaKeyPair::from_der(pkcs1).map_err(|e| Error::Key(format!("RSA key: {e}")))?;
        // RSAPrivateKey { version, n, e, d, p, q, dP, dQ, qInv }
        let (mut rest, _) = der::expect(pkcs1, der::SEQUENCE).ok_or_else(bad)?;
        let mut fields = Vec::new();
        while let Some((field, next)) = der::expect(rest, der::INTEGER) {
            fields.push(field.to_vec());
            rest = next;
        }
        let [_, n, e, d, p, q, _, _, q_inv] =
            <[Vec<u8>; 9]>::try_from(fields).map_err(|_| bad())?;
        Ok(Self {
            pair,
            n,
            e,
            d,
            p,
            q,
            q_inv,
        })
    }

    /// The `ssh-rsa` public key blob.
    fn public_blob(&self) -> Vec<u8> {
        let mut wire = Wire::default();
        wire.string(b"ssh-rsa").string(&self.e).string(&self.n);
        wire.0
    }

    /// The key as an SSH private key, for the russh server (which signs with ring).
    fn ssh_private_key(&self) -> Result<PrivateKey> {
        let mpint =
            |bytes: &[u8]| Mpint::from_bytes(bytes).map_err(|e| Error::Key(format!("mpint: {e}")));
        let public = RsaPublicKey::new(mpint(&self.e)?, mpint(&self.n)?).map_err(ssh_error)?;
        let private = RsaPrivateKey::new(
            mpint(&self.d)?,
            mpint(&self.q_inv)?,
            mpint(&self.p)?,
            mpint(&self.q)?,
        )
        .map_err(ssh_error)?;
        let pair = RsaKeypair::new(public, private).map_err(ssh_error)?;
        PrivateKey::new(KeypairData::Rsa(pair), "").map_err(ssh_error)
    }

    /// An SSH signature blob (`string algorithm, string signature`) over `data`.
    fn sign(&self, data: &[u8], label: &str) -> Result<Vec<u8>> {
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA512,
                &SystemRandom::new(),
                data,
                &mut signature,
            )
            .map_err(|_| Error::Key("RSA signing failed".into()))?;
        let mut wire = Wire::default();
        wire.string(label.as_bytes()).string(&signature);
        Ok(wire.0)
    }
}

fn ssh_error(e: russh::keys::ssh_key::Error) -> Error {
    Error::Key(format!("SSH RSA key: {e}"))
}

/// An RSA host CA with the tunnel's RSA host key.
pub(crate) struct RsaHostCa {
    ca: RsaKey,
    host: RsaKey,
    label: &'static str,
}

impl RsaHostCa {
    /// The RSA host CA for `kind`, or `None` for an ECDSA one.
    pub(crate) fn new(kind: SshHostCa) -> Result<Option<Self>> {
        let (ca, label) = match kind {
            SshHostCa::Ecdsa => return Ok(None),
            SshHostCa::Rsa => (HOST_CA_PEM, "rsa-sha2-512"),
            SshHostCa::RsaOther => (OTHER_HOST_CA_PEM, "rsa-sha2-512"),
            SshHostCa::RsaSha1Label => (HOST_CA_PEM, "ssh-rsa"),
        };
        Ok(Some(Self {
            ca: RsaKey::from_pkcs1_pem(ca)?,
            host: RsaKey::from_pkcs1_pem(HOST_KEY_PEM)?,
            label,
        }))
    }

    /// One known_hosts `@cert-authority` line for the CA (no newline).
    pub(crate) fn host_ca_line(&self, cluster_name: &str) -> String {
        let blob = base64::engine::general_purpose::STANDARD.encode(self.ca.public_blob());
        format!("@cert-authority {cluster_name},*.{cluster_name} ssh-rsa {blob} type=host")
    }

    /// The host key and its `ssh-rsa-cert-v01@openssh.com` certificate, valid for
    /// `principals`, in the certificate format of OpenSSH's PROTOCOL.certkeys.
    pub(crate) fn host_cert(
        &self,
        principals: &[&str],
        valid_after: u64,
        valid_before: u64,
    ) -> Result<(PrivateKey, Certificate)> {
        const HOST_CERT: u32 = 2;
        let mut names = Wire::default();
        for principal in principals {
            names.string(principal.as_bytes());
        }
        let mut cert = Wire::default();
        cert.string(b"ssh-rsa-cert-v01@openssh.com")
            .string(uuid::Uuid::new_v4().as_bytes())
            .string(&self.host.e)
            .string(&self.host.n);
        cert.0.extend_from_slice(&0u64.to_be_bytes()); // serial
        cert.0.extend_from_slice(&HOST_CERT.to_be_bytes());
        cert.string(b"teleport-testkit-proxy").string(&names.0);
        cert.0.extend_from_slice(&valid_after.to_be_bytes());
        cert.0.extend_from_slice(&valid_before.to_be_bytes());
        // critical options, extensions, reserved: all empty
        cert.string(b"").string(b"").string(b"");
        cert.string(&self.ca.public_blob());
        let signature = self.ca.sign(&cert.0, self.label)?;
        cert.string(&signature);
        let cert = Certificate::from_bytes(&cert.0).map_err(ssh_error)?;
        Ok((self.host.ssh_private_key()?, cert))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use russh::keys::ssh_key::certificate::CertType;
    use russh::keys::ssh_key::{Algorithm, HashAlg};

    #[test]
    fn the_host_certificate_names_its_fields_and_a_real_signature() {
        let ca = RsaHostCa::new(SshHostCa::Rsa).unwrap().unwrap();
        let (key, cert) = ca.host_cert(&["localhost", "h"], 10, 20).unwrap();
        assert_eq!(cert.cert_type(), CertType::Host);
        assert_eq!(cert.valid_principals(), ["localhost", "h"]);
        assert_eq!((cert.valid_after(), cert.valid_before()), (10, 20));
        assert_eq!(cert.public_key(), key.public_key().key_data());
        assert_eq!(
            cert.signature().algorithm(),
            Algorithm::Rsa {
                hash: Some(HashAlg::Sha512)
            }
        );
        // ring checks the signature over everything before it.
        let bytes = cert.to_bytes().unwrap();
        let sig = cert.signature().as_bytes();
        let signed = &bytes[..bytes.len() - (4 + 4 + "rsa-sha2-512".len() + 4 + sig.len())];
        let n = ca.ca.n.strip_prefix(&[0]).unwrap_or(&ca.ca.n[..]);
        let public = ring::signature::RsaPublicKeyComponents { n, e: &ca.ca.e[..] };
        public
            .verify(&ring::signature::RSA_PKCS1_2048_8192_SHA512, signed, sig)
            .unwrap();
        let line = ca.host_ca_line("example.com");
        assert!(line.starts_with("@cert-authority example.com,*.example.com ssh-rsa AAAA"));
        assert!(line.ends_with(" type=host"));
    }
}
