//! The Teleport connection a plugin starts with: credentials checked before any network
//! call, the client, the first ping (retried while Teleport is unreachable), the version
//! check, and what the cluster's answer means for messages (the web link).

use std::time::Duration;

use anyhow::Context;
use teleport_client::{ClientConfig, ClusterInfo, TeleportClient};

use crate::config::{CredentialsSource, TeleportConfig};

/// The oldest Teleport the plugins work with (as in Go).
pub const MIN_SERVER_VERSION: (u64, u64, u64) = (6, 1, 0);

/// How long start-up may wait for Teleport to answer.
const INIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads and validates the configured credentials (files present, PEM blocks right, key
/// matching, not expired) without any network call, so that they are reported before
/// anything else.
pub fn check_credentials(teleport: &TeleportConfig) -> anyhow::Result<()> {
    let (credentials, _) = client_credentials(teleport)?;
    let identity = credentials.load()?;
    tracing::debug!(user = identity.username(), not_after = %identity.not_after(), "Teleport credentials are valid");
    Ok(())
}

/// Builds the Teleport client from `[teleport]`.
pub fn connect(teleport: &TeleportConfig) -> anyhow::Result<TeleportClient> {
    let (credentials, refresh) = client_credentials(teleport)?;
    let mut config = ClientConfig::new(teleport.addr(), credentials);
    // Even without refresh_identity, re-reading now and then costs nothing and lets a
    // renewed identity take effect.
    config.refresh_interval = Some(refresh.unwrap_or(Duration::from_secs(60)));
    Ok(TeleportClient::new(config)?)
}

fn client_credentials(
    teleport: &TeleportConfig,
) -> anyhow::Result<(teleport_client::CredentialsSource, Option<Duration>)> {
    Ok(match teleport.credentials()? {
        CredentialsSource::IdentityFile { path, refresh } => (
            teleport_client::CredentialsSource::IdentityFile(path),
            refresh,
        ),
        CredentialsSource::TlsFiles { cert, key, cas } => (
            teleport_client::CredentialsSource::TlsFiles { cert, key, cas },
            None,
        ),
    })
}

/// Pings Teleport until it answers, for at most [`INIT_TIMEOUT`] while it is unreachable,
/// and checks its version.
pub async fn ping_until_ready(client: &TeleportClient) -> anyhow::Result<ClusterInfo> {
    let deadline = tokio::time::Instant::now() + INIT_TIMEOUT;
    let mut backoff = teleport_client::backoff::DecorrelatedJitter::new(
        Duration::from_millis(100),
        Duration::from_secs(3),
    );
    let cluster = loop {
        match client.ping().await {
            Ok(info) => break info,
            Err(error)
                if error.is_connection_problem() && tokio::time::Instant::now() < deadline =>
            {
                tracing::warn!(%error, "Teleport is not reachable yet; retrying");
                tokio::time::sleep(backoff.next_delay()).await;
            }
            Err(error) => return Err(error).context("cannot reach Teleport"),
        }
    };
    check_version(&cluster.server_version)?;
    Ok(cluster)
}

fn check_version(version: &str) -> anyhow::Result<()> {
    let core = version
        .trim_start_matches('v')
        .split(['-', '+'])
        .next()
        .unwrap_or_default();
    let mut parts = core.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let found = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    if found < MIN_SERVER_VERSION {
        let (a, b, c) = MIN_SERVER_VERSION;
        anyhow::bail!(
            "Teleport server version {version} is too old: at least {a}.{b}.{c} is required"
        );
    }
    Ok(())
}

/// `https://<proxy public addr>` (":443" dropped) when the cluster has advanced workflows.
pub fn web_base(cluster: &ClusterInfo) -> Option<String> {
    if !cluster.advanced_access_workflows || cluster.proxy_public_addr.is_empty() {
        return None;
    }
    let addr = cluster.proxy_public_addr.trim_end_matches('/');
    let addr = addr.strip_suffix(":443").unwrap_or(addr);
    Some(
        if addr.starts_with("https://") || addr.starts_with("http://") {
            addr.to_owned()
        } else {
            format!("https://{addr}")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_check_accepts_new_and_rejects_old() {
        assert!(check_version("18.0.0").is_ok());
        assert!(check_version("v6.1.0-beta.1").is_ok());
        assert!(check_version("6.0.9").is_err());
    }

    #[test]
    fn web_base_needs_advanced_workflows() {
        let mut cluster = ClusterInfo {
            cluster_name: "c".into(),
            server_version: "18.0.0".into(),
            advanced_access_workflows: false,
            proxy_public_addr: "teleport.example.com:443".into(),
        };
        assert_eq!(web_base(&cluster), None);
        cluster.advanced_access_workflows = true;
        assert_eq!(
            web_base(&cluster).as_deref(),
            Some("https://teleport.example.com")
        );
        cluster.proxy_public_addr = "proxy.example.com:3080".into();
        assert_eq!(
            web_base(&cluster).as_deref(),
            Some("https://proxy.example.com:3080")
        );
    }
}
