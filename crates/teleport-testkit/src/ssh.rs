//! OpenSSH-format lines for identity files: a user certificate and a host-CA known_hosts entry.
//!
//! Rust clients never speak SSH to the testkit, so the certificate is structurally an OpenSSH
//! certificate (right key type, real public key, principals, validity) but its signature is a
//! placeholder. The host-CA line carries the host CA's real public key.

use base64::Engine as _;
use rcgen::KeyPair;

use crate::der;
use crate::error::{Error, Result};

const ECDSA_P256: &str = "ecdsa-sha2-nistp256";
const RSA: &str = "ssh-rsa";

/// SSH wire-format writer (RFC 4251 strings and integers).
#[derive(Default)]
struct Wire(Vec<u8>);

impl Wire {
    fn string(&mut self, bytes: &[u8]) -> &mut Self {
        self.0
            .extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        self.0.extend_from_slice(bytes);
        self
    }
    fn u32(&mut self, value: u32) -> &mut Self {
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
    fn u64(&mut self, value: u64) -> &mut Self {
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
}

/// The SSH algorithm name and the key-specific public fields (without the name).
fn public_fields(key: &KeyPair, rsa: bool) -> Result<(&'static str, Vec<u8>)> {
    let mut wire = Wire::default();
    if rsa {
        // ring exposes RSA public keys as PKCS#1 RSAPublicKey { n, e }; DER INTEGER contents
        // are already SSH mpints (minimal two's complement).
        let bad = || Error::Key("unexpected RSA public key layout".into());
        let (seq, _) = der::expect(key.public_key_raw(), der::SEQUENCE).ok_or_else(bad)?;
        let (n, rest) = der::expect(seq, der::INTEGER).ok_or_else(bad)?;
        let (e, _) = der::expect(rest, der::INTEGER).ok_or_else(bad)?;
        wire.string(e).string(n);
        Ok((RSA, wire.0))
    } else {
        wire.string(b"nistp256").string(key.public_key_raw());
        Ok((ECDSA_P256, wire.0))
    }
}

/// A full SSH public key blob (algorithm name + fields).
fn public_blob(key: &KeyPair, rsa: bool) -> Result<(&'static str, Vec<u8>)> {
    let (alg, fields) = public_fields(key, rsa)?;
    let mut blob = Wire::default();
    blob.string(alg.as_bytes());
    blob.0.extend_from_slice(&fields);
    Ok((alg, blob.0))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Validity and naming of an SSH user certificate.
pub(crate) struct UserCert<'a> {
    pub(crate) user: &'a str,
    pub(crate) key: &'a KeyPair,
    pub(crate) rsa: bool,
    pub(crate) signer: &'a KeyPair,
    pub(crate) valid_after: u64,
    pub(crate) valid_before: u64,
}

/// One `<type>-cert-v01@openssh.com <base64> <comment>` line (no newline).
pub(crate) fn user_cert_line(cert: &UserCert<'_>) -> Result<String> {
    let (alg, fields) = public_fields(cert.key, cert.rsa)?;
    let (signer_alg, signer_blob) = public_blob(cert.signer, false)?;
    let cert_type = format!("{alg}-cert-v01@openssh.com");
    let nonce = uuid::Uuid::new_v4();
    let mut principals = Wire::default();
    principals.string(cert.user.as_bytes());
    let mut signature = Wire::default();
    signature.string(signer_alg.as_bytes()).string(&[0u8; 72]);

    let mut blob = Wire::default();
    blob.string(cert_type.as_bytes()).string(nonce.as_bytes());
    blob.0.extend_from_slice(&fields);
    blob.u64(1) // serial
        .u32(1) // SSH_CERT_TYPE_USER
        .string(cert.user.as_bytes()) // key id
        .string(&principals.0)
        .u64(cert.valid_after)
        .u64(cert.valid_before)
        .string(b"") // critical options
        .string(b"") // extensions
        .string(b"") // reserved
        .string(&signer_blob)
        .string(&signature.0);
    Ok(format!("{cert_type} {} {}", b64(&blob.0), cert.user))
}

/// One known_hosts `@cert-authority` line for the cluster's host CA (no newline).
pub(crate) fn host_ca_line(cluster_name: &str, host_ca_key: &KeyPair) -> Result<String> {
    let (alg, blob) = public_blob(host_ca_key, false)?;
    Ok(format!(
        "@cert-authority {cluster_name},*.{cluster_name} {alg} {} type=host",
        b64(&blob)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{self, KeyKind};

    fn decode_fields(mut blob: &[u8]) -> Vec<Vec<u8>> {
        // Reads leading SSH strings until the remaining bytes no longer parse as one.
        let mut out = Vec::new();
        while blob.len() >= 4 {
            let len = u32::from_be_bytes(blob[..4].try_into().unwrap()) as usize;
            if blob.len() < 4 + len {
                break;
            }
            out.push(blob[4..4 + len].to_vec());
            blob = &blob[4 + len..];
        }
        out
    }

    #[test]
    fn cert_line_type_matches_key_and_blob_names_it() {
        let signer = keys::generate(KeyKind::EcdsaP256).unwrap().pair;
        for (kind, expected) in [
            (
                KeyKind::EcdsaP256,
                "ecdsa-sha2-nistp256-cert-v01@openssh.com",
            ),
            (KeyKind::Rsa2048Pkcs1, "ssh-rsa-cert-v01@openssh.com"),
        ] {
            let key = keys::generate(kind).unwrap().pair;
            let line = user_cert_line(&UserCert {
                user: "alice",
                key: &key,
                rsa: kind.is_rsa(),
                signer: &signer,
                valid_after: 1,
                valid_before: 2,
            })
            .unwrap();
            let words: Vec<&str> = line.split(' ').collect();
            assert_eq!(words[0], expected);
            assert_eq!(words[2], "alice");
            let blob = base64::engine::general_purpose::STANDARD
                .decode(words[1])
                .unwrap();
            let fields = decode_fields(&blob);
            assert_eq!(fields[0], expected.as_bytes());
            assert_eq!(fields[1].len(), 16, "nonce");
        }
    }

    #[test]
    fn host_ca_line_is_known_hosts_shaped() {
        let ca = keys::generate(KeyKind::EcdsaP256).unwrap().pair;
        let line = host_ca_line("example.com", &ca).unwrap();
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!(words[0], "@cert-authority");
        assert_eq!(words[1], "example.com,*.example.com");
        assert_eq!(words[2], "ecdsa-sha2-nistp256");
        assert_eq!(words[4], "type=host");
        let blob = base64::engine::general_purpose::STANDARD
            .decode(words[3])
            .unwrap();
        let fields = decode_fields(&blob);
        assert_eq!(fields[0], b"ecdsa-sha2-nistp256");
        assert_eq!(fields[1], b"nistp256");
        assert_eq!(fields[2], ca.public_key_raw());
    }
}
