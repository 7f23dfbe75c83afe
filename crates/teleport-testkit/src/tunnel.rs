//! The proxy's reverse-tunnel listener (port 3024 in Teleport): SSH with a host certificate
//! signed by the host CA, users authenticated by an OpenSSH certificate from the user CA, and
//! `teleport-transport` channels whose `teleport-transport-dial` request for
//! `@remote-auth-server` is spliced to the auth listener (the mTLS stays end to end).
//! A refused dial answers as Teleport does: the reason on stderr, then failure.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use russh::keys::ssh_key::certificate::CertType;
use russh::keys::ssh_key::{Certificate, Fingerprint, HashAlg, PrivateKey, PublicKey};
use russh::server::{self, Auth, ChannelOpenHandle, Msg, Session};
use russh::{Channel, ChannelId};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::server::next_connection;

/// The channel type Teleport's clients open to reach a cluster service through the proxy.
pub const TRANSPORT_CHANNEL: &str = "teleport-transport";
/// The channel request naming where the transport channel goes (JSON `DialReq`).
pub const TRANSPORT_DIAL_REQUEST: &str = "teleport-transport-dial";
/// The dial address that means "an auth server of this cluster".
pub const REMOTE_AUTH_SERVER: &str = "@remote-auth-server";

/// What the listener needs, fixed for the testkit's lifetime (kept across restarts).
#[derive(Clone)]
pub(crate) struct TunnelKeys {
    pub(crate) config: Arc<server::Config>,
    pub(crate) user_ca: PublicKey,
}

impl TunnelKeys {
    pub(crate) fn new(host_key: PrivateKey, host_cert: Certificate, user_ca: PublicKey) -> Self {
        let mut config = server::Config {
            // The testkit refuses bad certificates at once; Teleport's delay is no test subject.
            auth_rejection_time: Duration::ZERO,
            auth_rejection_time_initial: Some(Duration::ZERO),
            inactivity_timeout: Some(Duration::from_secs(600)),
            ..Default::default()
        };
        config.keys.push(host_key);
        config.certificates.push(host_cert);
        Self {
            config: Arc::new(config),
            user_ca,
        }
    }
}

/// Serves the tunnel on `listener` until `stop` fires; then every SSH connection is cut.
pub(crate) fn spawn(
    listener: TcpListener,
    keys: TunnelKeys,
    auth_addr: SocketAddr,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(tcp) = next_connection(&listener, &stop).await {
            tokio::spawn(serve(tcp, keys.clone(), auth_addr, stop.clone()));
        }
    })
}

/// One SSH connection on `stream` (TCP, or TLS from the web front's ALPN route) until it
/// ends or `stop` fires.
pub(crate) async fn serve<S>(
    stream: S,
    keys: TunnelKeys,
    auth_addr: SocketAddr,
    stop: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handler = Connection {
        user_ca: keys.user_ca.fingerprint(HashAlg::Sha256),
        auth_addr,
        pending: HashMap::new(),
        stop: stop.clone(),
    };
    let session = match server::run_stream(keys.config, stream, handler).await {
        Ok(session) => session,
        Err(error) => {
            tracing::debug!(%error, "tunnel handshake failed");
            return;
        }
    };
    tokio::select! {
        _ = stop.cancelled() => {}
        result = session => {
            if let Err(error) = result {
                tracing::debug!(%error, "tunnel connection ended");
            }
        }
    }
}

/// One SSH connection: transport channels opened but not yet dialled.
struct Connection {
    user_ca: Fingerprint,
    auth_addr: SocketAddr,
    pending: HashMap<ChannelId, Channel<Msg>>,
    stop: CancellationToken,
}

impl Connection {
    /// Dials for one transport channel; `Err` is the text Teleport would put on stderr.
    async fn dial(&self, payload: &[u8]) -> Result<TcpStream, String> {
        let request: serde_json::Value = serde_json::from_slice(payload)
            .map_err(|e| format!("bad {TRANSPORT_DIAL_REQUEST} payload: {e}"))?;
        let address = request["address"].as_str().unwrap_or_default();
        if address != REMOTE_AUTH_SERVER {
            return Err(format!("unsupported address {address:?}"));
        }
        TcpStream::connect(self.auth_addr)
            .await
            .map_err(|e| format!("failed connecting to auth server: {e}"))
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_openssh_certificate(
        &mut self,
        user: &str,
        certificate: &Certificate,
    ) -> Result<Auth, Self::Error> {
        // Signature by the user CA, validity window, a user certificate, the login named.
        let signed = certificate.validate_at(now(), [&self.user_ca]).is_ok();
        let user_cert = certificate.cert_type() == CertType::User;
        let principal = certificate.valid_principals().iter().any(|p| p == user);
        if signed && user_cert && principal {
            Ok(Auth::Accept)
        } else {
            tracing::debug!(
                user,
                signed,
                user_cert,
                principal,
                "tunnel refused a certificate"
            );
            Ok(Auth::reject())
        }
    }

    async fn channel_open_unknown(
        &mut self,
        channel: Channel<Msg>,
        channel_type: &str,
        reply: ChannelOpenHandle,
        _: &mut Session,
    ) -> Result<(), Self::Error> {
        if channel_type == TRANSPORT_CHANNEL {
            self.pending.insert(channel.id(), channel);
            reply.accept().await;
        }
        Ok(())
    }

    async fn channel_request_unknown(
        &mut self,
        channel: ChannelId,
        name: &str,
        _want_reply: bool,
        payload: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(open) = self.pending.remove(&channel) else {
            return session.channel_failure(channel);
        };
        if name != TRANSPORT_DIAL_REQUEST {
            self.pending.insert(channel, open);
            return session.channel_failure(channel);
        }
        match self.dial(payload).await {
            Ok(mut auth) => {
                session.channel_success(channel)?;
                let stop = self.stop.clone();
                tokio::spawn(async move {
                    let _ = auth.set_nodelay(true);
                    let mut stream = open.into_stream();
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut stream, &mut auth) => {}
                    }
                });
            }
            Err(reason) => {
                session.extended_data(channel, 1, format!("{reason}\n").into_bytes())?;
                session.channel_failure(channel)?;
                session.close(channel)?;
            }
        }
        Ok(())
    }
}
