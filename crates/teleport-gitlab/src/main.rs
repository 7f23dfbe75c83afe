//! `teleport-gitlab`: the command line (start, configure, version).

use std::process::ExitCode;

use teleport_gitlab::config::{Config, GitlabFile};
use teleport_gitlab::{PLUGIN_NAME, SAMPLE_CONFIG, run};
use teleport_plugin_runtime::cli::{Start, run_cli_with_args};
use teleport_plugin_runtime::plugin_info;

/// `start` flags of the GitLab plugin, as in Go.
#[derive(Debug, Clone, Default, clap::Args)]
struct GitlabArgs {
    /// Serve the webhook over plain HTTP (behind a proxy that terminates TLS).
    #[arg(long)]
    insecure_no_tls: bool,
}

fn main() -> ExitCode {
    let info = plugin_info!(PLUGIN_NAME, SAMPLE_CONFIG);
    run_cli_with_args(info, |start: Start<GitlabFile, GitlabArgs>| async move {
        let config = Config::from_loaded(start.config, start.args.insecure_no_tls)?;
        run(config, None).await
    })
}
