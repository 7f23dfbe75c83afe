//! Table-driven checks of the condition language: the examples from Teleport's docs,
//! Go's type rules, and hostile input that must fail cleanly.

use std::collections::BTreeMap;

use teleport_predicate::{AccessRequestEnv, Condition, EvalError, ParseError};
use time::macros::datetime;

/// A request by alice for `access` + `db-admin` on two `env: dev` servers, from team `dev`.
fn request() -> AccessRequestEnv {
    let labels = |env: &str, region: &str| {
        BTreeMap::from([
            ("env".to_owned(), env.to_owned()),
            ("region".to_owned(), region.to_owned()),
        ])
    };
    AccessRequestEnv {
        roles: vec!["access".into(), "db-admin".into()],
        suggested_reviewers: vec!["bob@example.com".into()],
        system_annotations: BTreeMap::from([(
            "teleport.dev/notify".to_owned(),
            vec!["#dba".to_owned()],
        )]),
        user: "alice".into(),
        request_reason: "incident 42".into(),
        // A Monday, 10:30 UTC.
        creation_time: Some(datetime!(2024-06-03 10:30 UTC)),
        expiry: None,
        user_traits: BTreeMap::from([
            ("team".to_owned(), vec!["dev".to_owned(), "ops".to_owned()]),
            ("email".to_owned(), vec!["alice@example.com".to_owned()]),
        ]),
        requested_resource_labels: vec![labels("dev", "eu"), labels("dev", "us")],
    }
}

fn check(condition: &str, expected: bool) {
    let parsed = Condition::parse(condition)
        .unwrap_or_else(|e| panic!("{condition:?} should parse, got {e}"));
    let got = parsed
        .evaluate(&request())
        .unwrap_or_else(|e| panic!("{condition:?} should evaluate, got {e}"));
    assert_eq!(got, expected, "{condition}");
}

