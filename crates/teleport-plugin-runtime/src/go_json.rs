//! JSON as Go's `encoding/json` writes it, for values a Go plugin also writes (plugin data):
//! compact, map keys sorted (a `BTreeMap` gives that), and, unlike serde_json, with `<`, `>`
//! and `&` escaped as `\u003c`, `\u003e`, `\u0026` and the line and paragraph separators
//! as `\u2028`, `\u2029` (Go's HTML-safe default). Byte-equal output lets a record written
//! by either plugin compare equal in a compare-and-swap and read the same in Go's tools.

use serde::Serialize;

/// `value` encoded as Go's `json.Marshal` encodes it.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(value)?;
    Ok(escape_like_go(&json))
}

/// Rewrites the characters Go escapes and serde_json does not. They can only occur inside
/// JSON strings (none is structural), so replacing them in the whole text is exact.
fn escape_like_go(json: &str) -> String {
    if !json.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return json.to_owned();
    }
    let mut out = String::with_capacity(json.len() + 16);
    for ch in json.chars() {
        match ch {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn html_characters_are_escaped_as_go_does() {
        let names = ["node/a<b>&c".to_owned(), "line\u{2028}break".to_owned()];
        assert_eq!(
            to_string(&names).unwrap(),
            r#"["node/a\u003cb\u003e\u0026c","line\u2028break"]"#
        );
    }

    #[test]
    fn plain_values_match_serde_json_and_keys_are_sorted() {
        let mut map = BTreeMap::new();
        map.insert("z", vec!["1"]);
        map.insert("a", vec!["\"quoted\"", "back\\slash"]);
        assert_eq!(
            to_string(&map).unwrap(),
            r#"{"a":["\"quoted\"","back\\slash"],"z":["1"]}"#
        );
    }

    #[test]
    fn go_escaped_text_reads_back_to_the_same_value() {
        let names = vec!["a&b".to_owned()];
        let json = to_string(&names).unwrap();
        let back: Vec<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, names);
    }
}
