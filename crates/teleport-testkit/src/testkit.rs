//! The `Testkit` handle: configuration, start, stop and restart on the same ports.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::ca::{CaKind, CertAuthority};
use crate::error::Result;
use crate::identity::{Identity, IdentityRequest};
use crate::l7::{self, L7Options, L7Stats};
use crate::server::{bind_again, bind_again_if};
use crate::shared::{Config, Shared};
use crate::ssh_rsa::SshHostCa;
use crate::state::State;
use crate::tunnel::{self, TunnelKeys};
use crate::web::{FindAnswer, WebFront};
use crate::{proxy, server};

/// Teleport version reported by Ping unless configured otherwise.
pub const DEFAULT_SERVER_VERSION: &str = "18.0.0";
/// Events buffered per watch stream before the stream is closed for falling behind.
pub const DEFAULT_WATCH_BUFFER: usize = 1024;
/// How long `stop` waits for its tasks before aborting them.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Options for [`Testkit`]; see [`Testkit::builder`].
#[derive(Debug, Clone)]
#[must_use = "call .start().await"]
pub struct TestkitBuilder {
    cluster_name: String,
    server_version: String,
    advanced_workflows: bool,
    proxy_public_addr: Option<String>,
    with_proxy: bool,
    with_l7_front: bool,
    with_tunnel: bool,
    ssh_host_ca: SshHostCa,
    web_tls_routing: Option<bool>,
    l7: L7Options,
    watch_buffer: usize,
    go_zero_timestamps: bool,
    auth_listen: SocketAddr,
}

