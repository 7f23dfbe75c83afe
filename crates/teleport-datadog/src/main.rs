//! `teleport-datadog`: the command line (start, configure, version).

fn main() -> std::process::ExitCode {
    teleport_plugin_runtime::cli::main::<teleport_datadog::DatadogPlugin>()
}
