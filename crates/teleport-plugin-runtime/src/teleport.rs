//! The Teleport connection a plugin starts with: credentials checked before any network
//! call, the client, the first ping (retried while Teleport is unreachable), the version
//! check, and what the cluster's answer means for messages (the web link).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use teleport_client::{ClientConfig, ClusterInfo, CredentialsError, TeleportClient};

use crate::config::{CredentialsSource, TeleportConfig};

/// The oldest Teleport the plugins work with (as in Go).
pub const MIN_SERVER_VERSION: (u64, u64, u64) = (6, 1, 0);

/// How long start-up may wait for Teleport to answer.
const INIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads and validates the configured credentials (files present, PEM blocks right, key
/// matching, not expired) without any network call, so that they are reported before
/// anything else. An error names the config file and the key of the file at fault, as
/// config errors do.
pub fn check_credentials(teleport: &TeleportConfig) -> anyhow::Result<()> {
    let source = teleport.credentials()?;
    let (credentials, _) = client_credentials(teleport)?;
    let identity = credentials.load().map_err(|error| {
        let key = credentials_key(&source, failing_file(&error));
        anyhow::Error::new(error).context(format!("{}: key \"{key}\"", teleport.file().display()))
    })?;
    tracing::debug!(user = identity.username(), not_after = %identity.not_after(), "Teleport credentials are valid");
    Ok(())
}

/// The `[teleport]` key that names `file`.
fn credentials_key(source: &CredentialsSource, file: &Path) -> &'static str {
    match source {
        CredentialsSource::IdentityFile { .. } => "teleport.identity",
        CredentialsSource::TlsFiles { key, .. } if key == file => "teleport.client_key",
        CredentialsSource::TlsFiles { cas, .. } if cas == file => "teleport.root_cas",
        CredentialsSource::TlsFiles { .. } => "teleport.client_crt",
    }
}

/// The credentials file a load error is about.
fn failing_file(error: &CredentialsError) -> &Path {
    match error {
        CredentialsError::Read { path, .. }
        | CredentialsError::Malformed { path, .. }
        | CredentialsError::KeyMismatch { path }
        | CredentialsError::Expired { path, .. }
        | CredentialsError::Tls { path, .. } => path,
    }
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

/// `https://<proxy public addr>` when the cluster has advanced workflows: `https://` added
/// when no scheme is given, a redundant `:443` dropped, anything after the host dropped.
pub fn web_base(cluster: &ClusterInfo) -> Option<String> {
    let addr = cluster.proxy_public_addr.trim();
    if !cluster.advanced_access_workflows || addr.is_empty() {
        return None;
    }
    let (scheme, rest) = match addr.split_once("://") {
        Some((scheme @ ("https" | "http"), rest)) => (scheme, rest),
        _ => ("https", addr),
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match scheme {
        "https" => host.strip_suffix(":443").unwrap_or(host),
        _ => host,
    };
    Some(format!("{scheme}://{host}"))
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
    fn unusable_credentials_name_the_config_file_and_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let garbage = dir.path().join("auth.crt");
        std::fs::write(&garbage, "not a certificate\n").expect("write");
        let error = |credentials| {
            let config = TeleportConfig::new("127.0.0.1:3025", Some(credentials), "/etc/p.toml");
            format!("{:#}", check_credentials(&config).expect_err("refused"))
        };

        let text = error(CredentialsSource::IdentityFile {
            path: "/nonexistent/auth_id".into(),
            refresh: None,
        });
        assert!(
            text.starts_with("/etc/p.toml: key \"teleport.identity\": cannot read credentials file /nonexistent/auth_id"),
            "{text}"
        );
        let text = error(CredentialsSource::TlsFiles {
            cert: garbage.clone(),
            key: "/nonexistent/auth.key".into(),
            cas: "/nonexistent/auth.cas".into(),
        });
        assert!(
            text.starts_with("/etc/p.toml: key \"teleport.client_key\": cannot read credentials file /nonexistent/auth.key"),
            "{text}"
        );
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
        let cases = [
            ("proxy.example.com", "https://proxy.example.com"),
            (
                "https://proxy.example.com:443/",
                "https://proxy.example.com",
            ),
            ("proxy.example.com:3080", "https://proxy.example.com:3080"),
            ("http://proxy.local:443", "http://proxy.local:443"),
            (
                "https://proxy.example.com/x?y#z",
                "https://proxy.example.com",
            ),
        ];
        for (addr, base) in cases {
            cluster.proxy_public_addr = addr.into();
            assert_eq!(web_base(&cluster).as_deref(), Some(base), "{addr}");
        }
    }
}
