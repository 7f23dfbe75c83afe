//! `teleport-demo`: runs the real `teleport-slack` binary against an
//! in-process Teleport (the testkit) and a local fake Slack, walks through a
//! request's life (posted, reviewed, approved, denied, expired) and prints what
//! the plugin did in Slack, step by step. Nothing outside the machine is used.

mod script;

use std::path::PathBuf;

use clap::Parser;

/// Command line of the demo.
#[derive(Debug, Parser)]
#[command(
    name = "teleport-demo",
    about = "Watch teleport-slack handle access requests, with no cluster and no Slack"
)]
pub struct Args {
    /// The teleport-slack binary to run.
    #[arg(long, default_value = "target/debug/teleport-slack")]
    pub plugin_bin: PathBuf,
    /// Where to write the identity, config and plugin log.
    #[arg(long, default_value = "target/demo")]
    pub work_dir: PathBuf,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match script::run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo failed: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
