//! The two ways a condition can fail: it does not parse (or type-check), or it fails while
//! being evaluated against a request.

/// A condition that cannot be used: bad syntax, unknown names, wrong types. Teleport's Go
/// plugins reject the same conditions when parsing, and skip the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The condition is empty.
    #[error("empty expression")]
    Empty,
    /// Not valid syntax.
    #[error("syntax error at byte {at}: {message}")]
    Syntax {
        /// Byte offset in the condition.
        at: usize,
        /// What is wrong.
        message: String,
    },
    /// More tokens than any real condition has.
    #[error("expression is too long (more than {limit} tokens)")]
    TooLong {
        /// The limit.
        limit: usize,
    },
    /// Nested deeper than any real condition is.
    #[error("expression is nested too deeply (more than {limit} levels)")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// A variable that the access-request condition language does not define.
    #[error("unknown identifier: {0:?}")]
    UnknownIdentifier(String),
    /// A function or method that the language does not define.
    #[error("unknown function or method: {0:?}")]
    UnknownFunction(String),
    /// A function called with the wrong number of arguments.
    #[error("function ({name}) accepts {expected} argument(s), given {given}")]
    Arity {
        /// The function.
        name: String,
        /// What it accepts, e.g. "2" or "1 or more".
        expected: String,
        /// How many it got.
        given: usize,
    },
    /// A value of the wrong type, found while type-checking.
    #[error("{context}: expected type {expected}, got {found}")]
    Type {
        /// Where (e.g. "first argument to function (contains_any)").
        context: String,
        /// The type wanted there.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
}

/// A condition that parsed but failed on this request (e.g. `time.RFC3339("garbage")`).
/// The Go plugins log it and skip the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// A value only known at evaluation time (from `ifelse`, `strings.upper`, ...) had the
    /// wrong type.
    #[error("{context}: expected type {expected}, got {found}")]
    Type {
        /// Where.
        context: String,
        /// The type wanted there.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// A function refused its arguments.
    #[error("evaluating function ({name}): {message}")]
    Function {
        /// The function.
        name: String,
        /// Why.
        message: String,
    },
}
