//! Evaluates a checked condition against one access request. Recursion follows the tree,
//! whose depth the parser bounds.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, Time};

use crate::compile::{Func, Node, Variable};
use crate::env::{self, AccessRequestEnv};
use crate::error::EvalError;
use crate::value::{Dict, Set, Value};

pub(crate) fn eval(node: &Node, env: &AccessRequestEnv) -> Result<Value, EvalError> {
    Ok(match node {
        Node::Lit(value) => value.clone(),
        Node::Var(var) => variable(*var, env),
        Node::Index(base, key) => {
            let dict = as_dict(eval(base, env)?, "base of index expression")?;
            let key = as_str(eval(key, env)?, "key of index expression")?;
            Value::Set(dict.get(&key).cloned().unwrap_or_default())
        }
        Node::Not(inner) => Value::Bool(!as_bool(eval(inner, env)?, "target of (!)")?),
        // Both short-circuit, as in Go: the right side is not evaluated (nor can it fail).
        Node::And(lhs, rhs) => Value::Bool(
            as_bool(eval(lhs, env)?, "lhs of (&&)")? && as_bool(eval(rhs, env)?, "rhs of (&&)")?,
        ),
        Node::Or(lhs, rhs) => Value::Bool(
            as_bool(eval(lhs, env)?, "lhs of (||)")? || as_bool(eval(rhs, env)?, "rhs of (||)")?,
        ),
        Node::Equal { negate, lhs, rhs } => {
            let equal = eval(lhs, env)? == eval(rhs, env)?;
            Value::Bool(equal != *negate)
        }
        Node::Expect {
            node,
            expected,
            context,
        } => {
            let value = eval(node, env)?;
            if !expected.accepts(value.type_of()) {
                return Err(EvalError::Type {
                    context: context.clone(),
                    expected: expected.name(),
                    found: value.type_of().name(),
                });
            }
            value
        }
        Node::Call(func, args) => {
            let values = args
                .iter()
                .map(|a| eval(a, env))
                .collect::<Result<Vec<_>, _>>()?;
            call(*func, values)?
        }
    })
}

fn variable(var: Variable, env: &AccessRequestEnv) -> Value {
    let set = |items: &[String]| Value::Set(items.iter().cloned().collect());
    let time = |t: Option<OffsetDateTime>| Value::Time(t.unwrap_or_else(env::go_zero_time));
    match var {
        Variable::Roles => set(&env.roles),
        Variable::SuggestedReviewers => set(&env.suggested_reviewers),
        Variable::SystemAnnotations => Value::Dict(env::dict(&env.system_annotations)),
        Variable::User => Value::Str(env.user.clone()),
        Variable::RequestReason => Value::Str(env.request_reason.clone()),
        Variable::CreationTime => time(env.creation_time),
        Variable::Expiry => time(env.expiry),
        Variable::LabelsUnion => Value::Dict(env.labels_union()),
        Variable::LabelsIntersection => Value::Dict(env.labels_intersection()),
        Variable::UserTraits => Value::Dict(env::dict(&env.user_traits)),
    }
}

