//! The reverse tunnel: SSH to the proxy's tunnel listener (port 3024), authenticated with the
//! identity file's OpenSSH certificate, the proxy's host certificate checked against the
//! identity's host CAs (Go's `CertChecker`: a host certificate, signed by a listed CA, valid
//! now, naming the dialed host when it names any), then one `teleport-transport` channel
//! dialled to `@remote-auth-server`, over which the caller runs the usual mTLS to auth.
//!
//! RSA identities (the legacy suite) sign the user-auth with ring (`ssh_identity`), since the
//! vendored russh is built without the `rsa` crate. For the same reason an RSA host CA's
//! signature on the host certificate is checked with ring here, and the patched russh checks
//! an RSA host key's kex signature with ring; SHA-1 `ssh-rsa` is refused on both.
//!
//! One SSH connection per transport channel, as Go's exclusive `ChConn`: the connection ends
//! with the stream. The SSH work is russh's (patched in `third_party/russh` for the custom
//! channel type and request).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use ring::signature;
use russh::client::{self, Handle, Msg};
use russh::keys::Certificate;
use russh::keys::PublicKeyOrCertificate;
use russh::keys::ssh_key::certificate::CertType;
use russh::keys::ssh_key::public::{KeyData, RsaPublicKey};
use russh::keys::ssh_key::{Algorithm, EcdsaCurve, Fingerprint, HashAlg};
use russh::{ChannelMsg, ChannelStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::BoxIo;
use super::ssh_identity::{Parsed, RSA_SIGNATURE_HASH, SshKey};
use crate::credentials::Identity;

/// Teleport's transport channel type.
const TRANSPORT_CHANNEL: &str = "teleport-transport";
/// The request that names the transport channel's destination.
const TRANSPORT_DIAL_REQUEST: &str = "teleport-transport-dial";
/// Go's `DialReq` for the auth server: raw JSON as the request payload.
const DIAL_AUTH: &[u8] = br#"{"address":"@remote-auth-server","conn_type":"node"}"#;
/// A refusal's stderr is read up to this many bytes.
const MAX_REASON: usize = 4096;

/// Opens the transport channel to auth over `transport` (a connection to the tunnel
/// listener at `host`).
pub(super) async fn open(transport: BoxIo, host: &str, identity: &Identity) -> io::Result<BoxIo> {
    let ssh = identity.ssh().ok_or_else(|| {
        io::Error::other("the credentials have no SSH certificate (only an identity file has one)")
    })?;
    let parsed = Parsed::from(ssh)?;
    let rejected = Arc::new(Mutex::new(None));
    let checker = HostChecker {
        cas: parsed.cas,
        host: host.to_owned(),
        rejected: Arc::clone(&rejected),
    };
    let config = client::Config {
        nodelay: true,
        preferred: russh::Preferred {
            // Teleport's proxies present host certificates; offer their algorithms.
            host_key_certificates: std::borrow::Cow::Borrowed(CERT_ALGORITHMS),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut handle = match client::connect_stream(Arc::new(config), transport, checker).await {
        Ok(handle) => handle,
        Err(error) => {
            let reason = rejected.lock().map(|r| r.clone()).unwrap_or_default();
            return Err(match reason {
                Some(reason) => io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the tunnel's SSH host key is not trusted: {reason}"),
                ),
                None => io::Error::other(format!("SSH handshake with the tunnel: {error}")),
            });
        }
    };
    let auth = match parsed.key {
        SshKey::Native(key) => handle
            .authenticate_openssh_cert(parsed.user, Arc::new(*key), parsed.cert)
            .await
            .map_err(|e| io::Error::other(format!("SSH authentication: {e}")))?,
        SshKey::Rsa(mut signer) => handle
            .authenticate_certificate_with(
                parsed.user,
                parsed.cert,
                Some(RSA_SIGNATURE_HASH),
                &mut signer,
            )
            .await
            .map_err(|e| io::Error::other(format!("SSH authentication: {e}")))?,
    };
    if !auth.success() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the tunnel refused the identity's SSH certificate",
        ));
    }
    let mut channel = handle
        .channel_open_custom(TRANSPORT_CHANNEL, Vec::new())
        .await
        .map_err(|e| io::Error::other(format!("opening {TRANSPORT_CHANNEL}: {e}")))?;
    channel
        .request_custom(true, TRANSPORT_DIAL_REQUEST, DIAL_AUTH.to_vec())
        .await
        .map_err(|e| io::Error::other(format!("sending {TRANSPORT_DIAL_REQUEST}: {e}")))?;
    loop {
        match channel.wait().await {
            Some(ChannelMsg::Success) => break,
            Some(ChannelMsg::Failure) => {
                // Go reads the proxy's reason from stderr until the channel closes.
                let mut reason = Vec::new();
                while let Some(msg) = channel.wait().await {
                    match msg {
                        ChannelMsg::ExtendedData { data, ext: 1 } if reason.len() < MAX_REASON => {
                            reason.extend_from_slice(&data)
                        }
                        ChannelMsg::Eof | ChannelMsg::Close => break,
                        _ => {}
                    }
                }
                let reason = String::from_utf8_lossy(&reason).trim().to_owned();
                return Err(io::Error::other(match reason.is_empty() {
                    true => "the proxy refused to dial the auth server".to_owned(),
                    false => format!("the proxy refused to dial the auth server: {reason}"),
                }));
            }
            // stderr before the answer: Go reads it only on failure, as the loop above.
            Some(ChannelMsg::ExtendedData { .. } | ChannelMsg::WindowAdjusted { .. }) => {}
            Some(other) => {
                return Err(io::Error::other(format!(
                    "unexpected answer to {TRANSPORT_DIAL_REQUEST}: {other:?}"
                )));
            }
            None => return Err(io::Error::other("the tunnel closed the transport channel")),
        }
    }
    Ok(Box::new(Tunnelled {
        stream: channel.into_stream(),
        _ssh: handle,
    }))
}