#[test]
fn documented_examples_match_as_in_teleport() {
    let cases = [
        // The access monitoring rule reference's example.
        (
            r#"contains_all(set("access"), access_request.spec.roles) &&
               access_request.spec.resource_labels_intersection["env"].contains("dev") &&
               contains_any(user.traits["team"], set("dev"))"#,
            false, // contains_all(set("access"), roles) needs every requested role in the set
        ),
        (
            r#"contains_all(access_request.spec.roles, set("access")) &&
               access_request.spec.resource_labels_intersection["env"].contains("dev") &&
               contains_any(user.traits["team"], set("dev"))"#,
            true,
        ),
        // The Terraform provider's example.
        (r#"access_request.spec.roles.contains("db-admin")"#, true),
        (
            r#"access_request.spec.roles.contains("your_role_name")"#,
            false,
        ),
        (r#"access_request.spec.user == "alice""#, true),
        (r#"access_request.spec.user != "alice""#, false),
        (
            r#"contains_any(access_request.spec.roles, set("x", "db-admin"))"#,
            true,
        ),
        (r#"contains_any(access_request.spec.roles, set())"#, false),
        (r#"contains_all(access_request.spec.roles, set())"#, false),
        (
            r#"is_empty(access_request.spec.suggested_reviewers)"#,
            false,
        ),
        (
            r#"!is_empty(access_request.spec.suggested_reviewers)"#,
            true,
        ),
        (
            r#"access_request.spec.suggested_reviewers.isempty()"#,
            false,
        ),
        (
            r##"access_request.spec.system_annotations["teleport.dev/notify"].contains("#dba")"##,
            true,
        ),
        (
            r#"is_empty(access_request.spec.system_annotations["absent"])"#,
            true,
        ),
        // A map key may also be selected with a dot.
        (r#"user.traits.team.contains("ops")"#, true),
        (
            r#"user.traits["team"].contains("sec") || user.traits["team"].contains("ops")"#,
            true,
        ),
        (
            r#"access_request.spec.resource_labels_union["region"].contains("us")"#,
            true,
        ),
        (
            r#"is_empty(access_request.spec.resource_labels_intersection["region"])"#,
            true,
        ),
        (
            r#"access_request.spec.request_reason == "incident 42""#,
            true,
        ),
        (
            r#"ifelse(access_request.spec.user == "alice", "yes", "no") == "yes""#,
            true,
        ),
        (
            r#"strings.upper(access_request.spec.user) == "ALICE""#,
            true,
        ),
        (r#"strings.lower(set("DEV")).contains("dev")"#, true),
        (
            r#"email.local(user.traits["email"]).contains("alice")"#,
            true,
        ),
        (r#"strings.split(set("a,b"), ",").contains("b")"#, true),
        (
            r#"union(set("a"), access_request.spec.roles).contains("access")"#,
            true,
        ),
        (r#"access_request.spec.roles.add("x").contains("x")"#, true),
        (
            r#"access_request.spec.roles.remove("access").contains("access")"#,
            false,
        ),
        (
            r#"user.traits.add_values("team", "sec")["team"].contains("sec")"#,
            true,
        ),
        (
            r#"access_request.spec.creation_time.after(time.RFC3339("2024-01-01T00:00:00Z"))"#,
            true,
        ),
        (
            r#"before(access_request.spec.creation_time, time.RFC3339("2024-01-01T00:00:00Z"))"#,
            false,
        ),
        (
            r#"day(access_request.spec.creation_time) == "Monday""#,
            true,
        ),
        (
            r#"access_request.spec.creation_time.clock_between("09:00", "17:00")"#,
            true,
        ),
        (
            r#"clock_between(access_request.spec.creation_time, "11:00", "17:00")"#,
            false,
        ),
        (
            r#"between(access_request.spec.creation_time, time.RFC3339("2024-07-01T00:00:00Z"), time.RFC3339("2024-06-01T00:00:00Z"))"#,
            true,
        ),
        // Unset times read as Go's zero time.
        (
            r#"access_request.spec.expiry.before(time.RFC3339("1970-01-01T00:00:00Z"))"#,
            true,
        ),
        (r#"true && !false"#, true),
        (r#"(true || false) && (false || true)"#, true),
        (r#"`raw \n` == "raw \\n""#, true),
        // A condition that is not a boolean never matches.
        (r#"access_request.spec.user"#, false),
    ];
    for (condition, expected) in cases {
        check(condition, expected);
    }
}

#[test]
fn go_type_rules_are_enforced_when_parsing() {
    let type_errors = [
        r#"contains_any(access_request.spec.roles, "db-admin")"#,
        r#"access_request.spec.roles == "db-admin""#,
        r#"access_request.spec.user.contains("a")"#,
        r#"set(access_request.spec.roles)"#,
        r#"!access_request.spec.user"#,
        r#"access_request.spec.user && true"#,
        r#"access_request.spec.roles["x"]"#,
        // Right-hand sides are checked even where evaluation would short-circuit.
        r#"true || contains_any("a", "b")"#,
    ];
    for condition in type_errors {
        let error = Condition::parse(condition).expect_err(condition);
        assert!(
            matches!(error, ParseError::Type { .. }),
            "{condition}: {error:?}"
        );
    }
    assert_eq!(
        Condition::parse("access_request.spec.nope").unwrap_err(),
        ParseError::UnknownIdentifier("access_request.spec.nope".into())
    );
    assert_eq!(
        Condition::parse(r#"equals(access_request.spec.user, "a")"#).unwrap_err(),
        ParseError::UnknownFunction("equals".into())
    );
    assert_eq!(
        Condition::parse(r#"regexp.match(access_request.spec.roles, "^a")"#).unwrap_err(),
        ParseError::UnknownFunction("regexp.match".into())
    );
    assert!(matches!(
        Condition::parse(r#"contains_any(set("a"))"#).unwrap_err(),
        ParseError::Arity { given: 1, .. }
    ));
    assert_eq!(Condition::parse("  ").unwrap_err(), ParseError::Empty);
}

#[test]
fn syntax_errors_are_typed_and_positioned() {
    for condition in [
        r#"access_request.spec.roles.contains("a""#,
        r#"access_request.spec.roles.contains("a"))"#,
        r#""unterminated"#,
        r#"a < b"#,
        r#"a = "b""#,
        r#"'c' == "c""#,
        r#"1.5 == 1"#,
        r#"access_request..spec"#,
        r#"set("a",)"#,
        r#"true &&"#,
        "\"bad \\q escape\"",
    ] {
        let error = Condition::parse(condition).expect_err(condition);
        assert!(
            matches!(error, ParseError::Syntax { .. }),
            "{condition}: {error:?}"
        );
    }
}

#[test]
fn evaluation_failures_are_errors_not_panics() {
    let bad_time =
        Condition::parse(r#"time.RFC3339("garbage").before(access_request.spec.creation_time)"#)
            .unwrap();
    let Err(EvalError::Function { name, .. }) = bad_time.evaluate(&request()) else {
        panic!("expected a function error");
    };
    assert_eq!(name, "time.RFC3339");
    // `ifelse` is typed `any`: its result is checked when evaluated.
    let any = Condition::parse(r#"contains_any(ifelse(true, "x", "y"), set("x"))"#).unwrap();
    assert!(matches!(
        any.evaluate(&request()),
        Err(EvalError::Type { .. })
    ));
    let clock =
        Condition::parse(r#"access_request.spec.creation_time.clock_between("9am", "17:00")"#)
            .unwrap();
    assert!(clock.evaluate(&request()).is_err());
}

#[test]
fn hostile_input_is_bounded() {
    let deep = format!("{}true{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(matches!(
        Condition::parse(&deep),
        Err(ParseError::TooDeep { .. } | ParseError::TooLong { .. })
    ));
    let nots = format!("{}true", "!".repeat(1_000));
    assert!(matches!(
        Condition::parse(&nots),
        Err(ParseError::TooDeep { .. })
    ));
    let chain = vec!["true"; 1_000].join(" && ");
    assert!(Condition::parse(&chain).is_err());
    let calls = format!("{}\"a\"{}", "set(".repeat(500), ")".repeat(500));
    assert!(Condition::parse(&calls).is_err());
    let dots = format!("user{}", ".traits".repeat(1_000));
    assert!(Condition::parse(&dots).is_err());
    // A chain within the limits still works.
    let ok = vec!["true"; 30].join(" && ");
    assert!(Condition::parse(&ok).unwrap().evaluate(&request()).unwrap());
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A small deterministic generator: no dependency, same inputs on every run.
    let alphabet: Vec<char> = "ab_.()[]\",!&|= `\\x0u1é\n".chars().collect();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        let mut text = String::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 40) as usize;
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            text.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        if let Ok(condition) = Condition::parse(&text) {
            let _ = condition.evaluate(&request());
        }
    }
}

#[test]
fn only_conditions_that_read_traits_need_them() {
    let roles = Condition::parse(r#"access_request.spec.roles.contains("a")"#).unwrap();
    assert!(!roles.reads_user_traits());
    let traits = Condition::parse(r#"true && !user.traits.team.contains("a")"#).unwrap();
    assert!(traits.reads_user_traits());
}
