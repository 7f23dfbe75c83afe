//! Values and static types of the condition language (Go's `typical` types: bool, string,
//! int, `expression.Set`, `expression.Dict`, `time.Time`, and `any` for results only known
//! when evaluating).

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

/// A set of strings (`set(...)`, `access_request.spec.roles`, a trait's values).
pub type Set = BTreeSet<String>;
/// Name → set of strings (`user.traits`, `access_request.spec.system_annotations`).
pub type Dict = BTreeMap<String, Set>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Bool(bool),
    Str(String),
    Int(i64),
    Set(Set),
    Dict(Dict),
    Time(OffsetDateTime),
}

impl Value {
    pub(crate) fn type_of(&self) -> Type {
        match self {
            Value::Bool(_) => Type::Bool,
            Value::Str(_) => Type::Str,
            Value::Int(_) => Type::Int,
            Value::Set(_) => Type::Set,
            Value::Dict(_) => Type::Dict,
            Value::Time(_) => Type::Time,
        }
    }
}

/// A static type. `Any` is a value whose type is only known when evaluating (the result of
/// `ifelse`, `strings.upper`, ...); `Remover` is "a set or a dict" (the receiver of
/// `.remove`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    Bool,
    Str,
    Int,
    Set,
    Dict,
    Time,
    Any,
    Remover,
}

impl Type {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Str => "string",
            Type::Int => "int",
            Type::Set => "set",
            Type::Dict => "dict",
            Type::Time => "time",
            Type::Any => "any",
            Type::Remover => "set or dict",
        }
    }

    /// Whether a value of type `found` may stand where `self` is expected, checked now.
    pub(crate) fn accepts(self, found: Type) -> bool {
        self == found
            || self == Type::Any
            || (self == Type::Remover && matches!(found, Type::Set | Type::Dict))
    }
}
