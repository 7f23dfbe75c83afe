//! Any text as a plugin's TOML config: the generic loader (syntax, line index, unknown keys)
//! and two plugins' validation must return a config or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teleport_plugin_runtime::config::load_plugin_config_str;

fuzz_target!(|text: &str| {
    if let Ok(loaded) = load_plugin_config_str("fuzz.toml", text) {
        let _ = teleport_slack::config::Config::from_loaded(loaded);
    }
    if let Ok(loaded) = load_plugin_config_str("fuzz.toml", text) {
        let _ = teleport_jira::config::Config::from_loaded(loaded, false);
    }
});
