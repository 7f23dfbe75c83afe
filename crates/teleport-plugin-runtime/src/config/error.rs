//! Config errors and warnings that name the file, the key and the line, never a value.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a config file could not be used.
///
/// Every variant names the file; key problems also name the full key path (for example
/// `teleport.refresh_identity_interval`) and, when known, the line. No variant ever carries a
/// configured value, so an error can be printed or logged even when the key holds a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file does not exist.
    #[error("{}: config file not found", file.display())]
    NotFound {
        /// The config file.
        file: PathBuf,
    },
    /// The config file exists but could not be read (permissions, not UTF-8, ...).
    #[error("{}: cannot read config file: {source}", file.display())]
    Read {
        /// The config file.
        file: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}: TOML syntax error{}: {message}", file.display(), At(*line, *column))]
    Syntax {
        /// The config file.
        file: PathBuf,
        /// 1-based line of the error, when the parser knows it.
        line: Option<usize>,
        /// 1-based column of the error, when the parser knows it.
        column: Option<usize>,
        /// The parser's description (it never quotes the document).
        message: String,
    },
    /// A key has the wrong type or an invalid value, or a required key is missing.
    #[error("{}: key \"{key}\": {problem}{}", file.display(), OnLine(*line))]
    Key {
        /// The config file.
        file: PathBuf,
        /// The full key path, e.g. `role_to_recipients.dev`.
        key: String,
        /// What was expected and what was found.
        problem: String,
        /// 1-based line of the key, when it is written in the file.
        line: Option<usize>,
    },
    /// Neither an identity file nor the TLS files are configured.
    #[error(
        "{}: no Teleport credentials configured: set teleport.identity, or all of \
         teleport.client_key, teleport.client_crt and teleport.root_cas",
        file.display()
    )]
    NoCredentials {
        /// The config file.
        file: PathBuf,
    },
}

impl ConfigError {
    /// The config file the error is about.
    pub fn file(&self) -> &Path {
        match self {
            Self::NotFound { file }
            | Self::Read { file, .. }
            | Self::Syntax { file, .. }
            | Self::Key { file, .. }
            | Self::NoCredentials { file } => file,
        }
    }

    /// The full key path, for errors about one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Key { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The 1-based line, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Syntax { line, .. } | Self::Key { line, .. } => *line,
            _ => None,
        }
    }
}

/// Something in a config file that does not stop the plugin but that the user should fix.
///
/// Warnings are returned by the loader (the logger is not set up yet while loading) and logged
/// by [`crate::cli::run_cli`] once it is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigWarning {
    /// A key the plugin does not know; it is ignored.
    UnknownKey {
        /// The config file.
        file: PathBuf,
        /// The full key path.
        key: String,
        /// 1-based line of the key.
        line: Option<usize>,
    },
    /// A key that still works but is deprecated.
    Deprecated {
        /// The config file.
        file: PathBuf,
        /// The deprecated key.
        key: String,
        /// What to use instead.
        advice: String,
    },
    /// A key that has no effect given the rest of the config.
    NoEffect {
        /// The config file.
        file: PathBuf,
        /// The key without effect.
        key: String,
        /// Why it has no effect.
        reason: String,
    },
    /// Something the Go plugin accepted that this one would rather not see, taken as Go
    /// took it (e.g. two sources of one secret: the inline one is used).
    Tolerated {
        /// The config file.
        file: PathBuf,
        /// The key at issue.
        key: String,
        /// 1-based line of the key.
        line: Option<usize>,
        /// What is done with it, and what to change.
        what: String,
    },
}

impl ConfigWarning {
    /// The key the warning is about.
    pub fn key(&self) -> &str {
        match self {
            Self::UnknownKey { key, .. }
            | Self::Deprecated { key, .. }
            | Self::NoEffect { key, .. }
            | Self::Tolerated { key, .. } => key,
        }
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownKey { file, key, line } => write!(
                f,
                "{}: unknown key \"{key}\"{} is ignored",
                file.display(),
                OnLine(*line)
            ),
            Self::Deprecated { file, key, advice } => {
                write!(
                    f,
                    "{}: key \"{key}\" is deprecated: {advice}",
                    file.display()
                )
            }
            Self::NoEffect { file, key, reason } => {
                write!(
                    f,
                    "{}: key \"{key}\" has no effect: {reason}",
                    file.display()
                )
            }
            Self::Tolerated {
                file,
                key,
                line,
                what,
            } => write!(
                f,
                "{}: key \"{key}\"{}: {what}",
                file.display(),
                OnLine(*line)
            ),
        }
    }
}

