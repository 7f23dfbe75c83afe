//! Dialing Teleport: from one `addr`, every way the Go client reaches the auth server, tried
//! concurrently; the first to complete the end-to-end mTLS handshake with auth wins and is
//! tried first next time.
//!
//! Modes: straight to auth (ALPN `h2`); through the proxy's TLS routing (ALPN
//! `teleport-auth@<hex cluster>...`); the same routing tunnelled through the proxy's
//! connection-upgrade endpoint when an L7 load balancer terminates TLS in front of it; and,
//! with an identity file's SSH certificate, the proxy's reverse tunnel (SSH, port 3024), either
//! at `addr` itself or where the proxy's `/webapi/find` says it is (`discovered.rs`). Every
//! mode can go through an HTTP `CONNECT` proxy (`HTTPS_PROXY`, `NO_PROXY`). TLS is done here
//! rather than by tonic because tonic cannot set a custom ALPN, and because each new
//! connection must pick up the current (possibly renewed) identity.

mod discovered;
mod discovery;
mod http_proxy;
mod ssh_identity;
mod tls;
mod tunnel;
mod upgrade;
mod websocket;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::credentials::Identity;
use crate::identity_store::IdentityStore;
use http_proxy::HttpProxy;
pub(crate) use tls::auth_tls_config;
use tls::handshake_with;
pub use tls::{TELEPORT_SERVER_NAME, auth_alpn_protocol};
pub use upgrade::CONN_UPGRADE_ENV;
use upgrade::{Decision, Flavor, UpgradeError};

/// Port of a Teleport auth server by convention.
pub(crate) const AUTH_PORT: u16 = 3025;

/// A byte stream a TLS session can run over: TCP, a CONNECT tunnel, an upgraded connection.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
pub(crate) type BoxIo = Box<dyn Io>;
/// What a dial hands tonic: the end-to-end mTLS session with auth.
pub(crate) type AuthStream = TokioIo<TlsStream<BoxIo>>;

/// How the auth server was (or is to be) reached from the configured address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialMode {
    /// The address is an auth server: mTLS straight to it.
    AuthDirect,
    /// The address is a proxy web port with TLS routing: mTLS to auth through it.
    ProxyTlsRouting,
    /// The address is a proxy behind an L7 load balancer that terminates TLS: the TLS-routing
    /// connection travels inside the proxy's connection upgrade (WebSocket, or the legacy
    /// `alpn` upgrade on older proxies).
    ProxyConnUpgrade,
    /// The address is the proxy's reverse-tunnel listener: SSH with the identity file's
    /// certificate, a `teleport-transport` channel to auth, mTLS inside it.
    ReverseTunnel,
    /// The address is a proxy web port without TLS routing: `/webapi/find` names the reverse
    /// tunnel's address, then as [`ReverseTunnel`](Self::ReverseTunnel) there.
    ProxyTunnel,
    /// The address is a proxy web port with TLS routing: after `/webapi/find`, the reverse
    /// tunnel's SSH inside TLS to the web port with ALPN `teleport-reversetunnel`.
    ProxyTunnelTlsRouting,
}

impl DialMode {
    const ALL: [DialMode; 6] = [
        DialMode::AuthDirect,
        DialMode::ProxyTlsRouting,
        DialMode::ProxyConnUpgrade,
        DialMode::ReverseTunnel,
        DialMode::ProxyTunnel,
        DialMode::ProxyTunnelTlsRouting,
    ];

    /// Modes whose target comes from `/webapi/find`.
    fn is_discovered(self) -> bool {
        matches!(self, Self::ProxyTunnel | Self::ProxyTunnelTlsRouting)
    }

    fn to_u8(self) -> u8 {
        match self {
            Self::AuthDirect => 1,
            Self::ProxyTlsRouting => 2,
            Self::ProxyConnUpgrade => 3,
            Self::ReverseTunnel => 4,
            Self::ProxyTunnel => 5,
            Self::ProxyTunnelTlsRouting => 6,
        }
    }

    fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.to_u8() == v)
    }
}

impl fmt::Display for DialMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AuthDirect => "auth server directly",
            Self::ProxyTlsRouting => "proxy TLS routing",
            Self::ProxyConnUpgrade => "proxy TLS routing behind an L7 load balancer",
            Self::ReverseTunnel => "proxy reverse tunnel (SSH)",
            Self::ProxyTunnel => "proxy reverse tunnel found by /webapi/find (SSH)",
            Self::ProxyTunnelTlsRouting => {
                "proxy reverse tunnel through TLS routing (SSH in ALPN teleport-reversetunnel)"
            }
        })
    }
}