fn call(func: Func, args: Vec<Value>) -> Result<Value, EvalError> {
    let mut args = args.into_iter();
    // The checker fixed the arity and the known types; anything else is an `any` value.
    let mut next = |what: &str| {
        args.next()
            .ok_or_else(|| failure(func, &format!("missing {what}")))
    };
    Ok(match func {
        Func::Set => Value::Set(strings_of(std::iter::from_fn(|| next("").ok()))?),
        Func::Union => {
            let mut union = Set::new();
            while let Ok(value) = next("") {
                union.extend(as_set(value, "argument to function (union)")?);
            }
            Value::Set(union)
        }
        Func::IfElse => {
            let cond = as_bool(next("condition")?, "argument 1 to function (ifelse)")?;
            let (yes, no) = (next("value")?, next("value")?);
            if cond { yes } else { no }
        }
        Func::ContainsAny | Func::ContainsAll => {
            let haystack = as_set(next("set")?, "first argument")?;
            let needles = as_set(next("set")?, "second argument")?;
            Value::Bool(if func == Func::ContainsAny {
                needles.iter().any(|n| haystack.contains(n))
            } else {
                !needles.is_empty() && needles.iter().all(|n| haystack.contains(n))
            })
        }
        Func::IsEmpty => Value::Bool(as_set(next("set")?, "argument")?.is_empty()),
        Func::Upper => transform(func, next("input")?, |s| s.to_uppercase())?,
        Func::Lower => transform(func, next("input")?, |s| s.to_lowercase())?,
        Func::ReplaceAll => {
            let input = next("input")?;
            let from = as_str(next("match")?, "match")?;
            let to = as_str(next("replacement")?, "replacement")?;
            transform(func, input, |s| replace_all(s, &from, &to))?
        }
        Func::Split => {
            let inputs = as_set(next("set")?, "first argument")?;
            let sep = as_str(next("separator")?, "separator")?;
            Value::Set(inputs.iter().flat_map(|s| split(s, &sep)).collect())
        }
        Func::EmailLocal => {
            let mut locals = Set::new();
            for email in as_set(next("set")?, "argument")? {
                locals.insert(email_local(&email).map_err(|m| failure(func, &m))?);
            }
            Value::Set(locals)
        }
        Func::Rfc3339 => {
            let text = as_str(next("input")?, "argument")?;
            Value::Time(
                OffsetDateTime::parse(&text, &Rfc3339)
                    .map_err(|e| failure(func, &format!("cannot parse {text:?}: {e}")))?,
            )
        }
        Func::Before | Func::After => {
            let t = as_time(next("time")?, "first argument")?;
            let other = as_time(next("time")?, "second argument")?;
            Value::Bool(if func == Func::Before {
                t < other
            } else {
                t > other
            })
        }
        Func::Between | Func::BetweenTimes => {
            let t = next("value")?;
            let (first, second) = (next("bound"), next("bound"));
            let extra = next("").is_ok();
            let (Value::Time(t), Ok(Value::Time(a)), Ok(Value::Time(b)), false) =
                (t, first, second, extra)
            else {
                return Err(failure(func, "expected a time and exactly two time bounds"));
            };
            let (low, high) = if a > b { (b, a) } else { (a, b) };
            Value::Bool(t > low && t < high)
        }
        Func::Day => Value::Str(as_time(next("time")?, "argument")?.weekday().to_string()),
        Func::ClockBetween => {
            // Teleport evaluates clock times in UTC unless a rule carries a time zone.
            let t = as_time(next("time")?, "first argument")?.to_offset(time::UtcOffset::UTC);
            let start =
                clock(t, &as_str(next("start")?, "start")?).map_err(|m| failure(func, &m))?;
            let end = clock(t, &as_str(next("end")?, "end")?).map_err(|m| failure(func, &m))?;
            Value::Bool(t > start && t < end)
        }
        Func::Contains => {
            let set = as_set(next("set")?, "receiver")?;
            Value::Bool(set.contains(&as_str(next("value")?, "argument")?))
        }
        Func::Add => {
            let mut set = as_set(next("set")?, "receiver")?;
            set.extend(strings_of(std::iter::from_fn(|| next("").ok()))?);
            Value::Set(set)
        }
        Func::Remove => {
            let receiver = next("receiver")?;
            let items = strings_of(std::iter::from_fn(|| next("").ok()))?;
            match receiver {
                Value::Set(mut set) => {
                    set.retain(|s| !items.contains(s));
                    Value::Set(set)
                }
                Value::Dict(mut dict) => {
                    dict.retain(|k, _| !items.contains(k));
                    Value::Dict(dict)
                }
                other => return Err(mismatch("receiver of (remove)", "set or dict", &other)),
            }
        }
        Func::Put => {
            let mut dict = as_dict(next("dict")?, "receiver")?;
            let key = as_str(next("key")?, "key")?;
            dict.insert(key, as_set(next("value")?, "value")?);
            Value::Dict(dict)
        }
        Func::AddValues => {
            let mut dict = as_dict(next("dict")?, "receiver")?;
            let key = as_str(next("key")?, "key")?;
            let values = strings_of(std::iter::from_fn(|| next("").ok()))?;
            dict.entry(key).or_default().extend(values);
            Value::Dict(dict)
        }
    })
}

