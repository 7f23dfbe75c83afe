//! `teleport-bench`: runs the real `teleport-slack` binary against an in-process
//! Teleport (the testkit) and a fake Slack and measures burst throughput, per-event
//! overhead, memory and start-up, next to a minimal client (the floor). Prints tables
//! and writes `report.json`; `cargo xtask bench` builds and runs it.

mod burst;
mod chaos;
mod cli;
mod destination;
mod floor;
mod process;
mod ready;
mod report;
mod stats;
mod steady;
mod suite;
mod world;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Internal};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // reqwest is built without a default crypto provider; plain-HTTP use still asks for one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("teleport-bench: cannot start the Tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Some(Internal::FloorClient(args)) => runtime.block_on(floor::client(args)).map(|()| true),
        Some(Internal::Chaos(args)) => runtime.block_on(chaos::run(args)),
        None => runtime.block_on(suite::run(cli.suite)),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("teleport-bench: failed (see FAILURE lines or missed targets above)");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("teleport-bench: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
