//! `teleport-gitlab`: the command line (start, configure, version; `start --insecure-no-tls`).

fn main() -> std::process::ExitCode {
    teleport_plugin_runtime::cli::main::<teleport_gitlab::GitlabPlugin>()
}
