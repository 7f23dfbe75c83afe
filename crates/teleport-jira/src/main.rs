//! `teleport-jira`: the command line (start [--insecure-no-tls], configure, version).

fn main() -> std::process::ExitCode {
    teleport_plugin_runtime::cli::main::<teleport_jira::JiraPlugin>()
}
