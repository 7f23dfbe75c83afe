//! Resolves names and checks types, as Teleport's `typical` parser does at parse time, so a
//! condition that Go rejects is rejected here too, before any request is seen.

use crate::error::ParseError;
use crate::parser::{Ast, BinaryOp};
use crate::value::{Type, Value};

/// The variables of the access-request condition language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variable {
    Roles,
    SuggestedReviewers,
    SystemAnnotations,
    User,
    RequestReason,
    CreationTime,
    Expiry,
    LabelsUnion,
    LabelsIntersection,
    UserTraits,
}

fn variable(name: &str) -> Option<(Node, Type)> {
    let var = |v, t| Some((Node::Var(v), t));
    match name {
        "true" => Some((Node::Lit(Value::Bool(true)), Type::Bool)),
        "false" => Some((Node::Lit(Value::Bool(false)), Type::Bool)),
        "access_request.spec.roles" => var(Variable::Roles, Type::Set),
        "access_request.spec.suggested_reviewers" => var(Variable::SuggestedReviewers, Type::Set),
        "access_request.spec.system_annotations" => var(Variable::SystemAnnotations, Type::Dict),
        "access_request.spec.user" => var(Variable::User, Type::Str),
        "access_request.spec.request_reason" => var(Variable::RequestReason, Type::Str),
        "access_request.spec.creation_time" => var(Variable::CreationTime, Type::Time),
        "access_request.spec.expiry" => var(Variable::Expiry, Type::Time),
        "access_request.spec.resource_labels_union" => var(Variable::LabelsUnion, Type::Dict),
        "access_request.spec.resource_labels_intersection" => {
            var(Variable::LabelsIntersection, Type::Dict)
        }
        "user.traits" => var(Variable::UserTraits, Type::Dict),
        _ => None,
    }
}

/// A built-in function or method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Set,
    Union,
    IfElse,
    ContainsAny,
    ContainsAll,
    IsEmpty,
    Upper,
    Lower,
    ReplaceAll,
    Split,
    EmailLocal,
    Rfc3339,
    Before,
    After,
    Between,
    BetweenTimes,
    Day,
    ClockBetween,
    Contains,
    Add,
    Remove,
    Put,
    AddValues,
}

impl Func {
    /// The name conditions call it by.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Func::Set => "set",
            Func::Union => "union",
            Func::IfElse => "ifelse",
            Func::ContainsAny => "contains_any",
            Func::ContainsAll => "contains_all",
            Func::IsEmpty => "is_empty",
            Func::Upper => "strings.upper",
            Func::Lower => "strings.lower",
            Func::ReplaceAll => "strings.replaceall",
            Func::Split => "strings.split",
            Func::EmailLocal => "email.local",
            Func::Rfc3339 => "time.RFC3339",
            Func::Before => "before",
            Func::After => "after",
            Func::Between | Func::BetweenTimes => "between",
            Func::Day => "day",
            Func::ClockBetween => "clock_between",
            Func::Contains => "contains",
            Func::Add => "add",
            Func::Remove => "remove",
            Func::Put => "put",
            Func::AddValues => "add_values",
        }
    }
}

/// Parameters (the receiver first, for methods), a variadic tail, and the result.
struct Signature {
    func: Func,
    params: &'static [Type],
    variadic: Option<Type>,
    result: Type,
}

const fn sig(
    func: Func,
    params: &'static [Type],
    variadic: Option<Type>,
    result: Type,
) -> Signature {
    Signature {
        func,
        params,
        variadic,
        result,
    }
}

use Type::{Any, Bool, Dict, Remover, Set, Str, Time};

fn function(name: &str) -> Option<Signature> {
    Some(match name {
        "set" => sig(Func::Set, &[], Some(Str), Set),
        "union" => sig(Func::Union, &[], Some(Set), Set),
        "ifelse" => sig(Func::IfElse, &[Bool, Any, Any], None, Any),
        "contains_any" => sig(Func::ContainsAny, &[Set, Set], None, Bool),
        "contains_all" => sig(Func::ContainsAll, &[Set, Set], None, Bool),
        "is_empty" => sig(Func::IsEmpty, &[Set], None, Bool),
        "strings.upper" => sig(Func::Upper, &[Any], None, Any),
        "strings.lower" => sig(Func::Lower, &[Any], None, Any),
        "strings.replaceall" => sig(Func::ReplaceAll, &[Any, Str, Str], None, Any),
        "strings.split" => sig(Func::Split, &[Set, Str], None, Set),
        "email.local" => sig(Func::EmailLocal, &[Set], None, Set),
        "time.RFC3339" => sig(Func::Rfc3339, &[Str], None, Time),
        "before" => sig(Func::Before, &[Time, Time], None, Bool),
        "after" => sig(Func::After, &[Time, Time], None, Bool),
        "between" => sig(Func::Between, &[Any, Any, Any], None, Bool),
        "day" => sig(Func::Day, &[Time], None, Str),
        "clock_between" => sig(Func::ClockBetween, &[Time, Str, Str], None, Bool),
        _ => return None,
    })
}

