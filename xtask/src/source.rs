//! What the release is built from: version, git revision and a fixed timestamp.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

/// The workspace's version: xtask shares it (`version.workspace = true`) with every plugin.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Where the project lives, for OCI labels.
pub(crate) const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");
pub(crate) const LICENSE: &str = env!("CARGO_PKG_LICENSE");

/// The workspace root (xtask lives one level below it). `cargo run` (the `cargo xtask`
/// alias) sets `CARGO_MANIFEST_DIR` for the process, which names the checkout it was invoked
/// in; the compile-time value is only the fallback, because two checkouts sharing one
/// `CARGO_TARGET_DIR` can run a binary built from the other one.
pub(crate) fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Version control facts baked into binaries, tarballs and image labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Source {
    pub version: String,
    /// Full commit hash, or "unknown" outside a git checkout.
    pub commit: String,
    /// Short commit, with "-dirty" when tracked files have uncommitted changes.
    pub revision: String,
    /// Every file's mtime and the images' creation time: `SOURCE_DATE_EPOCH` when set,
    /// else the commit time, so rebuilding the same commit gives the same bytes.
    pub epoch: i64,
}

#[cfg(test)]
impl Source {
    /// The packaging tests' source: version 1.2.3 at a made-up commit.
    pub(crate) fn fixture() -> Self {
        Self {
            version: "1.2.3".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            revision: "0123456789ab".into(),
            epoch: 1_700_000_000,
        }
    }
}

impl Source {
    /// Reads git in `root`; works (with "unknown") outside a checkout too.
    pub(crate) fn detect(root: &Path) -> Result<Self> {
        let commit = git(root, &["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
        let dirty = git(root, &["status", "--porcelain", "--untracked-files=no"])
            .is_some_and(|s| !s.is_empty());
        let short: String = commit.chars().take(12).collect();
        let revision = if dirty {
            format!("{short}-dirty")
        } else {
            short
        };
        let epoch = match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(raw) => raw
                .trim()
                .parse()
                .with_context(|| format!("SOURCE_DATE_EPOCH={raw:?} is not a number"))?,
            Err(_) => git(root, &["log", "-1", "--format=%ct"])
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
        };
        Ok(Self {
            version: VERSION.to_owned(),
            commit,
            revision,
            epoch,
        })
    }
}

/// Trimmed stdout of a successful git command.
fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
