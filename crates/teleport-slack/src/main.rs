//! `teleport-slack`: the command line (start, configure, version).

use std::process::ExitCode;

use teleport_plugin_runtime::app::stop_on_signals;
use teleport_plugin_runtime::cli::{Start, run_cli};
use teleport_slack::config::{SAMPLE, SlackPluginConfig};

fn main() -> ExitCode {
    let info = teleport_plugin_runtime::plugin_info!("slack", SAMPLE);
    run_cli(info, |start: Start<SlackPluginConfig>| async move {
        teleport_slack::run(start.config, stop_on_signals()).await
    })
}
