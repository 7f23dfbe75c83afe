//! Loads one plugin config file: the common sections, the plugin's own sections, and warnings.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::{ConfigError, ConfigWarning, Problem, restate};
use super::log::LogConfig;
use super::paths::{self, LineIndex, Segment};
use super::recipients::{RecipientsError, RoleToRecipients};
use super::teleport::{RawTeleport, TeleportConfig};

/// Top-level sections read by the runtime; every other top-level key belongs to the plugin.
const COMMON_SECTIONS: [&str; 3] = ["teleport", "log", "role_to_recipients"];

/// A loaded and validated config file.
#[derive(Debug)]
#[non_exhaustive]
pub struct Loaded<P> {
    /// `[teleport]`.
    pub teleport: TeleportConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// `[role_to_recipients]`; empty when the section is absent. Plugins that need it call
    /// [`Loaded::require_role_to_recipients`]. It is public so that a plugin can fold a legacy
    /// key (e-mail's `delivery.recipients`) into it.
    pub role_to_recipients: RoleToRecipients,
    /// The plugin's own sections.
    pub plugin: P,
    /// Unknown and deprecated keys, in file order; log them once logging is set up.
    pub warnings: Vec<ConfigWarning>,
    source: Source,
}

impl<P> Loaded<P> {
    /// The config file.
    pub fn file(&self) -> &Path {
        self.source.file()
    }

    /// An error about `key` (a full path such as `slack.token`) in this file, with the key's
    /// line when it is written in the file. For the plugin's own validation rules.
    pub fn key_error(&self, key: &str, problem: impl Into<String>) -> ConfigError {
        self.source.key_error(key, problem)
    }

    /// A [`ConfigWarning::Tolerated`] about `key` in this file, with the key's line: for
    /// what the Go plugin accepted and this one takes as Go did, saying so.
    pub fn key_warning(&self, key: &str, what: impl Into<String>) -> ConfigWarning {
        ConfigWarning::Tolerated {
            file: self.file().to_path_buf(),
            key: key.to_owned(),
            line: self.key_error(key, "").line(),
            what: what.into(),
        }
    }

    /// The messaging plugins' rule for `[role_to_recipients]`: at least one entry, and a
    /// non-empty `"*"` entry.
    pub fn require_role_to_recipients(&self) -> Result<&RoleToRecipients, ConfigError> {
        match self.role_to_recipients.require_wildcard() {
            Ok(()) => Ok(&self.role_to_recipients),
            Err(err @ RecipientsError::Empty) => {
                Err(self.key_error("role_to_recipients", err.to_string()))
            }
            Err(err) => {
                let wildcard = paths::child("role_to_recipients", "*");
                let key = if self.source.index.line_of_key(&wildcard).is_some() {
                    wildcard
                } else {
                    "role_to_recipients".to_owned()
                };
                Err(self.key_error(&key, err.to_string()))
            }
        }
    }
}

/// Reads and validates a plugin config file.
///
/// The file holds `[teleport]`, `[log]`, an optional `[role_to_recipients]` and the plugin's own
/// sections, which are deserialized into `P` from the whole document. `P` must therefore not
/// use `#[serde(deny_unknown_fields)]` at its top level (it sees the common sections too);
/// unknown keys anywhere are reported as [`ConfigWarning::UnknownKey`] instead of failing, like
/// the Go plugins, which ignored them.
///
/// serde does not report keys that a `#[serde(flatten)]` field swallows, so keys under a
/// flattened part of `P` are never warned about; prefer plain nested structs.
///
/// Secrets ([`super::Secret`]) are resolved while loading, so a missing secret file is a load
/// error naming the key and the file.
pub fn load_plugin_config<P: DeserializeOwned>(
    path: impl AsRef<Path>,
) -> Result<Loaded<P>, ConfigError> {
    let file = path.as_ref();
    let text = std::fs::read_to_string(file).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ConfigError::NotFound {
                file: file.to_path_buf(),
            }
        } else {
            ConfigError::Read {
                file: file.to_path_buf(),
                source,
            }
        }
    })?;
    load_plugin_config_str(file, &text)
}

