//! Private keys for issued identities, in the PEM encodings Teleport's identity files use.

use base64::Engine as _;
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256};

use crate::der;
use crate::error::{Error, Result};

// Test-only key material (see fixtures/README.md): ring cannot generate RSA keys, so every RSA
// identity reuses this one throw-away key. It protects nothing.
const TEST_RSA_PKCS1_PEM: &str = include_str!("../fixtures/test-rsa2048.pkcs1.pem");
const TEST_RSA_PKCS8_PEM: &str = include_str!("../fixtures/test-rsa2048.pkcs8.pem");

/// OID 1.2.840.10045.3.1.7 (prime256v1), DER content bytes.
const P256_OID: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Which private key, and which PEM encoding of it, an identity gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyKind {
    /// A fresh ECDSA P-256 key as PKCS#8 `PRIVATE KEY` (Teleport's balanced-v1 suite).
    #[default]
    EcdsaP256,
    /// RSA-2048 as PKCS#1 `RSA PRIVATE KEY` (Teleport's legacy suite). Always the same
    /// fixture key, because ring cannot generate RSA keys.
    Rsa2048Pkcs1,
    /// A fresh ECDSA P-256 key as SEC1 `EC PRIVATE KEY` (accepted by Teleport's parser).
    EcSec1,
}

impl KeyKind {
    pub(crate) fn is_rsa(self) -> bool {
        matches!(self, KeyKind::Rsa2048Pkcs1)
    }
}

/// A key pair for signing plus the PEM text handed to the client.
pub(crate) struct GeneratedKey {
    pub(crate) pair: KeyPair,
    pub(crate) pem: String,
}

pub(crate) fn generate(kind: KeyKind) -> Result<GeneratedKey> {
    match kind {
        KeyKind::EcdsaP256 => {
            let pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
            let pem = pair.serialize_pem();
            Ok(GeneratedKey { pair, pem })
        }
        KeyKind::EcSec1 => {
            let pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
            let pem = sec1_pem(&pair)?;
            Ok(GeneratedKey { pair, pem })
        }
        KeyKind::Rsa2048Pkcs1 => Ok(GeneratedKey {
            pair: KeyPair::from_pem(TEST_RSA_PKCS8_PEM)?,
            pem: TEST_RSA_PKCS1_PEM.to_owned(),
        }),
    }
}

/// Re-encodes ring's PKCS#8 P-256 key as a SEC1 `ECPrivateKey` that names its curve, which Go's
/// `x509.ParseECPrivateKey` requires (ring's inner key omits the curve parameters).
fn sec1_pem(pair: &KeyPair) -> Result<String> {
    let scalar = pkcs8_ec_scalar(pair.serialized_der())
        .ok_or_else(|| Error::Key("unexpected PKCS#8 layout for a P-256 key".into()))?;
    let mut public = vec![0u8]; // BIT STRING: zero unused bits
    public.extend_from_slice(pair.public_key_raw());
    let body = [
        der::write(der::INTEGER, &[1]),
        der::write(der::OCTET_STRING, scalar),
        der::write(0xa0, &der::write(der::OID, P256_OID)),
        der::write(0xa1, &der::write(der::BIT_STRING, &public)),
    ]
    .concat();
    Ok(pem("EC PRIVATE KEY", &der::write(der::SEQUENCE, &body)))
}

/// The private scalar inside a PKCS#8 `PrivateKeyInfo` wrapping an `ECPrivateKey`.
fn pkcs8_ec_scalar(pkcs8: &[u8]) -> Option<&[u8]> {
    let (info, _) = der::expect(pkcs8, der::SEQUENCE)?;
    let (_version, rest) = der::expect(info, der::INTEGER)?;
    let (_algorithm, rest) = der::expect(rest, der::SEQUENCE)?;
    let (wrapped, _) = der::expect(rest, der::OCTET_STRING)?;
    let (ec_key, _) = der::expect(wrapped, der::SEQUENCE)?;
    let (_version, rest) = der::expect(ec_key, der::INTEGER)?;
    let (scalar, _) = der::expect(rest, der::OCTET_STRING)?;
    Some(scalar)
}

/// PEM-armours DER with 64-column lines, newline-terminated.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::PublicKeyData;
    use rustls_pki_types::PrivateKeyDer;
    use rustls_pki_types::pem::PemObject;

    fn loads_in_rustls(pem: &str) -> PrivateKeyDer<'static> {
        let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap();
        rustls::crypto::ring::sign::any_supported_type(&key).unwrap();
        key
    }

    #[test]
    fn each_kind_has_its_pem_label_and_loads() {
        let cases = [
            (KeyKind::EcdsaP256, "PRIVATE KEY"),
            (KeyKind::EcSec1, "EC PRIVATE KEY"),
            (KeyKind::Rsa2048Pkcs1, "RSA PRIVATE KEY"),
        ];
        for (kind, label) in cases {
            let key = generate(kind).unwrap();
            assert!(
                key.pem.starts_with(&format!("-----BEGIN {label}-----\n")),
                "{kind:?}: {}",
                key.pem.lines().next().unwrap()
            );
            let parsed = loads_in_rustls(&key.pem);
            let expected_variant = match kind {
                KeyKind::EcdsaP256 => matches!(parsed, PrivateKeyDer::Pkcs8(_)),
                KeyKind::EcSec1 => matches!(parsed, PrivateKeyDer::Sec1(_)),
                KeyKind::Rsa2048Pkcs1 => matches!(parsed, PrivateKeyDer::Pkcs1(_)),
            };
            assert!(expected_variant, "{kind:?} parsed as the wrong variant");
        }
    }

    #[test]
    fn sec1_names_the_curve_like_openssl() {
        let key = generate(KeyKind::EcSec1).unwrap();
        let PrivateKeyDer::Sec1(der) = loads_in_rustls(&key.pem) else {
            panic!("not SEC1")
        };
        let bytes = der.secret_sec1_der();
        // OpenSSL's P-256 SEC1 keys are 121 bytes: SEQUENCE(119) { 1, d[32], [0] oid, [1] Q }.
        assert_eq!(bytes.len(), 121);
        assert_eq!(&bytes[..7], &[0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20]);
        assert_eq!(&bytes[39..41], &[0xa0, 0x0a]);
        assert_eq!(&bytes[43..51], P256_OID);
        assert_eq!(&bytes[bytes.len() - 65..], key.pair.public_key_raw());
    }

    #[test]
    fn rsa_fixture_forms_are_the_same_key() {
        let from_pkcs8 = KeyPair::from_pem(TEST_RSA_PKCS8_PEM).unwrap();
        let pkcs1 = PrivateKeyDer::from_pem_slice(TEST_RSA_PKCS1_PEM.as_bytes()).unwrap();
        let signer = rustls::crypto::ring::sign::any_supported_type(&pkcs1).unwrap();
        let spki = signer.public_key().unwrap();
        assert_eq!(
            spki.as_ref(),
            from_pkcs8.subject_public_key_info().as_slice()
        );
    }
}