struct OnLine(Option<usize>);

impl fmt::Display for OnLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(line) => write!(f, " (line {line})"),
            None => Ok(()),
        }
    }
}

struct At(Option<usize>, Option<usize>);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(line), Some(column)) => write!(f, " at line {line}, column {column}"),
            (Some(line), None) => write!(f, " at line {line}"),
            _ => Ok(()),
        }
    }
}

/// What a serde error message says, restated in the user's terms and without the offending
/// value (serde quotes it, and it may be a secret).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// `missing field `x``: the key `x` inside the current path is required.
    Missing(String),
    /// Anything else, already rewritten.
    Other(String),
}

/// Rewrites serde's `invalid type: integer `5`, expected a string` as
/// `expected a string, found integer`, and names TOML types the way TOML does.
pub(crate) fn restate(message: &str) -> Problem {
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some(field) = rest.strip_suffix('`')
    {
        return Problem::Missing(field.to_owned());
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            // The found part may quote user input containing anything, so split at the last
            // ", expected " (the expected part is ours).
            && let Some(at) = rest.rfind(", expected ")
        {
            let found = kind_of(&rest[..at]);
            let expected = &rest[at + ", expected ".len()..];
            // Derived structs say "struct SlackSection"; the user wrote a TOML table.
            let expected = if expected.starts_with("struct ") {
                "a table"
            } else {
                expected
            };
            return Problem::Other(format!("expected {expected}, found {found}"));
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant ")
        && let Some(at) = rest.find(", expected ")
    {
        let found = &rest[..at];
        let expected = &rest[at + ", expected ".len()..];
        return Problem::Other(format!("expected {expected}, found {found}"));
    }
    Problem::Other(message.to_owned())
}

/// `integer `5`` → `integer`; `string "abc"` → `string`; `map` → `table`.
fn kind_of(unexpected: &str) -> &str {
    let kind = unexpected
        .find([' ', '`', '"'])
        .and_then(|at| {
            let cut = unexpected[at..].find(['`', '"'])? + at;
            Some(unexpected[..cut].trim_end())
        })
        .unwrap_or(unexpected);
    match kind {
        "map" => "table",
        "sequence" => "array",
        "floating point" => "float",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restates_type_errors_without_values() {
        assert_eq!(
            restate("invalid type: integer `5`, expected a string or a list of strings"),
            Problem::Other("expected a string or a list of strings, found integer".into())
        );
        assert_eq!(
            restate(r#"invalid type: string "xoxb-secret, expected x", expected a boolean"#),
            Problem::Other("expected a boolean, found string".into())
        );
        assert_eq!(
            restate("invalid type: map, expected a string"),
            Problem::Other("expected a string, found table".into())
        );
        assert_eq!(
            restate("invalid type: sequence, expected a string"),
            Problem::Other("expected a string, found array".into())
        );
        assert_eq!(
            restate("invalid type: string \"x\", expected struct RawTeleport"),
            Problem::Other("expected a table, found string".into())
        );
        assert_eq!(
            restate("invalid value: integer `-1`, expected u16"),
            Problem::Other("expected u16, found integer".into())
        );
        assert_eq!(
            restate("invalid type: floating point `1.5`, expected u16"),
            Problem::Other("expected u16, found float".into())
        );
        assert_eq!(
            restate("missing field `token`"),
            Problem::Missing("token".into())
        );
        assert_eq!(
            restate("unknown variant `xml`, expected `text` or `json`"),
            Problem::Other("expected `text` or `json`, found `xml`".into())
        );
        assert_eq!(
            restate("something else"),
            Problem::Other("something else".into())
        );
    }
}
