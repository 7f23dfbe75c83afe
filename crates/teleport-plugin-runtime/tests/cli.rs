//! The shared CLI, driven through the `runtime-demo-plugin` binary as a subprocess.

use std::path::PathBuf;
use std::process::{Command, Output};

const SAMPLE: &str = include_str!("demo/sample.toml");

fn run(args: &[&str]) -> Output {
    // Cargo builds the package's binaries, fresh, before its integration tests.
    Command::new(env!("CARGO_BIN_EXE_runtime-demo-plugin"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

struct Config {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn config(text: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("teleport-demo.toml");
    std::fs::write(&path, text).unwrap();
    Config { _dir: dir, path }
}

fn start(config: &Config, extra: &[&str]) -> Output {
    let mut args = vec!["start", "-c", config.path.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

#[track_caller]
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

/// The last line on stderr, which for a failure must be the single `error:` line.
fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or_default()
}

#[test]
fn version_prints_name_and_version() {
    let output = run(&["version"]);
    assert_exit(&output, 0);
    let line = stdout(&output);
    let expected = format!("teleport-demo v{}", env!("CARGO_PKG_VERSION"));
    // The git revision is present only when the build had TELEPORT_PLUGIN_GIT_REV set.
    assert!(
        line == format!("{expected}\n") || line.starts_with(&format!("{expected} git:")),
        "{line:?}"
    );
    assert!(stderr(&output).is_empty());
}

#[test]
fn configure_prints_the_sample() {
    let output = run(&["configure"]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), SAMPLE);
    // The sample itself is a valid config for the plugin.
    let sample = config(SAMPLE);
    let output = start(&sample, &[]);
    assert_exit(&output, 0);
}

#[test]
fn start_runs_the_plugin_and_exits_zero() {
    let cfg = config(SAMPLE);
    let output = start(&cfg, &[]);
    assert_exit(&output, 0);
    let err = stderr(&output);
    assert!(err.contains("Starting teleport-demo"), "{err}");
    assert!(err.contains("demo plugin ran"), "{err}");
    assert!(err.contains("localhost:3025"), "{err}");
    assert!(err.contains("Successfully shut down"), "{err}");
    assert!(!err.contains("debug detail"), "{err}");
    assert!(!err.contains("error:"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "no colours when stderr is not a terminal: {err:?}"
    );
    assert!(stdout(&output).is_empty());
}

#[test]
fn debug_flag_forces_debug_and_hides_secrets() {
    let cfg = config(SAMPLE);
    let output = start(&cfg, &["--debug"]);
    assert_exit(&output, 0);
    let err = stderr(&output);
    assert!(err.contains("DEBUG logging enabled"), "{err}");
    assert!(err.contains("debug detail"), "{err}");
    assert!(err.contains("Secret(***)"), "{err}");
    assert!(!err.contains("demo-token"), "{err}");
}

#[test]
fn plugin_error_is_one_error_line_and_exit_one() {
    let cfg = config(&SAMPLE.replace("mode = \"ok\"", "mode = \"fail\""));
    let output = start(&cfg, &[]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert_eq!(
        last_line(&err),
        "error: cannot reach the demo API: connection refused"
    );
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert!(!err.contains("Successfully shut down"), "{err}");
}

#[test]
fn plugin_panic_is_exit_one_not_a_crash() {
    let cfg = config(&SAMPLE.replace("mode = \"ok\"", "mode = \"panic\""));
    let output = start(&cfg, &[]);
    assert_exit(&output, 1);
    assert_eq!(
        last_line(&stderr(&output)),
        "error: the plugin panicked: demo panic"
    );
}

#[test]
fn missing_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.toml");
    let output = run(&["start", "--config", path.to_str().unwrap()]);
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!("error: {}: config file not found\n", path.display())
    );
}

#[test]
fn default_config_path_is_in_etc() {
    // Nothing installs a demo config in /etc, so the default path is reported missing.
    let output = run(&["start"]);
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        "error: /etc/teleport-demo.toml: config file not found\n"
    );
}

#[test]
fn invalid_config_names_file_key_and_line() {
    let cfg = config("[demo]\nmode = 7\ntoken = \"t\"\n");
    let output = start(&cfg, &[]);
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!(
            "error: {}: key \"demo.mode\": expected a string, found integer (line 2)\n",
            cfg.path.display()
        )
    );
}

#[test]
fn secret_errors_name_the_key_not_the_value() {
    let cfg = config("[demo]\nmode = \"ok\"\ntoken = \"env:TELEPORT_DEMO_TOKEN_UNSET\"\n");
    let output = start(&cfg, &[]);
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!(
            "error: {}: key \"demo.token\": environment variable TELEPORT_DEMO_TOKEN_UNSET is not set (line 3)\n",
            cfg.path.display()
        )
    );
}

#[test]
fn config_warnings_are_logged() {
    let cfg = config(&format!("{SAMPLE}\n[slack]\ntoken = \"x\"\n"));
    let output = start(&cfg, &[]);
    assert_exit(&output, 0);
    let err = stderr(&output);
    assert!(err.contains("WARN"), "{err}");
    assert!(
        err.contains("unknown key \\\"slack\\\"") || err.contains("unknown key \"slack\""),
        "{err}"
    );
}

#[test]
fn log_to_a_json_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("demo.log");
    std::fs::write(&log, "old content that must be truncated\n").unwrap();
    let cfg = config(&SAMPLE.replace(
        "output = \"stderr\"",
        &format!("output = \"{}\"\nformat = \"json\"", log.display()),
    ));
    let output = start(&cfg, &[]);
    assert_exit(&output, 0);
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("old content"), "{text}");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let ran = lines
        .iter()
        .find(|l| l["message"] == "demo plugin ran")
        .unwrap_or_else(|| panic!("no 'demo plugin ran' in {text}"));
    assert_eq!(ran["level"], "INFO");
    assert_eq!(ran["addr"], "localhost:3025");
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "Successfully shut down")
    );
}