/// Host-certificate algorithms offered (the host keys Teleport's suites give proxies). An
/// RSA host key (the legacy suite) signs the key exchange with SHA-2 only: no `ssh-rsa`.
const CERT_ALGORITHMS: &[Algorithm] = &[
    Algorithm::Ed25519,
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP256,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP384,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP521,
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha512),
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha256),
    },
];

/// Checks the proxy's host key; the reason for a refusal is kept for the error.
struct HostChecker {
    cas: Vec<Fingerprint>,
    host: String,
    rejected: Arc<Mutex<Option<String>>>,
}

impl HostChecker {
    fn check(&self, key: &PublicKeyOrCertificate) -> Result<(), String> {
        let cert = match key {
            PublicKeyOrCertificate::Certificate(cert) => cert,
            PublicKeyOrCertificate::PublicKey { .. } => {
                return Err("the server presented a plain host key, not a host certificate".into());
            }
        };
        if cert.cert_type() != CertType::Host {
            return Err("the server's certificate is not a host certificate".into());
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let signed = match cert.signature_key() {
            // ssh-key verifies RSA only with the `rsa` crate, kept out of the build: the
            // same checks as `validate_at`, the signature by ring.
            KeyData::Rsa(ca) => {
                let trusted = self
                    .cas
                    .contains(&cert.signature_key().fingerprint(HashAlg::Sha256));
                let in_window = cert.valid_after() <= now && now < cert.valid_before();
                trusted && in_window && rsa_ca_signed(cert, ca)?
            }
            _ => cert.validate_at(now, &self.cas).is_ok(),
        };
        if !signed {
            return Err(
                "its certificate is not signed by a host CA of the identity file, or is out of its validity window"
                    .to_owned(),
            );
        }
        let principals = cert.valid_principals();
        if !principals.is_empty() && !principals.iter().any(|p| p == &self.host) {
            return Err(format!(
                "its certificate is not valid for {:?} (principals {principals:?})",
                self.host
            ));
        }
        Ok(())
    }
}

/// Whether the RSA CA `ca` signed `cert` (`rsa-sha2-256` or `rsa-sha2-512`). A SHA-1
/// `ssh-rsa` signature is an error: Teleport has not made one since v7, and OpenSSH refuses
/// them by default too.
fn rsa_ca_signed(cert: &Certificate, ca: &RsaPublicKey) -> Result<bool, String> {
    let signature = cert.signature();
    let params = match signature.algorithm() {
        Algorithm::Rsa {
            hash: Some(HashAlg::Sha512),
        } => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::Rsa {
            hash: Some(HashAlg::Sha256),
        } => &signature::RSA_PKCS1_2048_8192_SHA256,
        other => {
            return Err(format!(
                "its certificate's signature ({other}) is not rsa-sha2-256 or rsa-sha2-512"
            ));
        }
    };
    let (Some(n), Some(e)) = (ca.n().as_positive_bytes(), ca.e().as_positive_bytes()) else {
        return Ok(false);
    };
    // What the CA signed: the certificate's encoding up to the signature, the last field
    // (`string signature`, itself `string algorithm, string blob`).
    let Ok(encoded) = cert.to_bytes() else {
        return Ok(false);
    };
    let signature_field =
        4 + 4 + signature.algorithm().as_str().len() + 4 + signature.as_bytes().len();
    let Some(signed) = encoded
        .len()
        .checked_sub(signature_field)
        .map(|end| &encoded[..end])
    else {
        return Ok(false);
    };
    Ok(signature::RsaPublicKeyComponents { n, e }
        .verify(params, signed, signature.as_bytes())
        .is_ok())
}

impl client::Handler for HostChecker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        match self.check(key) {
            Ok(()) => Ok(true),
            Err(reason) => {
                if let Ok(mut slot) = self.rejected.lock() {
                    *slot = Some(reason);
                }
                Ok(false)
            }
        }
    }
}

/// The transport channel as a byte stream; holds the SSH connection open while it lives.
struct Tunnelled {
    stream: ChannelStream<Msg>,
    _ssh: Handle<HostChecker>,
}

impl AsyncRead for Tunnelled {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tunnelled {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
