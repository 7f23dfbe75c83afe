//! Certificate authorities: the cluster's host CA (signs the auth server) and user CA (signs clients).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

use crate::error::Result;
use crate::identity::{Identity, IdentityRequest};
use crate::keys::{self, KeyKind};
use crate::ssh;
use crate::ssh_rsa::{RsaHostCa, SshHostCa};

/// The name auth servers are verified against (and the SNI Teleport clients send).
pub const AUTH_SERVER_NAME: &str = "teleport.cluster.local";

/// Which of the cluster's two TLS authorities a [`CertAuthority`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaKind {
    /// Signs server certificates; clients trust it (the identity file's CA blocks).
    Host,
    /// Signs client certificates; the auth server trusts it.
    User,
}

/// A self-signed ECDSA P-256 CA whose subject CN and O are the cluster name, like Teleport's.
///
/// Tests use a second, unrelated `CertAuthority` to mint identities the testkit must refuse.
pub struct CertAuthority {
    cluster_name: String,
    kind: CaKind,
    issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    /// An RSA SSH half (legacy suite) instead of the P-256 key's.
    ssh_rsa: Option<RsaHostCa>,
}

impl fmt::Debug for CertAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The signing key is left out on purpose.
        f.debug_struct("CertAuthority")
            .field("cluster_name", &self.cluster_name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl CertAuthority {
    /// Creates a new CA of `kind` for `cluster_name`, valid from an hour ago for ten years.
    pub fn new(cluster_name: &str, kind: CaKind) -> Result<Self> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cluster_name);
        dn.push(DnType::OrganizationName, cluster_name);
        // Teleport's two CAs share CN and O; the unit keeps them apart for readers of certs.
        let unit = match kind {
            CaKind::Host => "host",
            CaKind::User => "user",
        };
        dn.push(DnType::OrganizationalUnitName, unit);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.serial_number = Some(random_serial());
        let now = SystemTime::now();
        params.not_before = to_offset(now - Duration::from_secs(3600));
        params.not_after = to_offset(now + Duration::from_secs(10 * 365 * 24 * 3600));
        let cert = params.self_signed(&key)?;
        Ok(CertAuthority {
            cluster_name: cluster_name.to_owned(),
            kind,
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
            ssh_rsa: None,
        })
    }

    /// Gives a host CA the SSH half `ssh` (its TLS half stays P-256).
    pub(crate) fn with_ssh_host_ca(mut self, ssh: SshHostCa) -> Result<Self> {
        self.ssh_rsa = RsaHostCa::new(ssh)?;
        Ok(self)
    }

    /// The cluster name in the CA's subject.
    pub fn cluster_name(&self) -> &str {
        &self.cluster_name
    }

    /// Host or user CA.
    pub fn kind(&self) -> CaKind {
        self.kind
    }

    /// The CA certificate as PEM (newline-terminated).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate as DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The known_hosts `@cert-authority … type=host` line for this CA's key.
    pub fn ssh_host_ca_line(&self) -> Result<String> {
        if let Some(rsa) = &self.ssh_rsa {
            return Ok(rsa.host_ca_line(&self.cluster_name));
        }
        ssh::host_ca_line(&self.cluster_name, self.issuer.key())
    }

    /// This CA's key as an SSH public key (what the tunnel trusts for user certificates).
    pub(crate) fn ssh_public_key(&self) -> Result<russh::keys::PublicKey> {
        ssh::ssh_public_key(self.issuer.key())
    }

    /// An SSH host key and its certificate signed by this CA's key, valid for `principals`
    /// from an hour ago for a year.
    pub(crate) fn issue_ssh_host_cert(
        &self,
        principals: &[&str],
    ) -> Result<(russh::keys::PrivateKey, russh::keys::Certificate)> {
        let now = unix_seconds(SystemTime::now());
        let (valid_after, valid_before) = (now.saturating_sub(3600), now + 365 * 24 * 3600);
        match &self.ssh_rsa {
            Some(rsa) => rsa.host_cert(principals, valid_after, valid_before),
            None => ssh::host_cert(self.issuer.key(), principals, valid_after, valid_before),
        }
    }

    /// Signs a client identity for `request` with this CA; `host_ca` is what the identity
    /// trusts for servers. Use the testkit's host CA with a foreign user CA to get an identity
    /// that reaches the server but is refused by it.
    pub fn issue_identity(
        &self,
        request: &IdentityRequest,
        host_ca: &CertAuthority,
    ) -> Result<Identity> {
        let key = keys::generate(request.key_kind())?;
        let (not_before, not_after) = request.window();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, request.user());
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = leaf_key_usages(request.key_kind());
        params.serial_number = Some(random_serial());
        params.not_before = to_offset(not_before);
        params.not_after = to_offset(not_after);
        let cert = params.signed_by(&key.pair, &self.issuer)?;
        let ssh_cert_line = ssh::user_cert_line(&ssh::UserCert {
            user: request.user(),
            key: &key.pair,
            rsa: request.key_kind().is_rsa(),
            signer: self.issuer.key(),
            valid_after: unix_seconds(not_before),
            valid_before: unix_seconds(not_after),
        })?;
        Ok(Identity {
            user: request.user().to_owned(),
            key_kind: request.key_kind(),
            key_pem: key.pem,
            cert_pem: cert.pem(),
            host_ca_pem: host_ca.cert_pem().to_owned(),
            ssh_cert_line,
            ssh_ca_line: host_ca.ssh_host_ca_line()?,
        })
    }

    /// A server certificate for the auth listener: SANs `teleport.cluster.local`,
    /// `*.teleport.cluster.local`, `localhost` and 127.0.0.1.
    pub(crate) fn issue_server_cert(
        &self,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(vec![
            AUTH_SERVER_NAME.to_owned(),
            format!("*.{AUTH_SERVER_NAME}"),
            "localhost".to_owned(),
        ])?;
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "teleport-testkit-auth");
        dn.push(DnType::OrganizationName, "Admin");
        params.distinguished_name = dn;
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.serial_number = Some(random_serial());
        let now = SystemTime::now();
        params.not_before = to_offset(now - Duration::from_secs(3600));
        params.not_after = to_offset(now + Duration::from_secs(365 * 24 * 3600));
        let cert = params.signed_by(&key, &self.issuer)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((vec![cert.der().clone(), self.cert_der.clone()], key_der))
    }
}