#[test]
fn failure_is_logged_to_the_file_too() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("demo.log");
    let cfg = config(&SAMPLE.replace("mode = \"ok\"", "mode = \"fail\"").replace(
        "output = \"stderr\"",
        &format!("output = \"{}\"", log.display()),
    ));
    let output = start(&cfg, &[]);
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        "error: cannot reach the demo API: connection refused\n"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("Terminating with fatal error"), "{text}");
}

#[test]
fn severity_filters_lines() {
    let cfg = config(&SAMPLE.replace("severity = \"INFO\"", "severity = \"warn\""));
    let output = start(&cfg, &[]);
    assert_exit(&output, 0);
    let err = stderr(&output);
    assert!(!err.contains("demo plugin ran"), "{err}");
    assert!(!err.contains("Starting"), "{err}");
}

#[test]
fn unwritable_log_file_is_an_error() {
    let cfg = config(&SAMPLE.replace(
        "output = \"stderr\"",
        "output = \"/nonexistent-dir/teleport-demo.log\"",
    ));
    let output = start(&cfg, &[]);
    assert_exit(&output, 1);
    assert!(
        last_line(&stderr(&output))
            .starts_with("error: cannot create log file /nonexistent-dir/teleport-demo.log: "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_command_lines_exit_one() {
    for args in [&["frobnicate"][..], &["start", "--bogus"], &[]] {
        let output = run(args);
        assert_exit(&output, 1);
        assert!(
            stderr(&output).contains("error:") || stderr(&output).contains("Usage:"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn help_exits_zero_and_lists_commands() {
    let output = run(&["--help"]);
    assert_exit(&output, 0);
    let help = stdout(&output);
    for word in ["start", "configure", "version", "teleport-demo"] {
        assert!(help.contains(word), "{help}");
    }
    let output = run(&["start", "--help"]);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("[default: /etc/teleport-demo.toml]"),
        "{}",
        stdout(&output)
    );
}
