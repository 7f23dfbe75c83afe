//! `teleport-msteams`: the command line (start, configure, version, validate, uninstall).

fn main() -> std::process::ExitCode {
    teleport_plugin_runtime::cli::main_with_commands::<
        teleport_msteams::MsTeamsPlugin,
        teleport_msteams::commands::MsTeamsCommands,
    >()
}
