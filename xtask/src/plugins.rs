//! The binaries xtask packages: the plugins (add a plugin here, and only here) and the
//! helper programs the demo images carry.

use anyhow::{Result, bail};

/// An access-request plugin binary, released as a tarball and an image.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plugin {
    /// Short name: `teleport-<name>` is the binary, `teleport-plugin-<name>` the image and
    /// chart, `/var/lib/teleport/plugins/<name>` the data directory (as with the Go plugins).
    pub name: &'static str,
    /// The Cargo package that builds `teleport-<name>`.
    pub package: &'static str,
    /// For descriptions: "Teleport access-request plugin for <title>".
    pub title: &'static str,
}

impl Plugin {
    pub(crate) fn binary(&self) -> String {
        format!("teleport-{}", self.name)
    }

    pub(crate) fn image(&self) -> String {
        format!("teleport-plugin-{}", self.name)
    }

    pub(crate) fn data_dir(&self) -> String {
        format!("/var/lib/teleport/plugins/{}", self.name)
    }

    pub(crate) fn description(&self) -> String {
        format!("Teleport access-request plugin for {}", self.title)
    }
}

pub(crate) const PLUGINS: &[Plugin] = &[
    Plugin {
        name: "slack",
        package: "teleport-slack",
        title: "Slack",
    },
    Plugin {
        name: "mattermost",
        package: "teleport-mattermost",
        title: "Mattermost",
    },
    Plugin {
        name: "discord",
        package: "teleport-discord",
        title: "Discord",
    },
    Plugin {
        name: "email",
        package: "teleport-email",
        title: "e-mail",
    },
    Plugin {
        name: "pagerduty",
        package: "teleport-pagerduty",
        title: "PagerDuty",
    },
    Plugin {
        name: "opsgenie",
        package: "teleport-opsgenie",
        title: "Opsgenie",
    },
    Plugin {
        name: "servicenow",
        package: "teleport-servicenow",
        title: "ServiceNow",
    },
    Plugin {
        name: "jira",
        package: "teleport-jira",
        title: "Jira",
    },
    Plugin {
        name: "gitlab",
        package: "teleport-gitlab",
        title: "GitLab",
    },
    Plugin {
        name: "msteams",
        package: "teleport-msteams",
        title: "Microsoft Teams",
    },
    Plugin {
        name: "datadog",
        package: "teleport-datadog",
        title: "Datadog Incident Management",
    },
];

/// A non-plugin program shipped as an image for the demo (never as a release tarball).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Helper {
    pub package: &'static str,
    /// The binary, also the image name and the entrypoint `/usr/local/bin/<binary>`.
    pub binary: &'static str,
    pub description: &'static str,
    /// Image environment (`KEY=value`).
    pub env: &'static [&'static str],
    /// Default arguments.
    pub cmd: &'static [&'static str],
    /// `port/tcp`.
    pub ports: &'static [&'static str],
}

pub(crate) const HELPERS: &[Helper] = &[
    Helper {
        package: "teleport-fakes",
        binary: "teleport-fake-chat",
        description: "Fake Slack Web API for the access-plugin demo (plain HTTP, in memory)",
        // Inside a container the fake must listen beyond loopback to be reachable.
        env: &["FAKE_CHAT_LISTEN=0.0.0.0:8065"],
        cmd: &[],
        ports: &["8065/tcp"],
    },
    Helper {
        package: "teleport-demo",
        binary: "teleport-testkit-server",
        description: "In-memory Teleport auth server for the access-plugin demo (not for production)",
        env: &[],
        // /data is the image's working directory, owned by the image's user, so a fresh
        // named volume mounted there is writable and receives the identity.
        cmd: &["--identity-out", "/data/auth_id"],
        ports: &["3025/tcp"],
    },
];

/// The plugins named in `names` (all of them when empty), in [`PLUGINS`] order.
pub(crate) fn select(names: &[String]) -> Result<Vec<&'static Plugin>> {
    if names.is_empty() {
        return Ok(PLUGINS.iter().collect());
    }
    for name in names {
        if !PLUGINS
            .iter()
            .any(|p| p.name == name.trim_start_matches("teleport-"))
        {
            bail!(
                "unknown plugin {name:?}; known: {}",
                PLUGINS
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(PLUGINS
        .iter()
        .filter(|p| {
            names
                .iter()
                .any(|n| n.trim_start_matches("teleport-") == p.name)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_go_conventions() {
        let slack = &PLUGINS[0];
        assert_eq!(slack.binary(), "teleport-slack");
        assert_eq!(slack.image(), "teleport-plugin-slack");
        assert_eq!(slack.data_dir(), "/var/lib/teleport/plugins/slack");
    }

    #[test]
    fn select_accepts_short_and_binary_names_and_rejects_unknown_ones() {
        assert_eq!(select(&[]).unwrap().len(), PLUGINS.len());
        let picked = select(&["teleport-email".into(), "slack".into()]).unwrap();
        assert_eq!(
            picked.iter().map(|p| p.name).collect::<Vec<_>>(),
            ["slack", "email"]
        );
        let err = select(&["nonesuch".into()]).unwrap_err().to_string();
        assert!(err.contains("unknown plugin \"nonesuch\""), "{err}");
    }
}
