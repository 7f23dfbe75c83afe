//! Shared setup for the client tests: a testkit and identity files.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use teleport_client::{
    ClientConfig, CredentialsSource, DialEnv, DialMode, DialPolicy, TeleportClient,
};
use teleport_testkit::{IdentityRequest, Testkit};

pub(crate) const WAIT: Duration = Duration::from_secs(20);
pub(crate) const USER: &str = "access-plugin";

pub(crate) struct Env {
    pub kit: Testkit,
    pub dir: tempfile::TempDir,
}

impl Env {
    /// A testkit with its TLS-routing proxy, its L7 front (pinging every 200 ms) and its
    /// reverse-tunnel listener.
    pub(crate) async fn new() -> Self {
        let kit = Testkit::builder()
            .cluster_name("teleport.example.com")
            .with_proxy(true)
            .with_l7_front(true)
            .with_tunnel(true)
            .l7_ping_interval(Duration::from_millis(200))
            .advanced_workflows(true)
            .start()
            .await
            .unwrap();
        Self {
            kit,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// An environment around a testkit started otherwise.
    pub(crate) fn with_kit(kit: Testkit) -> Self {
        Self {
            kit,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Writes an identity file for `request` and returns its path.
    pub(crate) fn identity_file(&self, name: &str, request: &IdentityRequest) -> PathBuf {
        let path = self.dir.path().join(name);
        self.kit
            .issue_identity(request)
            .unwrap()
            .write_identity_file(&path)
            .unwrap();
        path
    }

    /// A client of the auth server over direct mTLS with an identity file for `USER`.
    pub(crate) fn client(&self) -> TeleportClient {
        let path = self.identity_file("auth_id", &IdentityRequest::new(USER));
        self.client_with(CredentialsSource::IdentityFile(path), DialMode::AuthDirect)
    }

    pub(crate) fn client_with(
        &self,
        credentials: CredentialsSource,
        mode: DialMode,
    ) -> TeleportClient {
        let addr = match mode {
            DialMode::AuthDirect => self.kit.auth_addr(),
            DialMode::ProxyTlsRouting => self.kit.proxy_addr().unwrap(),
            DialMode::ProxyConnUpgrade => self.kit.l7_addr().unwrap(),
            DialMode::ReverseTunnel => self.kit.tunnel_addr().unwrap(),
            DialMode::ProxyTunnel | DialMode::ProxyTunnelTlsRouting => self.kit.web_addr().unwrap(),
        };
        let mut config = ClientConfig::new(addr.to_string(), credentials);
        config.dial_policy = DialPolicy::Only(mode);
        config.web_ca_file = Some(self.web_ca_file());
        config.dial_env = DialEnv::fixed::<&str, &str>([]);
        TeleportClient::new(config).unwrap()
    }

    /// The L7 front's web CA, written once, for `ClientConfig::web_ca_file`.
    pub(crate) fn web_ca_file(&self) -> PathBuf {
        let path = self.dir.path().join("web-ca.pem");
        if !path.exists() {
            std::fs::write(&path, self.kit.web_ca_pem().unwrap()).unwrap();
        }
        path
    }

    /// An auto-dialing config for `addr` with an identity file for `USER`, the front's web CA
    /// and exactly the variables in `env`.
    pub(crate) fn auto_config(&self, addr: &str, env: &[(&str, &str)]) -> ClientConfig {
        let path = self.identity_file("auth_id", &IdentityRequest::new(USER));
        let mut config = ClientConfig::new(addr, CredentialsSource::IdentityFile(path));
        config.web_ca_file = Some(self.web_ca_file());
        config.dial_env = DialEnv::fixed(env.iter().copied());
        config
    }
}

/// The next watch event, within [`WAIT`].
pub(crate) async fn next_event(
    stream: &mut teleport_client::WatchStream,
) -> teleport_client::WatchEvent {
    use futures::StreamExt;
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("an event in time")
        .expect("the stream is open")
        .expect("no error")
}
