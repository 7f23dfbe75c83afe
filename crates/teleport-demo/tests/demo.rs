//! The README's demo runs to completion with the real teleport-slack binary.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_demo_runs_and_shows_every_step() {
    let demo = PathBuf::from(env!("CARGO_BIN_EXE_teleport-demo"));
    let plugin = demo.with_file_name("teleport-slack");
    assert!(
        plugin.exists(),
        "{} is missing: run the workspace tests (cargo test --workspace) or build teleport-slack first",
        plugin.display()
    );
    let work = tempfile::tempdir().unwrap();
    let output = Command::new(&demo)
        .arg("--plugin-bin")
        .arg(&plugin)
        .arg("--work-dir")
        .arg(work.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "Slack new message in C0DBA",
        "Slack thread reply in C0DBA",
        "✅ APPROVED",
        "❌ DENIED",
        "⌛ EXPIRED",
        "has been updated: *APPROVED*",
        "teleport-slack exited with exit status: 0",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}
