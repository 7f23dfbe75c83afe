//! Log setup writes where `[log]` says, and only once per process (one test: it is process-wide).

use teleport_plugin_runtime::config::{LogConfig, LogFormat, LogOutput, LogSeverity};
use teleport_plugin_runtime::logging::{LoggingError, init_logging};

#[test]
fn file_output_text_format_and_single_initialisation() {
    // SAFETY: no other thread runs in this test binary (it has only this test) at this point.
    unsafe { std::env::remove_var("RUST_LOG") };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugin.log");
    std::fs::write(&path, "stale line from the previous run\n").unwrap();
    let config = LogConfig {
        output: LogOutput::File(path.clone()),
        severity: LogSeverity::Warn,
        format: LogFormat::Text,
    };
    init_logging(&config, false).unwrap();
    tracing::info!("below the configured severity");
    tracing::warn!(request_id = "r-1", "kept");
    tracing::debug!(target: "hyper", "a dependency's debug line");

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("stale line"), "{text}");
    assert!(!text.contains("below the configured severity"), "{text}");
    assert!(!text.contains("a dependency's debug line"), "{text}");
    assert!(text.contains("WARN"), "{text}");
    assert!(text.contains("kept request_id=\"r-1\""), "{text}");
    assert!(!text.contains('\u{1b}'), "no colours in a file: {text:?}");

    let again = init_logging(&LogConfig::default(), true).unwrap_err();
    assert!(matches!(again, LoggingError::AlreadyInitialized), "{again}");
}