fn method(name: &str) -> Option<Signature> {
    Some(match name {
        "add" => sig(Func::Add, &[Set], Some(Str), Set),
        "contains" => sig(Func::Contains, &[Set, Str], None, Bool),
        "put" => sig(Func::Put, &[Dict, Str, Set], None, Dict),
        "add_values" => sig(Func::AddValues, &[Dict, Str], Some(Str), Dict),
        "remove" => sig(Func::Remove, &[Remover], Some(Str), Any),
        "before" => sig(Func::Before, &[Time, Time], None, Bool),
        "after" => sig(Func::After, &[Time, Time], None, Bool),
        "between" => sig(Func::BetweenTimes, &[Time], Some(Time), Bool),
        "contains_any" => sig(Func::ContainsAny, &[Set, Set], None, Bool),
        "contains_all" => sig(Func::ContainsAll, &[Set, Set], None, Bool),
        "isempty" => sig(Func::IsEmpty, &[Set], None, Bool),
        "day" => sig(Func::Day, &[Time], None, Str),
        "clock_between" => sig(Func::ClockBetween, &[Time, Str, Str], None, Bool),
        _ => return None,
    })
}

/// A checked expression, ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Lit(Value),
    Var(Variable),
    /// `dict[key]`: a set (empty when the key is absent).
    Index(Box<Node>, Box<Node>),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Equal {
        negate: bool,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    Call(Func, Vec<Node>),
    /// A value typed `any` at parse time, checked when evaluated.
    Expect {
        node: Box<Node>,
        expected: Type,
        context: String,
    },
}

impl Node {
    /// Whether evaluating may read `var`.
    pub(crate) fn reads(&self, var: Variable) -> bool {
        match self {
            Node::Lit(_) => false,
            Node::Var(v) => *v == var,
            Node::Not(inner) | Node::Expect { node: inner, .. } => inner.reads(var),
            Node::Index(a, b) | Node::And(a, b) | Node::Or(a, b) => a.reads(var) || b.reads(var),
            Node::Equal { lhs, rhs, .. } => lhs.reads(var) || rhs.reads(var),
            Node::Call(_, args) => args.iter().any(|a| a.reads(var)),
        }
    }
}

type Checked = Result<(Node, Type), ParseError>;

pub(crate) fn compile(ast: &Ast) -> Checked {
    match ast {
        Ast::Str(text) => Ok((Node::Lit(Value::Str(text.clone())), Type::Str)),
        Ast::Int(value) => Ok((Node::Lit(Value::Int(*value)), Type::Int)),
        Ast::Ident(name) => resolve(std::slice::from_ref(name)),
        Ast::Select(..) => match ast.path() {
            Some(path) => resolve(&path),
            None => Err(ParseError::Syntax {
                at: 0,
                message: "fields can only be selected from variables".into(),
            }),
        },
        Ast::Index(base, key) => {
            let (base, base_type) = compile(base)?;
            if base_type != Type::Dict {
                return Err(type_error("cannot take index of", Type::Dict, base_type));
            }
            let key = expect(compile(key)?, Type::Str, "key of index expression")?;
            Ok((Node::Index(Box::new(base), Box::new(key)), Type::Set))
        }
        Ast::Not(inner) => {
            let inner = expect(compile(inner)?, Type::Bool, "target of (!) operator")?;
            Ok((Node::Not(Box::new(inner)), Type::Bool))
        }
        Ast::Binary(op, lhs, rhs) => binary(*op, lhs, rhs),
        Ast::Call(callee, args) => call(callee, args),
    }
}

