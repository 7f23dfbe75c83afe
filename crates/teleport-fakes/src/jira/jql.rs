//! The part of JQL the fake understands: clauses joined by `AND` over `project`, `status`
//! (`=` or `in (...)`), `updated >= "-<n><m|h|d|w>"` and a text search (`description ~` or
//! `text ~`, a word or a quoted phrase, matched as a case-insensitive substring), and an
//! `ORDER BY updated`. Anything else is a JQL error, as a query the plugin should not send.

use std::time::{Duration, SystemTime};

use super::state::FakeIssue;

/// One parsed condition.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Clause {
    Project(String),
    Status(Vec<String>),
    UpdatedSince(Duration),
    /// `<field> ~ <text>`: the text searched in the description, or (`text`) in the
    /// summary, the description and the comments.
    Contains {
        everywhere: bool,
        text: String,
    },
}

/// A parsed query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Query {
    clauses: Vec<Clause>,
    newest_first: bool,
}

impl Query {
    /// Parses `jql`; the error is Jira's kind of message.
    pub(crate) fn parse(jql: &str) -> Result<Self, String> {
        let lower = jql.to_ascii_lowercase();
        let (conditions, order) = match lower.find(" order by ") {
            Some(at) => (&jql[..at], Some(jql[at + " order by ".len()..].trim())),
            None => (jql, None),
        };
        let newest_first = match order.map(str::to_ascii_lowercase).as_deref() {
            None | Some("updated asc") | Some("updated") => false,
            Some("updated desc") => true,
            Some(other) => return Err(format!("the fake cannot order by {other:?}")),
        };
        let mut clauses = Vec::new();
        for clause in split_and(conditions) {
            clauses.push(parse_clause(clause.trim())?);
        }
        if clauses.is_empty() {
            return Err("the query is empty".into());
        }
        Ok(Self {
            clauses,
            newest_first,
        })
    }

    /// Whether the query is bounded to one project and a recent period (what the plugin's
    /// polling must always send).
    pub(crate) fn is_bounded(&self) -> bool {
        self.clauses.iter().any(|c| matches!(c, Clause::Project(_)))
            && self
                .clauses
                .iter()
                .any(|c| matches!(c, Clause::UpdatedSince(_)))
    }

    pub(crate) fn matches(&self, issue: &FakeIssue, now: SystemTime) -> bool {
        self.clauses.iter().all(|clause| match clause {
            Clause::Project(key) => issue.project.eq_ignore_ascii_case(key),
            Clause::Status(names) => names.iter().any(|n| n.eq_ignore_ascii_case(&issue.status)),
            Clause::UpdatedSince(ago) => {
                // Jira rounds relative dates to the minute; so does the fake.
                let since = now.checked_sub(*ago).unwrap_or(SystemTime::UNIX_EPOCH);
                issue.updated >= since - Duration::from_secs(60)
            }
            Clause::Contains { everywhere, text } => {
                let has = |field: &str| field.to_lowercase().contains(text.as_str());
                has(&issue.description)
                    || (*everywhere
                        && (has(&issue.summary) || issue.comments.iter().any(|c| has(&c.body))))
            }
        })
    }

    pub(crate) fn newest_first(&self) -> bool {
        self.newest_first
    }
}

fn split_and(text: &str) -> Vec<&str> {
    let lower = text.to_ascii_lowercase();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut search = 0;
    while let Some(at) = lower[search..].find(" and ") {
        let at = search + at;
        parts.push(&text[start..at]);
        start = at + " and ".len();
        search = start;
    }
    parts.push(&text[start..]);
    parts
}

fn unquote(value: &str) -> Result<String, String> {
    let value = value.trim();
    if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        return Ok(inner.replace("\\\"", "\"").replace("\\\\", "\\"));
    }
    if value.is_empty() || value.contains([' ', '"', '(', ')']) {
        return Err(format!("cannot read the value {value:?}"));
    }
    Ok(value.to_owned())
}

fn parse_clause(clause: &str) -> Result<Clause, String> {
    let lower = clause.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("project").map(str::trim_start)
        && let Some(value) = rest.strip_prefix('=')
    {
        let at = clause.len() - value.len();
        return Ok(Clause::Project(unquote(&clause[at..])?));
    }
    if let Some(rest) = lower.strip_prefix("status").map(str::trim_start) {
        if let Some(value) = rest.strip_prefix('=') {
            let at = clause.len() - value.len();
            return Ok(Clause::Status(vec![unquote(&clause[at..])?]));
        }
        if let Some(list) = rest.strip_prefix("in").map(str::trim) {
            let at = clause.len() - list.len();
            let list = clause[at..]
                .trim()
                .strip_prefix('(')
                .and_then(|l| l.strip_suffix(')'))
                .ok_or("expected a list in parentheses after 'in'")?;
            let names = list
                .split(',')
                .map(unquote)
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Clause::Status(names));
        }
    }
    if let Some(rest) = lower.strip_prefix("updated").map(str::trim_start)
        && let Some(value) = rest.strip_prefix(">=")
    {
        let at = clause.len() - value.len();
        let relative = unquote(&clause[at..])?;
        return Ok(Clause::UpdatedSince(relative_period(&relative)?));
    }
    for (field, everywhere) in [("description", false), ("text", true)] {
        if let Some(rest) = lower.strip_prefix(field).map(str::trim_start)
            && let Some(value) = rest.strip_prefix('~')
        {
            let at = clause.len() - value.len();
            let text = unquote(&clause[at..])?;
            // A phrase inside the literal is searched as its words in order.
            let text = text.trim_matches('"').to_lowercase();
            if text.is_empty() {
                return Err("the text search is empty".into());
            }
            return Ok(Clause::Contains { everywhere, text });
        }
    }
    Err(format!(
        "the fake does not understand the clause {clause:?}"
    ))
}

fn relative_period(text: &str) -> Result<Duration, String> {
    let amount = text
        .strip_prefix('-')
        .ok_or_else(|| format!("expected a relative date such as \"-15m\", found {text:?}"))?;
    let (number, unit) = amount.split_at(amount.len().saturating_sub(1));
    let number: u64 = number
        .parse()
        .map_err(|_| format!("cannot read the relative date {text:?}"))?;
    let unit = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("unknown unit in the relative date {text:?}")),
    };
    Ok(Duration::from_secs(number * unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_plugins_query() {
        let query = Query::parse(
            r#"project = "TD2" AND status in ("Approved", "Denied") AND updated >= "-15m" ORDER BY updated DESC"#,
        )
        .unwrap();
        assert!(query.is_bounded());
        assert!(query.newest_first());
        assert_eq!(
            query.clauses,
            vec![
                Clause::Project("TD2".into()),
                Clause::Status(vec!["Approved".into(), "Denied".into()]),
                Clause::UpdatedSince(Duration::from_secs(900)),
            ]
        );
        assert!(!Query::parse("status = Approved").unwrap().is_bounded());
        assert_eq!(
            Query::parse(r#"project = TD2 AND description ~ "\"Ab-12\"""#)
                .unwrap()
                .clauses[1],
            Clause::Contains {
                everywhere: false,
                text: "ab-12".into()
            }
        );
        assert!(Query::parse("assignee = bob").is_err());
        assert!(Query::parse("project = TD2 ORDER BY created").is_err());
    }
}