/// Which modes to try.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DialPolicy {
    /// Like the Go client: auth directly, the proxy's TLS routing (through the connection
    /// upgrade when an L7 load balancer is detected or `TELEPORT_TLS_ROUTING_CONN_UPGRADE`
    /// says so) and, when the identity has an SSH certificate, the reverse tunnel at `addr`
    /// and the one `/webapi/find` names, all at the same time; the first that works wins and is tried alone next time, all again if it
    /// fails.
    #[default]
    Auto,
    /// Only this mode.
    Only(DialMode),
}

/// What one dial attempt is: a fixed mode, or the proxy's routing with the load-balancer
/// question still open.
#[derive(Clone, Copy, Debug)]
enum Plan {
    Mode(DialMode),
    ProxyRouting,
    /// Ask `/webapi/find`, then the tunnel mode its answer calls for.
    Discover,
}

/// Where the dialer reads `HTTPS_PROXY`, `NO_PROXY` and `TELEPORT_TLS_ROUTING_CONN_UPGRADE`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DialEnv {
    /// The process environment, as the Go client does.
    #[default]
    Process,
    /// These variables only (tests, or a program that configures the client itself).
    Fixed(Vec<(String, String)>),
}

impl DialEnv {
    /// A fixed set of variables.
    pub fn fixed<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> Self {
        Self::Fixed(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    pub(crate) fn var(&self, name: &str) -> Option<String> {
        match self {
            Self::Process => std::env::var(name).ok(),
            Self::Fixed(vars) => vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
        }
    }
}

/// Settings the dialer takes from the client configuration.
pub(crate) struct DialerSettings {
    pub(crate) addr: String,
    pub(crate) policy: DialPolicy,
    pub(crate) connect_timeout: Duration,
    pub(crate) web_ca_file: Option<PathBuf>,
    pub(crate) env: DialEnv,
}

/// Opens authenticated TLS connections to the auth server.
pub(crate) struct Dialer {
    addr: String,
    host: String,
    policy: DialPolicy,
    identities: Arc<IdentityStore>,
    last_good: AtomicU8,
    connect_timeout: Duration,
    /// From the environment at start; an unusable proxy URL fails every dial with its reason.
    proxy: Result<Option<HttpProxy>, http_proxy::ProxyUrlError>,
    upgrade_override: Option<Decision>,
    web_ca_file: Option<PathBuf>,
    /// Loaded on first use: only the load-balancer modes need the web PKI.
    web_roots: tokio::sync::OnceCell<Result<Arc<RootCertStore>, String>>,
    /// For the HTTP proxy of a discovered tunnel address and `TELEPORT_TUNNEL_PUBLIC_ADDR`.
    env: DialEnv,
    /// The last `/webapi/find` answer; dropped when a tunnel found by it fails.
    found: tokio::sync::Mutex<Option<discovery::FindResponse>>,
}

impl Dialer {
    pub(crate) fn new(settings: DialerSettings, identities: Arc<IdentityStore>) -> Self {
        let host = http_proxy::split_host_port(&settings.addr).0.to_owned();
        let env = &settings.env;
        let proxy = http_proxy::proxy_for_with(&settings.addr, |name| env.var(name));
        match &proxy {
            Ok(Some(proxy)) => {
                tracing::info!(addr = %settings.addr, %proxy, "Teleport connections go through an HTTP proxy")
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "cannot use the proxy setting"),
        }
        Self {
            upgrade_override: upgrade::env_override(&settings.addr, env.var(CONN_UPGRADE_ENV)),
            addr: settings.addr,
            host,
            policy: settings.policy,
            identities,
            last_good: AtomicU8::new(0),
            connect_timeout: settings.connect_timeout,
            proxy,
            web_ca_file: settings.web_ca_file,
            web_roots: tokio::sync::OnceCell::new(),
            env: settings.env,
            found: tokio::sync::Mutex::new(None),
        }
    }

    /// The mode of the last successful connection, if any.
    pub(crate) fn last_mode(&self) -> Option<DialMode> {
        DialMode::from_u8(self.last_good.load(Ordering::Relaxed))
    }

    /// Connects with the mode that worked last time, else with every applicable mode at once.
    pub(crate) async fn connect(&self) -> io::Result<AuthStream> {
        let identity = self.identities.current_for_connect();
        let proxy = match &self.proxy {
            Ok(proxy) => proxy.as_ref(),
            Err(error) => {
                return Err(io::Error::other(format!(
                    "cannot connect to Teleport at {}: {error}",
                    self.addr
                )));
            }
        };
        if let (DialPolicy::Auto, Some(mode)) = (self.policy, self.last_mode()) {
            match self.attempt(Plan::Mode(mode), &identity, proxy).await {
                (_, Ok(stream)) => return Ok(TokioIo::new(stream)),
                (_, Err(error)) => {
                    tracing::info!(addr = %self.addr, %mode, %error, "the connection mode that worked before failed; trying every mode");
                }
            }
        }
        let plans = match self.policy {
            DialPolicy::Only(mode) => vec![Plan::Mode(mode)],
            DialPolicy::Auto => {
                let mut plans = vec![Plan::Mode(DialMode::AuthDirect), Plan::ProxyRouting];
                // Go tries the tunnel only with SSH credentials (an identity file).
                if identity.has_ssh_certificate() {
                    plans.push(Plan::Mode(DialMode::ReverseTunnel));
                    plans.push(Plan::Discover);
                }
                plans
            }
        };
        let mut attempts: FuturesUnordered<_> = plans
            .into_iter()
            .map(|plan| self.attempt(plan, &identity, proxy))
            .collect();
        let mut failures = Vec::new();
        while let Some((mode, result)) = attempts.next().await {
            match result {
                Ok(stream) => {
                    // Dropping the others cancels them mid-handshake; nothing is left open.
                    drop(attempts);
                    self.remember(mode, proxy);
                    return Ok(TokioIo::new(stream));
                }
                Err(error) => failures.push(error),
            }
        }
        Err(io::Error::other(format!(
            "cannot connect to Teleport at {}{}: every connection mode failed: {}",
            self.addr,
            proxy.map(|p| format!(" through {p}")).unwrap_or_default(),
            failures.join("; ")
        )))
    }

    fn remember(&self, mode: DialMode, proxy: Option<&HttpProxy>) {
        let previous = self.last_good.swap(mode.to_u8(), Ordering::Relaxed);
        if previous != mode.to_u8() {
            tracing::info!(
                addr = %self.addr,
                %mode,
                via = %proxy.map(ToString::to_string).unwrap_or_else(|| "no HTTP proxy".into()),
                "connected to Teleport"
            );
        }
    }

    /// One attempt within the connect timeout; the error text names the mode and why it
    /// was chosen.
    async fn attempt(
        &self,
        plan: Plan,
        identity: &Identity,
        proxy: Option<&HttpProxy>,
    ) -> (DialMode, Result<TlsStream<BoxIo>, String>) {
        if let Some(wanted) = plan.discovered() {
            return self.attempt_discovered(wanted, identity, proxy).await;
        }
        let run = async {
            let (mode, why) = match plan {
                Plan::Mode(mode) => (mode, None),
                Plan::Discover => (DialMode::ProxyTunnel, None),
                Plan::ProxyRouting => {
                    let decision = self.needs_upgrade(proxy).await;
                    tracing::debug!(addr = %self.addr, upgrade = decision.upgrade, reason = %decision.reason, "load-balancer check");
                    let mode = match decision.upgrade {
                        true => DialMode::ProxyConnUpgrade,
                        false => DialMode::ProxyTlsRouting,
                    };
                    (mode, Some(decision.reason))
                }
            };
            let result = self.connect_mode(mode, identity, proxy).await;
            (mode, why, result)
        };
        let (mode, why, result) = match tokio::time::timeout(self.connect_timeout, run).await {
            Ok(done) => done,
            Err(_) => {
                let mode = match plan {
                    Plan::Mode(mode) => mode,
                    Plan::ProxyRouting => DialMode::ProxyTlsRouting,
                    Plan::Discover => DialMode::ProxyTunnel,
                };
                let error = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("timed out after {:?}", self.connect_timeout),
                );
                (mode, None, Err(error))
            }
        };
        let result = result.map_err(|error| match why {
            Some(why) => format!("{mode} ({why}): {error}"),
            None => format!("{mode}: {error}"),
        });
        (mode, result)
    }

    async fn connect_mode(
        &self,
        mode: DialMode,
        identity: &Identity,
        proxy: Option<&HttpProxy>,
    ) -> io::Result<TlsStream<BoxIo>> {
        let transport = self.open(proxy).await?;
        let inner: BoxIo = match mode {
            DialMode::AuthDirect | DialMode::ProxyTlsRouting => Box::new(transport),
            DialMode::ProxyTunnel | DialMode::ProxyTunnelTlsRouting => {
                return Err(io::Error::other(
                    "a discovered mode needs /webapi/find first",
                ));
            }
            DialMode::ReverseTunnel => {
                tunnel::open(Box::new(transport), &self.host, identity).await?
            }
            DialMode::ProxyConnUpgrade => {
                match self.upgraded(Box::new(transport), Flavor::WebSocket).await {
                    Ok(stream) => stream,
                    // A proxy that does not know the WebSocket upgrade (before 15.1) refuses it
                    // with an HTTP status; it may still know the legacy one.
                    Err(UpgradeError::Refused(code)) => {
                        tracing::debug!(
                            code,
                            "WebSocket upgrade refused; trying the legacy alpn upgrade"
                        );
                        let transport = self.open(proxy).await?;
                        self.upgraded(Box::new(transport), Flavor::Legacy)
                            .await
                            .map_err(|error| {
                                io::Error::other(format!(
                                    "the WebSocket upgrade was refused with HTTP {code}, the legacy alpn upgrade: {error}"
                                ))
                            })?
                    }
                    Err(UpgradeError::Failed(error)) => return Err(error),
                }
            }
        };
        self.auth_tls(mode, identity, inner).await
    }

    /// The end-to-end mTLS with auth over `inner`, checked to speak HTTP/2.
    async fn auth_tls(
        &self,
        mode: DialMode,
        identity: &Identity,
        inner: BoxIo,
    ) -> io::Result<TlsStream<BoxIo>> {
        // Inside the tunnel's channel the TLS is the direct one (ALPN `h2`), as Go's.
        let route = matches!(mode, DialMode::ProxyTlsRouting | DialMode::ProxyConnUpgrade);
        let config = auth_tls_config(identity, route).map_err(io::Error::other)?;
        let server_name = ServerName::try_from(TELEPORT_SERVER_NAME).map_err(io::Error::other)?;
        let stream = TlsConnector::from(Arc::new(config))
            .connect(server_name, inner)
            .await
            .map_err(handshake_with("auth"))?;
        let alpn = stream.get_ref().1.alpn_protocol();
        if alpn != Some(b"h2") {
            return Err(io::Error::other(format!(
                "the server did not negotiate HTTP/2 (ALPN {:?}); is this a Teleport {} address?",
                alpn.map(String::from_utf8_lossy),
                match mode {
                    DialMode::AuthDirect => "auth server",
                    _ => "proxy",
                }
            )));
        }
        Ok(stream)
    }

    /// TCP to the address, through the HTTP proxy's CONNECT when there is one.
    async fn open(&self, proxy: Option<&HttpProxy>) -> io::Result<TcpStream> {
        open_to(&self.addr, proxy).await
    }

    async fn web_roots(&self) -> io::Result<Arc<RootCertStore>> {
        self.web_roots
            .get_or_init(|| tls::web_roots(self.web_ca_file.as_deref()))
            .await
            .clone()
            .map_err(io::Error::other)
    }

    /// TLS over `io` to `host`, offering `alpn`, the certificate verified as any HTTPS
    /// server's (the system roots and the configured CA). A failed handshake's error is
    /// rustls' own: the load-balancer probe reads its alert.
    async fn web_tls<IO>(&self, io: IO, host: &str, alpn: &[u8]) -> io::Result<TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let config =
            tls::web_tls_config(self.web_roots().await?, &[alpn]).map_err(io::Error::other)?;
        let name = ServerName::try_from(host.to_owned()).map_err(io::Error::other)?;
        TlsConnector::from(Arc::new(config)).connect(name, io).await
    }

