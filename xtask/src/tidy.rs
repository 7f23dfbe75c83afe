//! The tidy test: the habits that keep the workspace easy to enter, checked by `cargo test`.
//!
//! * every Rust file opens with a `//!` line saying what it is for;
//! * no file is longer than [`MAX_LINES`] unless it is listed in [`LONG_FILES`] with a reason;
//! * every plugin in the xtask registry has the one skeleton (README, config, sample, client,
//!   record, render, bot or handler, and the standard test files);
//! * every source file is named in ARCHITECTURE.md's code map;
//! * every integration-test file is built by some test target (crates list theirs).

use std::path::{Path, PathBuf};

use crate::plugins::PLUGINS;
use crate::source::workspace_root;

/// Longer than this is usually two modules.
const MAX_LINES: usize = 500;

/// Files allowed to be longer, and why.
const LONG_FILES: &[(&str, &str)] = &[
    (
        "crates/teleport-plugin-runtime/src/inbound/config.rs",
        "`[http]` as Go reads it: every key's validation with its error, in one place",
    ),
    (
        "crates/teleport-plugin-runtime/src/inbound/listener.rs",
        "the webhook listener: TLS, client certificates and the request limits belong together",
    ),
    (
        "crates/teleport-plugin-runtime/tests/inbound_listener.rs",
        "one refusal case per listener check, over real TLS",
    ),
    (
        "crates/teleport-pagerduty/src/client.rs",
        "the PagerDuty REST client: one method per call plus the response types they share",
    ),
    (
        "crates/teleport-slack/src/client.rs",
        "the Slack client with its error mapping and their unit tests",
    ),
    (
        "crates/teleport-fakes/src/pagerduty/api.rs",
        "the fake PagerDuty's handlers, one per documented endpoint",
    ),
    (
        "crates/teleport-plugin-runtime/src/record/tests.rs",
        "the leased-record tests share one testkit environment",
    ),
    (
        "crates/teleport-plugin-runtime/tests/config.rs",
        "table-like config cases of every common section",
    ),
    (
        "crates/teleport-pagerduty/tests/lifecycle.rs",
        "the incident lifecycle end to end, one scenario per test",
    ),
];

/// Every `.rs` file of the workspace's own code (crates and xtask), sorted.
fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root.join("crates"), root.join("xtask")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && name != "snapshots" {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_rust_file_opens_with_a_module_doc_line() {
    let root = workspace_root();
    let missing: Vec<String> = rust_files(&root)
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            !first.starts_with("//!")
        })
        .map(|path| relative(&root, &path))
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` line saying what they are for:\n{}",
        missing.join("\n")
    );
}

#[test]
fn no_file_is_longer_than_the_limit_unless_listed() {
    let root = workspace_root();
    let mut too_long = Vec::new();
    for path in rust_files(&root) {
        let name = relative(&root, &path);
        let lines = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .count();
        if lines > MAX_LINES && !LONG_FILES.iter().any(|(listed, _)| *listed == name) {
            too_long.push(format!("{name}: {lines} lines"));
        }
    }
    assert!(
        too_long.is_empty(),
        "split these (or list them in tidy.rs LONG_FILES with a reason):\n{}",
        too_long.join("\n")
    );
    for (listed, _) in LONG_FILES {
        assert!(
            root.join(listed).is_file(),
            "{listed} is listed in LONG_FILES but does not exist"
        );
    }
}

#[test]
fn every_plugin_has_the_one_skeleton() {
    let root = workspace_root();
    let mut missing = Vec::new();
    for plugin in PLUGINS {
        let dir = root.join("crates").join(plugin.package);
        let required = [
            "README.md",
            "src/main.rs",
            "src/lib.rs",
            "src/config.rs",
            "src/sample.toml",
            "src/client.rs",
            "src/record.rs",
            "src/render.rs",
            "tests/common/mod.rs",
            "tests/config.rs",
            "tests/lifecycle.rs",
            "tests/render.rs",
            "tests/binary.rs",
        ];
        for file in required {
            if !dir.join(file).is_file() {
                missing.push(format!("{}/{file}", plugin.package));
            }
        }
        if !dir.join("src/bot.rs").is_file() && !dir.join("src/handler.rs").is_file() {
            missing.push(format!("{}/src/bot.rs or src/handler.rs", plugin.package));
        }
        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap_or_default();
        // `main_with_commands` is the same entry point with the plugin's own subcommands.
        if !main.contains("cli::main::<") && !main.contains("cli::main_with_commands::<") {
            missing.push(format!(
                "{}/src/main.rs: the one entry point `cli::main::<Plugin>()` (or `cli::main_with_commands`)",
                plugin.package
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "plugins off the skeleton (see ARCHITECTURE.md, \"Adding an integration\"):\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_source_file_is_named_in_the_code_map() {
    let root = workspace_root();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap_or_default();
    let unnamed: Vec<String> = rust_files(&root)
        .into_iter()
        .filter(|path| path.components().any(|c| c.as_os_str() == "src"))
        .filter(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            !matches!(name.as_str(), "lib.rs" | "main.rs" | "mod.rs") && !map.contains(&name)
        })
        .map(|path| relative(&root, &path))
        .collect();
    assert!(
        unnamed.is_empty(),
        "ARCHITECTURE.md's code map does not name these source files:\n{}",
        unnamed.join("\n")
    );
}

#[test]
fn every_test_file_is_built_when_test_binaries_are_listed() {
    // A crate with `autotests = false` builds only the test targets its Cargo.toml lists, so a
    // new tests/*.rs that is neither a module of tests/integration.rs nor a `[[test]]` of its
    // own would never run, and nothing else would say so.
    let root = workspace_root();
    let mut unbuilt = Vec::new();
    let Ok(crates) = std::fs::read_dir(root.join("crates")) else {
        panic!("no crates/ directory under {}", root.display());
    };
    for krate in crates.flatten().map(|entry| entry.path()) {
        let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap_or_default();
        if !manifest.contains("autotests = false") {
            continue;
        }
        let integration =
            std::fs::read_to_string(krate.join("tests/integration.rs")).unwrap_or_default();
        let Ok(tests) = std::fs::read_dir(krate.join("tests")) else {
            continue;
        };
        for file in tests.flatten().map(|entry| entry.path()) {
            let (Some(stem), Some(name)) = (file.file_stem(), file.file_name()) else {
                continue;
            };
            let (stem, name) = (stem.to_string_lossy(), name.to_string_lossy());
            if !name.ends_with(".rs") || name == "integration.rs" {
                continue;
            }
            let as_module = integration
                .lines()
                .any(|l| l.trim() == format!("mod {stem};"));
            let as_target = manifest.contains(&format!("path = \"tests/{name}\""));
            if !as_module && !as_target {
                unbuilt.push(relative(&root, &file));
            }
        }
    }
    unbuilt.sort();
    assert!(
        unbuilt.is_empty(),
        "these test files are built by no test target (add `mod NAME;` to tests/integration.rs):\n{}",
        unbuilt.join("\n")
    );
}