fn leaf_key_usages(kind: KeyKind) -> Vec<KeyUsagePurpose> {
    let mut usages = vec![KeyUsagePurpose::DigitalSignature];
    if kind.is_rsa() {
        usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    usages
}

/// 16 random bytes with the top bit clear, so the DER INTEGER stays positive.
fn random_serial() -> SerialNumber {
    let mut bytes = *uuid::Uuid::new_v4().as_bytes();
    bytes[0] &= 0x7f;
    SerialNumber::from_slice(&bytes)
}

fn to_offset(at: SystemTime) -> OffsetDateTime {
    OffsetDateTime::from(at)
}

fn unix_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    #[test]
    fn user_cert_subject_issuer_and_usage_match_teleport() {
        let user_ca = CertAuthority::new("example.com", CaKind::User).unwrap();
        let host_ca = CertAuthority::new("example.com", CaKind::Host).unwrap();
        let identity = user_ca
            .issue_identity(&IdentityRequest::new("access-plugin"), &host_ca)
            .unwrap();
        let der = rustls_pki_types::pem::PemObject::from_pem_slice(identity.cert_pem.as_bytes())
            .map(|c: CertificateDer<'static>| c)
            .unwrap();
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let cn = |name: &X509Name<'_>| {
            name.iter_common_name()
                .next()
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(cn(cert.subject()), "access-plugin");
        assert_eq!(cn(cert.issuer()), "example.com");
        let org = cert
            .issuer()
            .iter_organization()
            .next()
            .unwrap()
            .as_str()
            .unwrap();
        assert_eq!(org, "example.com");
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth);
        assert_eq!(identity.host_ca_pem, host_ca.cert_pem());
    }

    #[test]
    fn server_cert_names() {
        let host_ca = CertAuthority::new("example.com", CaKind::Host).unwrap();
        let (chain, _) = host_ca.issue_server_cert().unwrap();
        let (_, cert) = X509Certificate::from_der(&chain[0]).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap().value;
        let names: Vec<String> = san
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => d.to_string(),
                GeneralName::IPAddress(ip) => format!("{ip:?}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                "teleport.cluster.local",
                "*.teleport.cluster.local",
                "localhost",
                "[127, 0, 0, 1]"
            ]
        );
    }
}