    /// TLS to the balancer (verified with the web PKI), then the upgrade request.
    async fn upgraded(&self, transport: BoxIo, flavor: Flavor) -> Result<BoxIo, UpgradeError> {
        let tls = self
            .web_tls(transport, &self.host, b"http/1.1")
            .await
            .map_err(handshake_with("the load balancer"))?;
        upgrade::upgrade(tls, &self.addr, flavor).await
    }

    /// The environment's forced answer, or Go's probe: a handshake offering only
    /// `teleport-reversetunnel`.
    async fn needs_upgrade(&self, proxy: Option<&HttpProxy>) -> Decision {
        if let Some(forced) = &self.upgrade_override {
            return forced.clone();
        }
        let probe = async {
            let tcp = self.open(proxy).await?;
            let tls = self
                .web_tls(tcp, &self.host, tls::REVERSE_TUNNEL_ALPN)
                .await?;
            Ok::<_, io::Error>(tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec))
        };
        let outcome = probe.await;
        upgrade::decide(outcome.as_ref().map(Clone::clone))
    }
}

/// TCP to `target`, through the HTTP proxy's CONNECT when there is one.
async fn open_to(target: &str, proxy: Option<&HttpProxy>) -> io::Result<TcpStream> {
    let tcp = match proxy {
        None => TcpStream::connect(target).await?,
        Some(proxy) => {
            let mut tcp = TcpStream::connect(&proxy.addr)
                .await
                .map_err(|e| io::Error::new(e.kind(), format!("cannot reach {proxy}: {e}")))?;
            http_proxy::connect_through(&mut tcp, proxy, target).await?;
            tcp
        }
    };
    tcp.set_nodelay(true)?;
    Ok(tcp)
}