/// Go's lookup: the longest known variable name that prefixes the path, where one extra
/// segment is read as a key of a map variable (`user.traits.team`).
fn resolve(path: &[String]) -> Checked {
    for end in 1..=path.len() {
        let name = path[..end].join(".");
        let Some((node, ty)) = variable(&name) else {
            continue;
        };
        if end == path.len() {
            return Ok((node, ty));
        }
        if end + 1 == path.len() && ty == Type::Dict {
            let key = Node::Lit(Value::Str(path[end].clone()));
            return Ok((Node::Index(Box::new(node), Box::new(key)), Type::Set));
        }
    }
    Err(ParseError::UnknownIdentifier(path.join(".")))
}

fn binary(op: BinaryOp, lhs: &Ast, rhs: &Ast) -> Checked {
    let lhs = compile(lhs)?;
    let rhs = compile(rhs)?;
    let (name, negate) = match op {
        BinaryOp::And | BinaryOp::Or => {
            let name = if op == BinaryOp::And { "&&" } else { "||" };
            let lhs = expect(lhs, Type::Bool, &format!("lhs of ({name}) operator"))?;
            let rhs = expect(rhs, Type::Bool, &format!("rhs of ({name}) operator"))?;
            let node = if op == BinaryOp::And {
                Node::And(Box::new(lhs), Box::new(rhs))
            } else {
                Node::Or(Box::new(lhs), Box::new(rhs))
            };
            return Ok((node, Type::Bool));
        }
        BinaryOp::Eq => ("==", false),
        BinaryOp::NotEq => ("!=", true),
    };
    // As in Go: the operand type known at parse time decides (the lhs unless it is `any`).
    let operand = if lhs.1 == Type::Any { rhs.1 } else { lhs.1 };
    match operand {
        Type::Str | Type::Int => {
            let lhs = expect(lhs, operand, &format!("lhs of ({name}) operator"))?;
            let rhs = expect(rhs, operand, &format!("rhs of ({name}) operator"))?;
            let node = Node::Equal {
                negate,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
            Ok((node, Type::Bool))
        }
        other => Err(type_error(&format!("operator ({name})"), Type::Str, other)),
    }
}

fn call(callee: &Ast, args: &[Ast]) -> Checked {
    let path = callee.path();
    let name = path.as_ref().map(|p| p.join("."));
    if let Some(signature) = name.as_deref().and_then(function) {
        let args = args.iter().map(compile).collect::<Result<Vec<_>, _>>()?;
        return apply(&signature, name.as_deref().unwrap_or_default(), args);
    }
    if let Ast::Select(receiver, method_name) = callee
        && let Some(signature) = method(method_name)
    {
        let mut all = vec![compile(receiver)?];
        for arg in args {
            all.push(compile(arg)?);
        }
        return apply(&signature, method_name, all);
    }
    let shown = name.unwrap_or_else(|| match callee {
        Ast::Select(_, method_name) => method_name.clone(),
        _ => "<expression>".into(),
    });
    Err(ParseError::UnknownFunction(shown))
}

fn apply(signature: &Signature, name: &str, args: Vec<(Node, Type)>) -> Checked {
    let fixed = signature.params.len();
    let arity_ok = match signature.variadic {
        Some(_) => args.len() >= fixed,
        None => args.len() == fixed,
    };
    if !arity_ok {
        let expected = match signature.variadic {
            Some(_) if fixed == 0 => "any number of".to_owned(),
            Some(_) => format!("{fixed} or more"),
            None => fixed.to_string(),
        };
        return Err(ParseError::Arity {
            name: name.to_owned(),
            expected,
            given: args.len(),
        });
    }
    let mut checked = Vec::with_capacity(args.len());
    for (i, arg) in args.into_iter().enumerate() {
        let wanted = signature
            .params
            .get(i)
            .copied()
            .or(signature.variadic)
            .unwrap_or(Type::Any);
        let context = format!("argument {} to function ({name})", i + 1);
        checked.push(expect(arg, wanted, &context)?);
    }
    Ok((Node::Call(signature.func, checked), signature.result))
}

/// Accepts `arg` where `wanted` is expected: now when its type is known, at evaluation when
/// it is `any`.
fn expect((node, found): (Node, Type), wanted: Type, context: &str) -> Result<Node, ParseError> {
    if wanted.accepts(found) {
        return Ok(node);
    }
    if found == Type::Any {
        return Ok(Node::Expect {
            node: Box::new(node),
            expected: wanted,
            context: context.to_owned(),
        });
    }
    Err(type_error(context, wanted, found))
}

fn type_error(context: &str, expected: Type, found: Type) -> ParseError {
    ParseError::Type {
        context: context.to_owned(),
        expected: expected.name(),
        found: found.name(),
    }
}
