//! Shared setup for the client tests: a testkit and identity files.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use teleport_client::{ClientConfig, CredentialsSource, DialMode, DialPolicy, TeleportClient};
use teleport_testkit::{IdentityRequest, Testkit};

pub(crate) const WAIT: Duration = Duration::from_secs(20);
pub(crate) const USER: &str = "access-plugin";

pub(crate) struct Env {
    pub kit: Testkit,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub(crate) async fn new() -> Self {
        let kit = Testkit::builder()
            .cluster_name("teleport.example.com")
            .with_proxy(true)
            .advanced_workflows(true)
            .start()
            .await
            .unwrap();
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
        };
        let mut config = ClientConfig::new(addr.to_string(), credentials);
        config.dial_policy = DialPolicy::Only(mode);
        TeleportClient::new(config).unwrap()
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
