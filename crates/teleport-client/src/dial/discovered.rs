//! The reverse tunnel found through the proxy's web address, as Go's `proxyConnect`: ask
//! `/webapi/find` (over TLS verified with the web PKI, through the HTTP proxy like every
//! mode), then SSH to the tunnel it names — raw TCP to the separate tunnel port, or TLS with
//! ALPN `teleport-reversetunnel` to the web port when TLS routing is on — and the usual mTLS
//! to auth over the `teleport-transport` channel.
//!
//! The answer is kept after a connection works, so reconnects cost no HTTP request; when a
//! tunnel found by a kept answer fails, the proxy is asked again once (it may have moved).

use std::io;

use tokio_rustls::client::TlsStream;

use super::discovery::{self, FIND_PATH, FindResponse, TUNNEL_PUBLIC_ADDR_ENV};
use super::http_proxy::{self, HttpProxy, split_host_port};
use super::tls::handshake_with;
use super::{BoxIo, DialMode, Dialer, Plan, open_to, tls, tunnel};
use crate::credentials::Identity;

/// A failure, with the mode it belongs to once the answer has said which.
type Failure = (DialMode, String);

impl Plan {
    /// `Some` for the plans that start with `/webapi/find`, with the mode they insist on.
    pub(super) fn discovered(self) -> Option<Option<DialMode>> {
        match self {
            Plan::Discover => Some(None),
            Plan::Mode(mode) if mode.is_discovered() => Some(Some(mode)),
            Plan::Mode(_) | Plan::ProxyRouting => None,
        }
    }
}

impl Dialer {
    /// [`connect_discovered`](Self::connect_discovered) within the connect timeout, its
    /// failure worded with the mode that failed.
    pub(super) async fn attempt_discovered(
        &self,
        wanted: Option<DialMode>,
        identity: &Identity,
        proxy: Option<&HttpProxy>,
    ) -> (DialMode, Result<TlsStream<BoxIo>, String>) {
        let label = wanted.unwrap_or(DialMode::ProxyTunnel);
        let discovered = self.connect_discovered(label, wanted, identity, proxy);
        match tokio::time::timeout(self.connect_timeout, discovered).await {
            Ok(Ok((mode, stream))) => (mode, Ok(stream)),
            Ok(Err((mode, error))) => (mode, Err(format!("{mode}: {error}"))),
            Err(_) => (
                label,
                Err(format!(
                    "{label}: timed out after {:?}",
                    self.connect_timeout
                )),
            ),
        }
    }

    /// The tunnel that the answer kept from the last find names, else (or when it fails)
    /// find again, then the tunnel its answer names; the answer is kept once its tunnel
    /// works. `wanted` is a mode the policy insists on (or the one that worked last time);
    /// `None` takes whichever the answer calls for. `label` names a failure of find itself.
    async fn connect_discovered(
        &self,
        label: DialMode,
        wanted: Option<DialMode>,
        identity: &Identity,
        proxy: Option<&HttpProxy>,
    ) -> Result<(DialMode, TlsStream<BoxIo>), Failure> {
        let kept = self.found.lock().await.clone();
        if let Some(answer) = kept {
            match self.through(&answer, wanted, identity).await {
                Ok(done) => return Ok(done),
                Err((mode, error)) => {
                    tracing::info!(addr = %self.addr, %mode, %error, "the tunnel found before failed; asking {FIND_PATH} again");
                    *self.found.lock().await = None;
                }
            }
        }
        let answer = self
            .discover(proxy)
            .await
            .map_err(|e| (label, format!("{FIND_PATH} on {}: {e}", self.addr)))?;
        tracing::debug!(
            addr = %self.addr,
            tls_routing = answer.proxy.tls_routing_enabled,
            cluster = %answer.cluster_name,
            version = %answer.server_version,
            "{FIND_PATH} answered"
        );
        let done = self.through(&answer, wanted, identity).await?;
        *self.found.lock().await = Some(answer);
        Ok(done)
    }

    /// GET `/webapi/find` on the configured address.
    async fn discover(&self, proxy: Option<&HttpProxy>) -> io::Result<FindResponse> {
        let tcp = self.open(proxy).await?;
        let tls = self
            .web_tls(tcp, &self.host, b"http/1.1")
            .await
            .map_err(handshake_with("the web port"))?;
        discovery::find(Box::new(tls), &self.addr).await
    }

    /// The tunnel the answer names, SSH over it, then mTLS with auth.
    async fn through(
        &self,
        answer: &FindResponse,
        wanted: Option<DialMode>,
        identity: &Identity,
    ) -> Result<(DialMode, TlsStream<BoxIo>), Failure> {
        let env_override = self.env.var(TUNNEL_PUBLIC_ADDR_ENV);
        let target = answer.tunnel_target(&self.addr, env_override.as_deref());
        let mode = match target.tls_routing {
            true => DialMode::ProxyTunnelTlsRouting,
            false => DialMode::ProxyTunnel,
        };
        if let Some(wanted) = wanted.filter(|w| *w != mode) {
            let state = if target.tls_routing { "on" } else { "off" };
            return Err((
                wanted,
                format!("{FIND_PATH} says TLS routing is {state}, so the tunnel is {mode}"),
            ));
        }
        let at = |error: io::Error| (mode, format!("tunnel at {}: {error}", target.addr));
        let proxy = http_proxy::proxy_for_with(&target.addr, |name| self.env.var(name))
            .map_err(|e| at(io::Error::other(e.to_string())))?;
        let tcp = open_to(&target.addr, proxy.as_ref()).await.map_err(at)?;
        let host = split_host_port(&target.addr).0;
        let transport: BoxIo = match target.tls_routing {
            true => self.reverse_tunnel_tls(tcp, host).await.map_err(at)?,
            false => Box::new(tcp),
        };
        let inner = tunnel::open(transport, host, identity).await.map_err(at)?;
        let stream = self.auth_tls(mode, identity, inner).await.map_err(at)?;
        Ok((mode, stream))
    }

    /// TLS to the web port asking for the tunnel route, the web certificate verified as
    /// any HTTPS server's.
    async fn reverse_tunnel_tls(
        &self,
        tcp: tokio::net::TcpStream,
        host: &str,
    ) -> io::Result<BoxIo> {
        let tls = self
            .web_tls(tcp, host, tls::REVERSE_TUNNEL_ALPN)
            .await
            .map_err(handshake_with("the web port"))?;
        if tls.get_ref().1.alpn_protocol() != Some(tls::REVERSE_TUNNEL_ALPN) {
            return Err(io::Error::other(
                "the web port did not accept ALPN teleport-reversetunnel",
            ));
        }
        Ok(Box::new(tls))
    }
}