/// [`load_plugin_config`] for text already in memory; `file` is used in messages only.
pub fn load_plugin_config_str<P: DeserializeOwned>(
    file: impl AsRef<Path>,
    text: &str,
) -> Result<Loaded<P>, ConfigError> {
    let file = file.as_ref().to_path_buf();
    let root = match toml::de::DeTable::parse(text) {
        Ok(root) => root,
        Err(err) => return Err(syntax_error(file, text, &err)),
    };
    let source = Source {
        index: LineIndex::new(text, root.get_ref()),
        file,
    };
    drop(root);

    #[derive(Deserialize)]
    struct Common {
        #[serde(default)]
        teleport: RawTeleport,
        #[serde(default)]
        log: LogConfig,
        #[serde(default)]
        role_to_recipients: RoleToRecipients,
    }
    let mut common_ignored = Vec::new();
    let common: Common = source.deserialize(text, &mut common_ignored)?;
    let mut plugin_ignored = Vec::new();
    let plugin: P = source.deserialize(text, &mut plugin_ignored)?;
    let mut warnings = Vec::new();
    let teleport = common.teleport.validate(&source, &mut warnings)?;

    // Each pass ignores the other's sections; a key is unknown when the pass that owns its
    // top-level section ignored it.
    let unknown_paths = common_ignored
        .into_iter()
        .filter(|path| is_common(path))
        .chain(plugin_ignored.into_iter().filter(|path| !is_common(path)));
    let mut unknown: Vec<(Option<usize>, String)> = Vec::new();
    for path in unknown_paths {
        let key = paths::join(&path);
        unknown.push((source.index.line_of_key(&key), key));
    }
    unknown.sort();
    unknown.dedup();
    warnings.splice(
        0..0,
        unknown
            .into_iter()
            .map(|(line, key)| ConfigWarning::UnknownKey {
                file: source.file.clone(),
                key,
                line,
            }),
    );

    Ok(Loaded {
        teleport,
        log: common.log,
        role_to_recipients: common.role_to_recipients,
        plugin,
        warnings,
        source,
    })
}

fn is_common(path: &[Segment]) -> bool {
    matches!(path.first(), Some(Segment::Key(k)) if COMMON_SECTIONS.contains(&k.as_str()))
}

fn syntax_error(file: PathBuf, text: &str, err: &toml::de::Error) -> ConfigError {
    let index = LineIndex::lines_only(text);
    let (line, column) = match err.span() {
        Some(span) => {
            let (line, column) = index.position(span.start);
            (Some(line), Some(column))
        }
        None => (None, None),
    };
    ConfigError::Syntax {
        file,
        line,
        column,
        message: err.message().trim_end().replace('\n', "; "),
    }
}

/// The file being loaded: its name and where its keys are.
#[derive(Debug)]
pub(crate) struct Source {
    file: PathBuf,
    index: LineIndex,
}

impl Source {
    pub(crate) fn file(&self) -> &Path {
        &self.file
    }

    pub(crate) fn key_error(&self, key: &str, problem: impl Into<String>) -> ConfigError {
        ConfigError::Key {
            file: self.file.clone(),
            key: key.to_owned(),
            problem: problem.into(),
            line: self.index.line_of_key(key),
        }
    }

    /// Deserializes the whole document into `T`, recording the keys `T` ignored.
    fn deserialize<T: DeserializeOwned>(
        &self,
        text: &str,
        ignored: &mut Vec<Vec<Segment>>,
    ) -> Result<T, ConfigError> {
        let document = toml::Deserializer::parse(text).map_err(|err| {
            // Unreachable in practice: the same text already parsed once.
            syntax_error(self.file.clone(), text, &err)
        })?;
        let mut track = serde_path_to_error::Track::new();
        let tracked = serde_path_to_error::Deserializer::new(document, &mut track);
        let mut record = |path: serde_ignored::Path<'_>| ignored.push(paths::from_ignored(&path));
        let result = T::deserialize(serde_ignored::Deserializer::new(tracked, &mut record));
        result.map_err(|err| self.deserialize_error(&track.path(), &err))
    }

    fn deserialize_error(
        &self,
        path: &serde_path_to_error::Path,
        err: &toml::de::Error,
    ) -> ConfigError {
        let parent = paths::join(&paths::from_tracked(path));
        match restate(err.message()) {
            Problem::Missing(field) => {
                let key = paths::child(&parent, &field);
                ConfigError::Key {
                    file: self.file.clone(),
                    line: None,
                    problem: if parent.is_empty() {
                        "required section is missing".into()
                    } else {
                        format!("required key is missing from [{parent}]")
                    },
                    key,
                }
            }
            Problem::Other(problem) => ConfigError::Key {
                file: self.file.clone(),
                line: err
                    .span()
                    .map(|span| self.index.line_of_offset(span.start))
                    .or_else(|| self.index.line_of_key(&parent)),
                key: if parent.is_empty() {
                    "(top level)".to_owned()
                } else {
                    parent
                },
                problem,
            },
        }
    }
}
