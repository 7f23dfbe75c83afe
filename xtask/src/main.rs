//! `cargo xtask`: project automation. One module per subcommand; this file only dispatches.

mod archive;
mod bench;
mod cargo;
mod chaos;
mod demo;
mod dist;
mod fuzz;
mod image;
mod oci;
mod plugins;
mod sbom;
mod source;
mod static_build;
mod supply_chain;
mod test;
#[cfg(test)]
mod tidy;

use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Project automation for the Teleport access plugins"
)]
enum Command {
    /// Benchmark the release teleport-slack: bursts, overhead, memory, start-up, floor.
    Bench(bench::Args),
    /// Replicas of teleport-slack under injected faults: nothing lost, nothing twice.
    Chaos(chaos::Args),
    /// Run the demo: teleport-slack against an in-process Teleport and a fake Slack.
    Demo(demo::Args),
    /// Static release tarballs (and .sha256 files) into dist/.
    Dist(dist::Args),
    /// Run every fuzz target for a while (cargo-fuzz, installed when missing) and report.
    Fuzz(fuzz::Args),
    /// OCI images (layout + `docker load` archive) into dist/images/.
    Image(image::Args),
    /// List the packaged binaries: plugins and demo helpers.
    Plugins,
    /// cargo deny + cargo audit, offline, against the vendored RustSec snapshot.
    SupplyChain(supply_chain::Args),
    /// Every test: cargo test --workspace, then the deployment tests (tools installed first).
    Test(test::Args),
}

fn main() -> ExitCode {
    let result = match Command::parse() {
        Command::Bench(args) => bench::run(args),
        Command::Chaos(args) => chaos::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Dist(args) => dist::run(args),
        Command::Fuzz(args) => fuzz::run(args),
        Command::Image(args) => image::run(args),
        Command::SupplyChain(args) => supply_chain::run(args),
        Command::Test(args) => test::run(args),
        Command::Plugins => {
            list();
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// For scripts: a `version` line, then one line per binary: kind, short name, package,
/// binary, image (tab-separated).
fn list() {
    println!("version\t{}", source::VERSION);
    for p in plugins::PLUGINS {
        println!(
            "plugin\t{}\t{}\t{}\t{}",
            p.name,
            p.package,
            p.binary(),
            p.image()
        );
    }
    for h in plugins::HELPERS {
        println!(
            "helper\t{}\t{}\t{}\t{}",
            h.binary, h.package, h.binary, h.binary
        );
    }
}
