//! The `[log]` section: where log lines go, how verbose and in which format.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

/// The `[log]` section.
///
/// ```toml
/// [log]
/// output = "stderr"   # "stderr" | "error" | "2", "stdout" | "out" | "1", or a file path
/// severity = "INFO"   # info, err/error, warn/warning, debug, trace (any case)
/// format = "text"     # "text" or "json" (not in the Go plugins)
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// Where log lines go. Defaults to stderr.
    pub output: LogOutput,
    /// The least severe level that is logged. Defaults to info.
    pub severity: LogSeverity,
    /// The line format. Defaults to text.
    pub format: LogFormat,
}

/// Where log lines go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LogOutput {
    /// Standard error (`stderr`, `error`, `2`, or no value).
    #[default]
    Stderr,
    /// Standard output (`stdout`, `out`, `1`).
    Stdout,
    /// A file, created or truncated at startup (any other value).
    File(PathBuf),
}

impl LogOutput {
    /// Interprets the `output` value. The Go logger maps `""` to stdout, but every Go plugin
    /// replaces an empty `output` with `stderr` before that, so an empty value means stderr.
    pub fn parse(value: &str) -> Self {
        match value {
            "" | "stderr" | "error" | "2" => Self::Stderr,
            "stdout" | "out" | "1" => Self::Stdout,
            path => Self::File(PathBuf::from(path)),
        }
    }
}

impl<'de> Deserialize<'de> for LogOutput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|value| Self::parse(&value))
    }
}

/// The least severe level that is logged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogSeverity {
    /// `error` or `err`.
    Error,
    /// `warn` or `warning`.
    Warn,
    /// `info` (the default; also an empty value).
    #[default]
    Info,
    /// `debug`.
    Debug,
    /// `trace`.
    Trace,
}

impl LogSeverity {
    /// Parses a severity case-insensitively, as the Go plugins do.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value.to_ascii_lowercase().as_str() {
            "" | "info" => Self::Info,
            "err" | "error" => Self::Error,
            "warn" | "warning" => Self::Warn,
            "debug" => Self::Debug,
            "trace" => Self::Trace,
            _ => return None,
        })
    }
}

impl fmt::Display for LogSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        })
    }
}

impl<'de> Deserialize<'de> for LogSeverity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::parse(&value).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expected one of info, error, warn, debug or trace (any case), found \"{value}\""
            ))
        })
    }
}

/// The line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_values_follow_the_go_plugins() {
        for stderr in ["", "stderr", "error", "2"] {
            assert_eq!(LogOutput::parse(stderr), LogOutput::Stderr, "{stderr}");
        }
        for stdout in ["stdout", "out", "1"] {
            assert_eq!(LogOutput::parse(stdout), LogOutput::Stdout, "{stdout}");
        }
        assert_eq!(
            LogOutput::parse("/var/lib/teleport/slack.log"),
            LogOutput::File("/var/lib/teleport/slack.log".into())
        );
    }

    #[test]
    fn severity_is_case_insensitive() {
        assert_eq!(LogSeverity::parse("INFO"), Some(LogSeverity::Info));
        assert_eq!(LogSeverity::parse("Err"), Some(LogSeverity::Error));
        assert_eq!(LogSeverity::parse("ERROR"), Some(LogSeverity::Error));
        assert_eq!(LogSeverity::parse("Warning"), Some(LogSeverity::Warn));
        assert_eq!(LogSeverity::parse("WARN"), Some(LogSeverity::Warn));
        assert_eq!(LogSeverity::parse("DEBUG"), Some(LogSeverity::Debug));
        assert_eq!(LogSeverity::parse("trace"), Some(LogSeverity::Trace));
        assert_eq!(LogSeverity::parse("verbose"), None);
    }
}
