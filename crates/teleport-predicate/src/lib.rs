//! Teleport's predicate language as access monitoring rule conditions use it: parse a
//! condition once, then evaluate it against access requests.
//!
//! The language is Go expression syntax over a fixed set of variables
//! (`access_request.spec.roles`, `.suggested_reviewers`, `.system_annotations`, `.user`,
//! `.request_reason`, `.creation_time`, `.expiry`, `.resource_labels_union`,
//! `.resource_labels_intersection`, and `user.traits`) and functions (`set`, `union`,
//! `contains_any`, `contains_all`, `is_empty`, `ifelse`, `strings.*`, `email.local`,
//! `time.RFC3339`, `before`, `after`, `between`, `day`, `clock_between`, and the methods
//! `.contains`, `.add`, `.remove`, `.put`, `.add_values`, ...), with `&&`, `||`, `!`, `==`
//! and `!=`. Types are checked when parsing, as Teleport does, so a condition that Teleport
//! would reject is a [`ParseError`] here too. Not supported (a [`ParseError`], so the rule
//! is skipped): `regexp.*`, `dict`/`pair`, `choose`/`option` and the semantic-version
//! comparisons.
//!
//! ```
//! use teleport_predicate::{AccessRequestEnv, Condition};
//!
//! let rule = Condition::parse(
//!     r#"access_request.spec.roles.contains("db-admin") && contains_any(user.traits["team"], set("dba"))"#,
//! )?;
//! let mut request = AccessRequestEnv::default();
//! request.roles = vec!["db-admin".into()];
//! request.user_traits.insert("team".into(), vec!["dba".into()]);
//! assert!(rule.evaluate(&request)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Parsing never panics and is bounded: at most 4096 tokens and 64 levels of nesting.

mod compile;
mod env;
mod error;
mod eval;
mod lexer;
mod parser;
mod value;

pub use env::AccessRequestEnv;
pub use error::{EvalError, ParseError};

/// A parsed, type-checked condition.
#[derive(Debug, Clone)]
pub struct Condition {
    node: compile::Node,
}

impl Condition {
    /// Parses and type-checks `text`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        if text.trim().is_empty() {
            return Err(ParseError::Empty);
        }
        let tokens = lexer::tokenize(text)?;
        let ast = parser::parse(&tokens)?;
        let (node, _) = compile::compile(&ast)?;
        Ok(Self { node })
    }

    /// Whether the condition reads `user.traits`: only then does evaluating it need the
    /// requester's traits (one more Teleport call).
    pub fn reads_user_traits(&self) -> bool {
        self.node.reads(compile::Variable::UserTraits)
    }

    /// Whether the request matches: true only when the condition evaluates to `true` (a
    /// non-boolean result is no match, as in Teleport).
    pub fn evaluate(&self, request: &AccessRequestEnv) -> Result<bool, EvalError> {
        Ok(matches!(
            eval::eval(&self.node, request)?,
            value::Value::Bool(true)
        ))
    }
}

impl std::str::FromStr for Condition {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        Self::parse(text)
    }
}
