//! OpenSSH certificates for identity files and the tunnel listener: a user certificate signed
//! by the user CA's key, a host certificate signed by the host CA's key, and the host-CA
//! known_hosts entry. The CAs' keys are the same P-256 keys that sign their TLS certificates,
//! as in Teleport, where each CA has an SSH and a TLS half.

use base64::Engine as _;
use rcgen::KeyPair;
use russh::keys::ssh_key::certificate::{Builder, CertType};
use russh::keys::ssh_key::{Certificate, PrivateKey, PublicKey};

use crate::der;
use crate::error::{Error, Result};

const ECDSA_P256: &str = "ecdsa-sha2-nistp256";
const RSA: &str = "ssh-rsa";

/// SSH wire-format writer (RFC 4251 strings and integers).
#[derive(Default)]
pub(crate) struct Wire(pub(crate) Vec<u8>);

impl Wire {
    pub(crate) fn string(&mut self, bytes: &[u8]) -> &mut Self {
        self.0
            .extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        self.0.extend_from_slice(bytes);
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

/// One `<type>-cert-v01@openssh.com <base64> <comment>` line (no newline), really signed.
pub(crate) fn user_cert_line(cert: &UserCert<'_>) -> Result<String> {
    let (_, blob) = public_blob(cert.key, cert.rsa)?;
    let subject = PublicKey::from_bytes(&blob).map_err(ssh_error)?;
    let mut builder = builder(subject, cert.valid_after, cert.valid_before)?;
    builder.cert_type(CertType::User).map_err(ssh_error)?;
    builder.key_id(cert.user).map_err(ssh_error)?;
    builder.valid_principal(cert.user).map_err(ssh_error)?;
    let signed = builder
        .sign(&ssh_private_key(cert.signer)?)
        .map_err(ssh_error)?;
    let line = signed.to_openssh().map_err(ssh_error)?;
    // `to_openssh` writes the certificate's own comment (empty); tctl puts the user there.
    Ok(format!("{} {}", line.trim_end(), cert.user))
}

/// A host key and its certificate for an SSH listener, signed by the host CA's key, valid
/// for `principals` (Go checks the dialed host against them).
pub(crate) fn host_cert(
    host_ca_key: &KeyPair,
    principals: &[&str],
    valid_after: u64,
    valid_before: u64,
) -> Result<(PrivateKey, Certificate)> {
    let host = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let host_key = ssh_private_key(&host)?;
    let mut builder = builder(host_key.public_key().clone(), valid_after, valid_before)?;
    builder.cert_type(CertType::Host).map_err(ssh_error)?;
    builder
        .key_id("teleport-testkit-proxy")
        .map_err(ssh_error)?;
    for principal in principals {
        builder.valid_principal(*principal).map_err(ssh_error)?;
    }
    let cert = builder
        .sign(&ssh_private_key(host_ca_key)?)
        .map_err(ssh_error)?;
    Ok((host_key, cert))
}

/// The SSH public key of a CA key (what a server trusts for user certificates).
pub(crate) fn ssh_public_key(key: &KeyPair) -> Result<PublicKey> {
    let (_, blob) = public_blob(key, false)?;
    PublicKey::from_bytes(&blob).map_err(ssh_error)
}

fn builder(subject: PublicKey, valid_after: u64, valid_before: u64) -> Result<Builder> {
    let nonce = uuid::Uuid::new_v4().as_bytes().to_vec();
    Builder::new(nonce, subject, valid_after, valid_before).map_err(ssh_error)
}

/// An rcgen P-256 key as an SSH private key (through its PKCS#8 PEM).
fn ssh_private_key(key: &KeyPair) -> Result<PrivateKey> {
    russh::keys::decode_secret_key(&key.serialize_pem(), None)
        .map_err(|e| Error::Key(format!("SSH key from PKCS#8: {e}")))
}

fn ssh_error(e: russh::keys::ssh_key::Error) -> Error {
    Error::Key(format!("SSH certificate: {e}"))
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
    fn certificates_are_really_signed_by_their_ca() {
        use russh::keys::ssh_key::HashAlg;
        let user_ca = keys::generate(KeyKind::EcdsaP256).unwrap().pair;
        let other = keys::generate(KeyKind::EcdsaP256).unwrap().pair;
        let key = keys::generate(KeyKind::EcdsaP256).unwrap().pair;
        let line = user_cert_line(&UserCert {
            user: "alice",
            key: &key,
            rsa: false,
            signer: &user_ca,
            valid_after: 1,
            valid_before: u64::MAX - 1,
        })
        .unwrap();
        let cert = Certificate::from_openssh(&line).unwrap();
        let ca = ssh_public_key(&user_ca)
            .unwrap()
            .fingerprint(HashAlg::Sha256);
        let wrong = ssh_public_key(&other).unwrap().fingerprint(HashAlg::Sha256);
        assert!(cert.validate_at(1000, [&ca]).is_ok());
        assert!(cert.validate_at(1000, [&wrong]).is_err());
        assert_eq!(cert.cert_type(), CertType::User);
        assert_eq!(cert.valid_principals(), ["alice"]);

        let (_, host) = host_cert(&user_ca, &["localhost"], 1, u64::MAX - 1).unwrap();
        assert!(host.validate_at(1000, [&ca]).is_ok());
        assert_eq!(host.cert_type(), CertType::Host);
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
