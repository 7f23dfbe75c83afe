//! `teleport-email`: the command line (start, configure, version).

use std::process::ExitCode;

use teleport_email::config::{Config, EmailFile};
use teleport_email::{PLUGIN_NAME, SAMPLE_CONFIG, run};
use teleport_plugin_runtime::cli::{Start, run_cli};
use teleport_plugin_runtime::plugin_info;

fn main() -> ExitCode {
    let info = plugin_info!(PLUGIN_NAME, SAMPLE_CONFIG);
    run_cli(info, |start: Start<EmailFile>| async move {
        let user_agent = start.info.user_agent();
        let config = Config::from_loaded(start.config)?;
        run(config, user_agent, None).await
    })
}
