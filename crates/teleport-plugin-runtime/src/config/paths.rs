//! Key paths as users write them (`teleport.addr`, `role_to_recipients."*"`) and their lines.

use std::collections::HashMap;

use toml::de::{DeTable, DeValue};

/// Joins key segments the way they would be written in TOML: bare keys with dots, other keys
/// quoted, array positions as `[n]`.
pub(crate) fn join(segments: &[Segment]) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                if is_bare_key(key) {
                    out.push_str(key);
                } else {
                    out.push('"');
                    for c in key.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                }
            }
            Segment::Index(index) => {
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// Appends one more key to an already rendered path.
pub(crate) fn child(parent: &str, key: &str) -> String {
    let key = join(&[Segment::Key(key.to_owned())]);
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// One step in a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// The segments of a path reported by `serde_ignored`; option and newtype wrappers are not
/// keys the user wrote, so they are dropped.
pub(crate) fn from_ignored(path: &serde_ignored::Path<'_>) -> Vec<Segment> {
    let mut segments = Vec::new();
    collect_ignored(path, &mut segments);
    segments
}

fn collect_ignored(path: &serde_ignored::Path<'_>, out: &mut Vec<Segment>) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            collect_ignored(parent, out);
            out.push(Segment::Index(*index));
        }
        Path::Map { parent, key } => {
            collect_ignored(parent, out);
            out.push(Segment::Key(key.clone()));
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => collect_ignored(parent, out),
    }
}

/// The segments of a path tracked by `serde_path_to_error`.
pub(crate) fn from_tracked(path: &serde_path_to_error::Path) -> Vec<Segment> {
    use serde_path_to_error::Segment as S;
    path.iter()
        .filter_map(|segment| match segment {
            S::Map { key } => Some(Segment::Key(key.clone())),
            S::Seq { index } => Some(Segment::Index(*index)),
            S::Enum { .. } | S::Unknown => None,
        })
        .collect()
}

/// Where each key and each line starts in one config file. It holds offsets and key names only,
/// never values, so keeping it around cannot leak a secret.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineIndex {
    line_starts: Vec<usize>,
    keys: HashMap<String, usize>,
}

impl LineIndex {
    /// Indexes a document that has already parsed successfully.
    pub(crate) fn new(text: &str, root: &DeTable<'_>) -> Self {
        let mut index = Self::lines_only(text);
        index.add_table(&mut Vec::new(), root);
        index
    }

    /// Indexes lines only (for a document that does not parse).
    pub(crate) fn lines_only(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            line_starts,
            keys: HashMap::new(),
        }
    }

    /// The 1-based line and column of a byte offset.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let column = offset - self.line_starts[line.saturating_sub(1)] + 1;
        (line.max(1), column)
    }

    /// The line of a byte offset.
    pub(crate) fn line_of_offset(&self, offset: usize) -> usize {
        self.position(offset).0
    }

    /// The line where a key (as rendered by [`join`]) is written, if it is written at all.
    pub(crate) fn line_of_key(&self, key: &str) -> Option<usize> {
        self.keys
            .get(key)
            .map(|&offset| self.line_of_offset(offset))
    }

    fn add_table(&mut self, prefix: &mut Vec<Segment>, table: &DeTable<'_>) {
        for (key, value) in table {
            prefix.push(Segment::Key(key.get_ref().to_string()));
            // The first place a key appears is the most useful one to point at.
            self.keys.entry(join(prefix)).or_insert(key.span().start);
            self.add_value(prefix, value.get_ref());
            prefix.pop();
        }
    }

    fn add_value(&mut self, prefix: &mut Vec<Segment>, value: &DeValue<'_>) {
        match value {
            DeValue::Table(table) => self.add_table(prefix, table),
            DeValue::Array(array) => {
                for (i, item) in array.iter().enumerate() {
                    prefix.push(Segment::Index(i));
                    self.keys.entry(join(prefix)).or_insert(item.span().start);
                    self.add_value(prefix, item.get_ref());
                    prefix.pop();
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_bare_and_quoted_keys() {
        let path = [
            Segment::Key("role_to_recipients".into()),
            Segment::Key("*".into()),
            Segment::Index(2),
        ];
        assert_eq!(join(&path), r#"role_to_recipients."*"[2]"#);
        assert_eq!(child("", "a.b"), r#""a.b""#);
        assert_eq!(child("teleport", "addr"), "teleport.addr");
    }

    #[test]
    fn finds_lines_of_keys_in_tables_and_arrays() {
        let text = "[teleport]\naddr = \"x\"\n\n[role_to_recipients]\n\"*\" = [\"a\",\n  \"b\"]\n";
        let root = DeTable::parse(text).unwrap();
        let index = LineIndex::new(text, root.get_ref());
        assert_eq!(index.line_of_key("teleport"), Some(1));
        assert_eq!(index.line_of_key("teleport.addr"), Some(2));
        assert_eq!(index.line_of_key(r#"role_to_recipients."*""#), Some(5));
        assert_eq!(index.line_of_key(r#"role_to_recipients."*"[1]"#), Some(6));
        assert_eq!(index.line_of_key("log"), None);
        assert_eq!(index.position(0), (1, 1));
        assert_eq!(index.position(13), (2, 3));
    }
}
