//! A secret config value (API token, password) given inline, in a file or in an environment variable.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

/// Files larger than this are refused: a secret is short, and a large file is the wrong file.
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// A secret such as an API token or a password.
///
/// In a config file the value may be written as:
/// - `"/run/secrets/token"`: a value starting with `/` is a file to read (the Go plugins'
///   convention for their main API secret);
/// - `"file:secrets/token"`: a file to read, also relative to the working directory;
/// - `"env:SLACK_TOKEN"`: an environment variable;
/// - anything else: the secret itself.
///
/// File contents and environment values are trimmed of surrounding whitespace (files usually end
/// with a newline) and must not be empty. Files are read when the config is loaded and may be at
/// most 64 KiB. A secret whose real value starts with `/`, `file:` or `env:` cannot be written
/// inline; put it in a file.
///
/// `Debug` and `Display` print `Secret(***)`; only [`Secret::expose`] gives the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    value: String,
    source: SecretSource,
}

/// Where a [`Secret`] came from; safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Written in the config file itself.
    Inline,
    /// Read from this file.
    File(PathBuf),
    /// Read from this environment variable.
    Env(String),
}

/// Why a secret could not be read. It names the file or variable, never the value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The file could not be opened or read.
    #[error("cannot read secret file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than 64 KiB.
    #[error("secret file {} is larger than 64 KiB; is it the right file?", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not UTF-8 text.
    #[error("secret file {} is not UTF-8 text", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// The file holds only whitespace.
    #[error("secret file {} is empty", path.display())]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// The variable is not set (or not valid Unicode).
    #[error("environment variable {name} is not set")]
    EnvMissing {
        /// The variable.
        name: String,
    },
    /// The variable is set but holds only whitespace.
    #[error("environment variable {name} is empty")]
    EnvEmpty {
        /// The variable.
        name: String,
    },
}

impl Secret {
    /// A secret given directly (for code and tests; a config value goes through [`Secret::resolve`]).
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            source: SecretSource::Inline,
        }
    }

    /// Interprets a config value by the rules in the type's documentation.
    pub fn resolve(raw: &str) -> Result<Self, SecretError> {
        if let Some(path) = raw.strip_prefix("file:") {
            Self::from_file(path)
        } else if let Some(name) = raw.strip_prefix("env:") {
            Self::from_env(name)
        } else if raw.starts_with('/') {
            Self::from_file(raw)
        } else {
            Ok(Self::new(raw))
        }
    }

    /// Reads a secret from a file (for keys like e-mail's `password_file` that always name a file).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SecretError> {
        let path = path.as_ref().to_path_buf();
        let read_err = |source| SecretError::Read {
            path: path.clone(),
            source,
        };
        let file = std::fs::File::open(&path).map_err(read_err)?;
        let mut bytes = Vec::new();
        file.take(MAX_SECRET_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
        if bytes.len() as u64 > MAX_SECRET_FILE {
            return Err(SecretError::TooLarge { path });
        }
        let Ok(text) = String::from_utf8(bytes) else {
            return Err(SecretError::NotText { path });
        };
        let value = text.trim();
        if value.is_empty() {
            return Err(SecretError::EmptyFile { path });
        }
        Ok(Self {
            value: value.to_owned(),
            source: SecretSource::File(path),
        })
    }

    /// Reads a secret from an environment variable.
    pub fn from_env(name: &str) -> Result<Self, SecretError> {
        let Ok(value) = std::env::var(name) else {
            return Err(SecretError::EnvMissing {
                name: name.to_owned(),
            });
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(SecretError::EnvEmpty {
                name: name.to_owned(),
            });
        }
        Ok(Self {
            value: value.to_owned(),
            source: SecretSource::Env(name.to_owned()),
        })
    }

    /// The secret itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Where the secret came from.
    pub fn source(&self) -> &SecretSource {
        &self.source
    }

    /// True when the secret is the empty string (only possible inline).
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string (the secret, a /path, file:<path> or env:<NAME>)")
            }
            fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<Secret, E> {
                Secret::resolve(raw).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let secret = Secret::new("xoxb-very-secret");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(format!("{secret}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(Secret(***))");
        assert_eq!(secret.expose(), "xoxb-very-secret");
    }

    #[test]
    fn reads_inline_file_and_prefixed_file_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  xoxb-from-file \n").unwrap();
        let abs = path.to_str().unwrap();

        let by_slash = Secret::resolve(abs).unwrap();
        assert_eq!(by_slash.expose(), "xoxb-from-file");
        assert_eq!(by_slash.source(), &SecretSource::File(path.clone()));

        let by_prefix = Secret::resolve(&format!("file:{abs}")).unwrap();
        assert_eq!(by_prefix.expose(), "xoxb-from-file");

        let inline = Secret::resolve("xoxb-inline").unwrap();
        assert_eq!(inline.expose(), "xoxb-inline");
        assert_eq!(inline.source(), &SecretSource::Inline);
    }

    #[test]
    fn file_errors_name_the_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let err = Secret::resolve(missing.to_str().unwrap()).unwrap_err();
        assert!(matches!(err, SecretError::Read { .. }));
        assert!(err.to_string().contains(missing.to_str().unwrap()), "{err}");

        let empty = dir.path().join("empty");
        std::fs::write(&empty, " \n").unwrap();
        let err = Secret::from_file(&empty).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("secret file {} is empty", empty.display())
        );

        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'a'; 64 * 1024 + 1]).unwrap();
        assert!(matches!(
            Secret::from_file(&big).unwrap_err(),
            SecretError::TooLarge { .. }
        ));
        let just_fits = dir.path().join("fits");
        std::fs::write(&just_fits, vec![b'a'; 64 * 1024]).unwrap();
        assert_eq!(
            Secret::from_file(&just_fits).unwrap().expose().len(),
            64 * 1024
        );

        let binary = dir.path().join("binary");
        std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(
            Secret::from_file(&binary).unwrap_err(),
            SecretError::NotText { .. }
        ));
    }

    #[test]
    fn env_values_by_name() {
        // A variable name no other test or the environment uses.
        let err = Secret::resolve("env:TELEPORT_RUNTIME_TEST_UNSET_VARIABLE").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable TELEPORT_RUNTIME_TEST_UNSET_VARIABLE is not set"
        );
        let path = Secret::resolve("env:PATH").unwrap();
        assert_eq!(path.source(), &SecretSource::Env("PATH".into()));
        assert!(!path.expose().is_empty());
    }
}
