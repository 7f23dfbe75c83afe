//! Log setup from the `[log]` section: level, text or JSON lines, stderr, stdout or a file.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogConfig, LogFormat, LogOutput, LogSeverity};

/// Crates that are very chatty at debug level; they are kept at info unless the configured
/// level is quieter, so `--debug` shows the plugin's own story rather than every HTTP/2 frame.
const NOISY_CRATES: [&str; 8] = [
    "h2",
    "hyper",
    "hyper_util",
    "rustls",
    "tonic",
    "tower",
    "reqwest",
    "tokio_util",
];

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoggingError {
    /// The log file could not be created.
    #[error("cannot create log file {}: {source}", path.display())]
    OpenFile {
        /// The file from `log.output`.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// `RUST_LOG` is set but is not a valid filter.
    #[error("invalid RUST_LOG filter: {0}")]
    BadFilter(String),
    /// Logging was already set up in this process.
    #[error("logging is already set up in this process")]
    AlreadyInitialized,
}

/// The level actually used: the configured one, raised to debug by `--debug` (trace stays trace).
pub fn effective_severity(config: &LogConfig, debug: bool) -> LogSeverity {
    if debug {
        config.severity.max(LogSeverity::Debug)
    } else {
        config.severity
    }
}

/// The filter for a level: the plugin at `severity`, the noisy crates at most at info.
pub fn filter_directives(severity: LogSeverity) -> String {
    let noisy = severity.min(LogSeverity::Info);
    let mut directives = severity.to_string();
    for krate in NOISY_CRATES {
        directives.push_str(&format!(",{krate}={noisy}"));
    }
    directives
}

/// Installs the process-wide log subscriber from `[log]`; `debug` is the `--debug` flag.
///
/// - Level: `log.severity`, or debug with `--debug`. If `RUST_LOG` is set it replaces the
///   filter entirely (for troubleshooting a dependency).
/// - Output: stderr, stdout, or a file that is created or truncated (as in the Go plugins).
///   Writes are unbuffered, so no guard has to be kept alive and nothing is lost at exit.
/// - Format: text (coloured only when writing to a terminal) or one JSON object per line.
///
/// Callable once per process; a second call returns [`LoggingError::AlreadyInitialized`].
pub fn init_logging(config: &LogConfig, debug: bool) -> Result<(), LoggingError> {
    let severity = effective_severity(config, debug);
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => {
            EnvFilter::try_new(&spec).map_err(|e| LoggingError::BadFilter(e.to_string()))?
        }
        _ => EnvFilter::new(filter_directives(severity)),
    };
    let (writer, ansi) = match &config.output {
        LogOutput::Stderr => (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        ),
        LogOutput::Stdout => (
            BoxMakeWriter::new(std::io::stdout),
            std::io::stdout().is_terminal(),
        ),
        LogOutput::File(path) => {
            let file = std::fs::File::create(path).map_err(|source| LoggingError::OpenFile {
                path: path.clone(),
                source,
            })?;
            (BoxMakeWriter::new(Arc::new(file)), false)
        }
    };
    let registry = tracing_subscriber::registry().with(filter);
    let result = match config.format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_ansi(ansi),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(writer),
            )
            .try_init(),
    };
    result.map_err(|_| LoggingError::AlreadyInitialized)?;
    if debug {
        tracing::debug!("DEBUG logging enabled");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_flag_raises_but_never_lowers() {
        let config = |severity| LogConfig {
            severity,
            ..Default::default()
        };
        assert_eq!(
            effective_severity(&config(LogSeverity::Error), true),
            LogSeverity::Debug
        );
        assert_eq!(
            effective_severity(&config(LogSeverity::Trace), true),
            LogSeverity::Trace
        );
        assert_eq!(
            effective_severity(&config(LogSeverity::Warn), false),
            LogSeverity::Warn
        );
    }

    #[test]
    fn noisy_crates_stay_at_info_at_most() {
        let debug = filter_directives(LogSeverity::Debug);
        assert!(debug.starts_with("debug,h2=info,"), "{debug}");
        let warn = filter_directives(LogSeverity::Warn);
        assert!(warn.starts_with("warn,h2=warn,"), "{warn}");
        assert!(warn.contains(",rustls=warn"), "{warn}");
        // Every directive must parse.
        EnvFilter::try_new(&debug).unwrap();
    }
}