fn strings_of(values: impl Iterator<Item = Value>) -> Result<Set, EvalError> {
    values.map(|v| as_str(v, "argument")).collect()
}

/// `strings.*` accept a string or a set and return the same kind.
fn transform(func: Func, input: Value, f: impl Fn(&str) -> String) -> Result<Value, EvalError> {
    match input {
        Value::Str(s) => Ok(Value::Str(f(&s))),
        Value::Set(set) => Ok(Value::Set(set.iter().map(|s| f(s)).collect())),
        other => Err(failure(
            func,
            &format!(
                "expected string or set, got value of type {}",
                other.type_of().name()
            ),
        )),
    }
}

/// Go's `strings.ReplaceAll`: an empty match inserts the replacement between every character.
fn replace_all(s: &str, from: &str, to: &str) -> String {
    if !from.is_empty() {
        return s.replace(from, to);
    }
    let mut out = String::from(to);
    for c in s.chars() {
        out.push(c);
        out.push_str(to);
    }
    out
}

/// Go's `strings.Split`: an empty separator splits into characters.
fn split(s: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return s.chars().map(String::from).collect();
    }
    s.split(sep).map(str::to_owned).collect()
}

/// The part before the `@` of an address (Teleport's `email.local`).
fn email_local(email: &str) -> Result<String, String> {
    let address = email.trim();
    let address = match (address.rfind('<'), address.ends_with('>')) {
        (Some(open), true) => &address[open + 1..address.len() - 1],
        _ => address,
    };
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(local.to_owned()),
        _ => Err(format!("failed to parse email address {email:?}")),
    }
}

/// The time of day `hh:mm` on `t`'s date.
fn clock(t: OffsetDateTime, hour_minute: &str) -> Result<OffsetDateTime, String> {
    let bad = || format!("invalid time of day {hour_minute:?} (want hh:mm)");
    let (hour, minute) = hour_minute.split_once(':').ok_or_else(bad)?;
    let valid = !hour.is_empty() && hour.len() <= 2 && minute.len() == 2;
    let hour: u8 = hour.parse().ok().filter(|_| valid).ok_or_else(bad)?;
    let minute: u8 = minute.parse().map_err(|_| bad())?;
    let time = Time::from_hms(hour, minute, 0).map_err(|_| bad())?;
    Ok(t.replace_time(time))
}

fn failure(func: Func, message: &str) -> EvalError {
    EvalError::Function {
        name: func.name().to_owned(),
        message: message.to_owned(),
    }
}

fn mismatch(context: &str, expected: &'static str, found: &Value) -> EvalError {
    EvalError::Type {
        context: context.to_owned(),
        expected,
        found: found.type_of().name(),
    }
}

fn as_bool(value: Value, context: &str) -> Result<bool, EvalError> {
    match value {
        Value::Bool(b) => Ok(b),
        other => Err(mismatch(context, "bool", &other)),
    }
}

fn as_str(value: Value, context: &str) -> Result<String, EvalError> {
    match value {
        Value::Str(s) => Ok(s),
        other => Err(mismatch(context, "string", &other)),
    }
}

fn as_set(value: Value, context: &str) -> Result<Set, EvalError> {
    match value {
        Value::Set(s) => Ok(s),
        other => Err(mismatch(context, "set", &other)),
    }
}

fn as_dict(value: Value, context: &str) -> Result<Dict, EvalError> {
    match value {
        Value::Dict(d) => Ok(d),
        other => Err(mismatch(context, "dict", &other)),
    }
}

fn as_time(value: Value, context: &str) -> Result<OffsetDateTime, EvalError> {
    match value {
        Value::Time(t) => Ok(t),
        other => Err(mismatch(context, "time", &other)),
    }
}
