//! The part of Datadog's incident search the fake understands: free-text terms — a word or a
//! quoted phrase (`\"` and `\\` escaped inside) — joined by spaces or `AND`, each matched as
//! a case-insensitive substring of the title or of a text field's value (the summary, the
//! root cause, ...); and the `sort` (`created`, `-created`) and `page[size]`/`page[offset]`
//! parameters. Facets (`state:active`), `OR`, `NOT`, `-` and parentheses are answered 400,
//! as queries the plugin does not send, so a plugin that starts sending them fails loudly.

use std::collections::HashMap;

use serde_json::Value;

use super::state::DdIncident;

/// Datadog's page size when none is asked for.
const DEFAULT_PAGE_SIZE: usize = 10;
/// The largest page Datadog serves.
const MAX_PAGE_SIZE: usize = 100;

/// A parsed `query`: every term must match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SearchQuery {
    /// Lower-cased terms.
    terms: Vec<String>,
}

impl SearchQuery {
    /// Parses `query`; the error is the 400's message.
    pub(crate) fn parse(query: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        let mut chars = query.chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
            } else if c == '"' {
                chars.next();
                terms.push(phrase(&mut chars)?);
            } else {
                let word: String =
                    std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())).collect();
                if word != "AND" {
                    terms.push(plain_word(&word)?);
                }
            }
        }
        if terms.is_empty() {
            return Err("query must not be empty".into());
        }
        Ok(Self { terms })
    }

    /// Whether every term is in the incident's title or one of its text fields.
    pub(crate) fn matches(&self, incident: &DdIncident) -> bool {
        let texts = searchable_texts(incident);
        self.terms
            .iter()
            .all(|term| texts.iter().any(|text| text.to_lowercase().contains(term)))
    }
}

/// The rest of a quoted phrase, its closing quote consumed.
fn phrase(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<String, String> {
    let mut text = String::new();
    loop {
        match chars.next() {
            Some('"') => break,
            Some('\\') => match chars.next() {
                Some(escaped) => text.push(escaped),
                None => return Err("unterminated escape in query".into()),
            },
            Some(c) => text.push(c),
            None => return Err("unterminated quoted phrase in query".into()),
        }
    }
    if text.is_empty() {
        return Err("empty quoted phrase in query".into());
    }
    Ok(text.to_lowercase())
}

/// An unquoted word, when it is free text (not syntax the fake does not serve).
fn plain_word(word: &str) -> Result<String, String> {
    let syntax = matches!(word, "OR" | "NOT")
        || word.starts_with('-')
        || word.contains([':', '(', ')', '"']);
    if syntax {
        return Err(format!("the fake does not support {word:?} in a query"));
    }
    Ok(word.to_lowercase())
}

/// The title and every text value of the fields (a multi-value field's values each).
fn searchable_texts(incident: &DdIncident) -> Vec<&str> {
    let mut texts = vec![incident.title.as_str()];
    let fields = incident
        .fields
        .as_object()
        .into_iter()
        .flat_map(|f| f.values());
    for value in fields.filter_map(|field| field.get("value")) {
        match value {
            Value::String(text) => texts.push(text),
            Value::Array(values) => texts.extend(values.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    texts
}

/// The order and page a search asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) newest_first: bool,
    pub(crate) offset: usize,
    pub(crate) size: usize,
}

impl Page {
    /// Reads `sort`, `page[size]` and `page[offset]`; the error is the 400's message.
    pub(crate) fn of(params: &HashMap<String, String>) -> Result<Self, String> {
        let newest_first = match params.get("sort").map(String::as_str) {
            None | Some("created") => false,
            Some("-created") => true,
            Some(other) => return Err(format!("invalid sort {other:?}")),
        };
        let number = |key: &str, default: usize| match params.get(key) {
            None => Ok(default),
            Some(text) => text
                .parse::<usize>()
                .map_err(|_| format!("{key} must be a non-negative integer")),
        };
        let size = number("page[size]", DEFAULT_PAGE_SIZE)?;
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(format!("page[size] must be between 1 and {MAX_PAGE_SIZE}"));
        }
        Ok(Self {
            newest_first,
            offset: number("page[offset]", 0)?,
            size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    fn incident(title: &str, summary: &str) -> DdIncident {
        DdIncident {
            id: "i".into(),
            title: title.into(),
            fields: json!({
                "summary": { "type": "textbox", "value": summary },
                "teams": { "type": "multiselect", "value": ["Platform"] },
            }),
            notification_handles: Vec::new(),
            timeline: Vec::new(),
        }
    }

    #[test]
    fn terms_match_the_title_or_a_text_field() {
        let found = incident("Access request from bob", "ID: 3f1a-2b\nUser: bob");
        let query = |q: &str| SearchQuery::parse(q).expect(q).matches(&found);
        assert!(query(r#""3F1A-2B""#));
        assert!(query("bob AND platform"));
        assert!(query(r#""access request" 3f1a"#));
        assert!(!query(r#""3f1a-2b-c""#));
        assert!(!query("bob alice"));
    }

    #[test]
    fn syntax_the_fake_does_not_serve_is_refused() {
        for query in [
            "",
            "  ",
            "state:active",
            "a OR b",
            "-a",
            "(a)",
            r#""open"#,
            r#""""#,
        ] {
            assert!(SearchQuery::parse(query).is_err(), "{query:?}");
        }
        let escaped = SearchQuery::parse(r#""a\"b\\c""#).expect("escapes");
        assert_eq!(escaped.terms, [r#"a"b\c"#]);
    }

    #[test]
    fn pages_default_and_bound() {
        let params = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            Page::of(&params(&[])),
            Ok(Page {
                newest_first: false,
                offset: 0,
                size: DEFAULT_PAGE_SIZE
            })
        );
        let newest = Page::of(&params(&[("sort", "-created"), ("page[size]", "2")]));
        assert_eq!(newest.map(|p| (p.newest_first, p.size)), Ok((true, 2)));
        for bad in [
            ("page[size]", "0"),
            ("page[size]", "101"),
            ("sort", "title"),
        ] {
            assert!(Page::of(&params(&[bad])).is_err(), "{bad:?}");
        }
    }
}