impl Default for TestkitBuilder {
    fn default() -> Self {
        TestkitBuilder {
            cluster_name: "example.com".to_owned(),
            server_version: DEFAULT_SERVER_VERSION.to_owned(),
            advanced_workflows: false,
            proxy_public_addr: None,
            with_proxy: false,
            with_l7_front: false,
            with_tunnel: false,
            ssh_host_ca: SshHostCa::default(),
            web_tls_routing: None,
            l7: L7Options {
                ping_interval: Duration::from_secs(30),
                legacy_only: false,
            },
            watch_buffer: DEFAULT_WATCH_BUFFER,
            go_zero_timestamps: true,
            auth_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl TestkitBuilder {
    /// Cluster name: CA subjects, Ping, the proxy's ALPN route. Default `example.com`.
    pub fn cluster_name(mut self, name: impl Into<String>) -> Self {
        self.cluster_name = name.into();
        self
    }

    /// Ping's `ServerVersion`. Default `18.0.0`.
    pub fn server_version(mut self, version: impl Into<String>) -> Self {
        self.server_version = version.into();
        self
    }

    /// Ping's `Features.AdvancedAccessWorkflows`. Default false.
    pub fn advanced_workflows(mut self, enabled: bool) -> Self {
        self.advanced_workflows = enabled;
        self
    }

    /// Ping's `ProxyPublicAddr`. Default: the proxy listener's address when there is one,
    /// else empty.
    pub fn proxy_public_addr(mut self, addr: impl Into<String>) -> Self {
        self.proxy_public_addr = Some(addr.into());
        self
    }

    /// Also start a proxy web front (HTTPS with the web certificate) answering
    /// `/webapi/find`; with `tls_routing` it says so and hands ALPN `teleport-reversetunnel`
    /// connections to the tunnel, else it names the tunnel listener (started too).
    pub fn with_web_front(mut self, tls_routing: bool) -> Self {
        self.web_tls_routing = Some(tls_routing);
        self
    }

    /// Also start the TLS-routing proxy listener. Default false.
    pub fn with_proxy(mut self, enabled: bool) -> Self {
        self.with_proxy = enabled;
        self
    }

    /// Also start a reverse-tunnel listener (SSH, Teleport's port 3024) whose
    /// `teleport-transport` channels reach the auth server. Default false.
    pub fn with_tunnel(mut self, enabled: bool) -> Self {
        self.with_tunnel = enabled;
        self
    }

    /// The key of the host CA's SSH half and the tunnel's host key: RSA for a cluster on
    /// Teleport's legacy suite. Identities issued then trust that CA. Default ECDSA.
    pub fn ssh_host_ca(mut self, ca: SshHostCa) -> Self {
        self.ssh_host_ca = ca;
        self
    }

    /// Also start an L7 load-balancer front: TLS terminated with a web certificate
    /// ([`Testkit::web_ca_pem`] trusts it), only `/webapi/connectionupgrade` passed on to the
    /// TLS-routing proxy. Default false.
    pub fn with_l7_front(mut self, enabled: bool) -> Self {
        self.with_l7_front = enabled;
        self
    }

    /// How often the L7 front pings `alpn-ping` WebSocket connections. Default 30 s.
    pub fn l7_ping_interval(mut self, interval: Duration) -> Self {
        self.l7.ping_interval = interval;
        self
    }

    /// Make the L7 front refuse the WebSocket upgrade with 400 and accept only the legacy
    /// `alpn` upgrade, like a proxy older than 15.1. Default false.
    pub fn l7_legacy_only(mut self, legacy_only: bool) -> Self {
        self.l7.legacy_only = legacy_only;
        self
    }

    /// Events buffered per watch stream before it is closed with UNKNOWN "watch buffer
    /// overflow" (Teleport closes watchers that fall behind). Default 1024.
    pub fn watch_buffer(mut self, events: usize) -> Self {
        self.watch_buffer = events;
        self
    }

    /// Write unset non-nullable timestamps (request `Created`/`Expires`/`MaxDuration`/
    /// `SessionTTL`, review `Created`, user `Expires`) as year 1 like Go does, instead of
    /// omitting them. Default true, so clients meet what real Teleport sends.
    pub fn go_zero_timestamps(mut self, enabled: bool) -> Self {
        self.go_zero_timestamps = enabled;
        self
    }

    /// Address the auth server listens on. Default `127.0.0.1:0` (a free loopback
    /// port); the standalone server in a container uses `0.0.0.0:3025`.
    pub fn auth_listen(mut self, addr: SocketAddr) -> Self {
        self.auth_listen = addr;
        self
    }

    /// Creates the CAs, binds the auth address (and the proxy) and starts serving.
    pub async fn start(self) -> Result<Testkit> {
        let host_ca = CertAuthority::new(&self.cluster_name, CaKind::Host)?
            .with_ssh_host_ca(self.ssh_host_ca)?;
        let user_ca = CertAuthority::new(&self.cluster_name, CaKind::User)?;
        let tls = server::tls_config(&host_ca, &user_ca)?;
        let auth = TcpListener::bind(self.auth_listen).await?;
        let auth_addr = auth.local_addr()?;
        let proxy = match self.with_proxy {
            true => Some(TcpListener::bind("127.0.0.1:0").await?),
            false => None,
        };
        let proxy_addr = proxy.as_ref().map(TcpListener::local_addr).transpose()?;
        // One web certificate for the L7 front and the web front.
        let with_web = self.web_tls_routing.is_some();
        let web_tls = match self.with_l7_front || with_web {
            true => Some(l7::web_tls()?),
            false => None,
        };
        let l7 = match self.with_l7_front {
            true => Some(TcpListener::bind("127.0.0.1:0").await?),
            false => None,
        };
        let l7_addr = l7.as_ref().map(TcpListener::local_addr).transpose()?;
        let web = match with_web {
            true => Some(TcpListener::bind("127.0.0.1:0").await?),
            false => None,
        };
        let web_addr = web.as_ref().map(TcpListener::local_addr).transpose()?;
        let tunnel = match self.with_tunnel || with_web {
            true => {
                // Go checks the dialed host against the certificate's principals.
                let principals = ["localhost", "127.0.0.1", self.cluster_name.as_str()];
                let (key, cert) = host_ca.issue_ssh_host_cert(&principals)?;
                let keys = TunnelKeys::new(key, cert, user_ca.ssh_public_key()?);
                Some((TcpListener::bind("127.0.0.1:0").await?, keys))
            }
            false => None,
        };
        let tunnel_addr = tunnel
            .as_ref()
            .map(|(listener, _)| listener.local_addr())
            .transpose()?;
        let web_front = match (self.web_tls_routing, &web_tls, web_addr, tunnel_addr) {
            (Some(tls_routing), Some((tls, _)), Some(web_addr), Some(tunnel_addr)) => {
                Some(WebFront::new(
                    tls,
                    &FindAnswer {
                        cluster_name: &self.cluster_name,
                        server_version: &self.server_version,
                        tls_routing,
                        web_addr,
                        tunnel_addr,
                    },
                ))
            }
            _ => None,
        };
        let proxy_public_addr = self
            .proxy_public_addr
            .or_else(|| proxy_addr.map(|a| a.to_string()))
            .unwrap_or_default();
        let shared = Shared::new(
            Config {
                cluster_name: self.cluster_name,
                server_version: self.server_version,
                advanced_workflows: self.advanced_workflows,
                proxy_public_addr,
            },
            State::new(self.watch_buffer, self.go_zero_timestamps),
        );
        let testkit = Testkit {
            shared,
            host_ca,
            user_ca,
            tls,
            auth_addr,
            proxy_addr,
            l7: match (&l7, &web_tls) {
                (Some(_), Some((tls, _))) => Some(L7Front {
                    tls: Arc::clone(tls),
                    options: self.l7,
                    counters: Arc::default(),
                }),
                _ => None,
            },
            l7_addr,
            web_ca_pem: web_tls.map(|(_, ca_pem)| ca_pem),
            web: web_front,
            web_addr,
            tunnel: tunnel.as_ref().map(|(_, keys)| keys.clone()),
            tunnel_addr,
            running: tokio::sync::Mutex::new(None),
        };
        let tunnel_listener = tunnel.map(|(listener, _)| listener);
        *testkit.running.lock().await = Some(testkit.spawn(auth, proxy, l7, tunnel_listener, web));
        Ok(testkit)
    }
}

struct Running {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// An in-process Teleport auth server (and optional proxy) on 127.0.0.1 over mutual TLS.
///
/// Dropping it stops the server. State (requests, plugin data, users, roles, counters)
/// lives as long as the `Testkit`, across [`stop`](Self::stop) and
/// [`restart`](Self::restart).
pub struct Testkit {
    pub(crate) shared: Arc<Shared>,
    host_ca: CertAuthority,
    user_ca: CertAuthority,
    tls: Arc<ServerConfig>,
    auth_addr: SocketAddr,
    proxy_addr: Option<SocketAddr>,
    l7: Option<L7Front>,
    l7_addr: Option<SocketAddr>,
    web_ca_pem: Option<String>,
    web: Option<WebFront>,
    web_addr: Option<SocketAddr>,
    tunnel: Option<TunnelKeys>,
    tunnel_addr: Option<SocketAddr>,
    running: tokio::sync::Mutex<Option<Running>>,
}

/// The L7 front's fixed parts, kept across restarts.
struct L7Front {
    tls: Arc<ServerConfig>,
    options: L7Options,
    counters: Arc<l7::Counters>,
}

impl std::fmt::Debug for Testkit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Testkit")
            .field("cluster_name", &self.cluster_name())
            .field("auth_addr", &self.auth_addr)
            .field("proxy_addr", &self.proxy_addr)
            .field("l7_addr", &self.l7_addr)
            .field("tunnel_addr", &self.tunnel_addr)
            .finish_non_exhaustive()
    }
}

impl Testkit {
    /// Options: cluster name, version, features, proxy.
    pub fn builder() -> TestkitBuilder {
        TestkitBuilder::default()
    }

    /// Starts with the defaults (`example.com`, no proxy).
    pub async fn start() -> Result<Testkit> {
        Self::builder().start().await
    }

    /// The auth listener (direct mTLS gRPC).
    pub fn auth_addr(&self) -> SocketAddr {
        self.auth_addr
    }

    /// The TLS-routing proxy listener, when started `with_proxy(true)`.
    pub fn proxy_addr(&self) -> Option<SocketAddr> {
        self.proxy_addr
    }

    /// The L7 load-balancer front, when started `with_l7_front(true)`.
    pub fn l7_addr(&self) -> Option<SocketAddr> {
        self.l7_addr
    }

    /// The reverse-tunnel (SSH) listener, when started `with_tunnel(true)`.
    pub fn tunnel_addr(&self) -> Option<SocketAddr> {
        self.tunnel_addr
    }

    /// The proxy web front, when started `with_web_front(..)`.
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.web_addr
    }

    /// `/webapi/find` requests the web front has answered.
    pub fn find_requests(&self) -> u64 {
        self.web.as_ref().map_or(0, WebFront::find_requests)
    }

    /// The CA certificate PEM of the L7 and web fronts' certificate (what a client's system
    /// store would hold for a public proxy or balancer), when there is a front.
    pub fn web_ca_pem(&self) -> Option<&str> {
        self.web_ca_pem.as_deref()
    }

    /// What the L7 front has seen so far (zeros without a front).
    pub fn l7_stats(&self) -> L7Stats {
        self.l7
            .as_ref()
            .map(|front| front.counters.snapshot())
            .unwrap_or_default()
    }

    /// The cluster name.
    pub fn cluster_name(&self) -> &str {
        &self.shared.config.cluster_name
    }

    /// The host CA certificate PEM (what clients trust for the server).
    pub fn host_ca_pem(&self) -> &str {
        self.host_ca.cert_pem()
    }

    /// The host CA (signs the auth server certificate).
    pub fn host_ca(&self) -> &CertAuthority {
        &self.host_ca
    }

    /// The user CA (signs client identities; the only CA the server trusts for clients).
    pub fn user_ca(&self) -> &CertAuthority {
        &self.user_ca
    }

    /// Issues a client identity signed by this cluster's user CA.
    pub fn issue_identity(&self, request: &IdentityRequest) -> Result<Identity> {
        self.user_ca.issue_identity(request, &self.host_ca)
    }

    /// Issues an identity from a fresh, unrelated user CA with the same cluster name: it
    /// trusts this server, but this server refuses it.
    pub fn foreign_identity(&self, request: &IdentityRequest) -> Result<Identity> {
        CertAuthority::new(self.cluster_name(), CaKind::User)?
            .issue_identity(request, &self.host_ca)
    }

    /// True between start/restart and stop.
    pub async fn is_running(&self) -> bool {
        self.running.lock().await.is_some()
    }

    /// Stops serving: closes the listeners, cuts every live connection (clients see the
    /// outage) and ends open watch streams. State is kept. Idempotent.
    pub async fn stop(&self) {
        let Some(running) = self.running.lock().await.take() else {
            return;
        };
        running.stop.cancel();
        self.shared.mutate(|state| {
            state
                .watchers
                .close_all(Some(Status::unavailable("testkit stopped")))
        });
        for mut task in running.tasks {
            if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
    }

    /// Stops (if running) and serves again on the same ports with the same state and CAs.
    pub async fn restart(&self) -> Result<()> {
        self.stop().await;
        let mut running = self.running.lock().await;
        if running.is_some() {
            return Ok(()); // a concurrent restart won
        }
        let auth = bind_again(self.auth_addr).await?;
        let proxy = bind_again_if(self.proxy_addr).await?;
        let l7 = bind_again_if(self.l7_addr).await?;
        let tunnel = bind_again_if(self.tunnel_addr).await?;
        let web = bind_again_if(self.web_addr).await?;
        *running = Some(self.spawn(auth, proxy, l7, tunnel, web));
        Ok(())
    }

    fn spawn(
        &self,
        auth: TcpListener,
        proxy: Option<TcpListener>,
        l7: Option<TcpListener>,
        tunnel: Option<TcpListener>,
        web: Option<TcpListener>,
    ) -> Running {
        let stop = CancellationToken::new();
        let mut tasks = vec![server::spawn(
            auth,
            Arc::clone(&self.tls),
            Arc::clone(&self.shared),
            stop.clone(),
        )];
        if let Some(proxy) = proxy {
            tasks.push(proxy::spawn(
                proxy,
                self.auth_addr,
                self.cluster_name().to_owned(),
                stop.clone(),
            ));
        }
        if let (Some(listener), Some(front)) = (l7, &self.l7) {
            tasks.push(l7::spawn(
                listener,
                Arc::clone(&front.tls),
                self.auth_addr,
                self.cluster_name().to_owned(),
                front.options,
                Arc::clone(&front.counters),
                stop.clone(),
            ));
        }
        if let (Some(listener), Some(keys)) = (tunnel, &self.tunnel) {
            tasks.push(tunnel::spawn(
                listener,
                keys.clone(),
                self.auth_addr,
                stop.clone(),
            ));
        }
        if let (Some(listener), Some(front)) = (web, &self.web) {
            tasks.push(front.spawn(listener, self.tunnel.clone(), self.auth_addr, stop.clone()));
        }
        Running { stop, tasks }
    }
}

impl Drop for Testkit {
    fn drop(&mut self) {
        if let Some(running) = self.running.get_mut().take() {
            running.stop.cancel();
        }
    }
}
