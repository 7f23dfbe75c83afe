//! The quick suite runs end to end against the real (debug) teleport-slack binary, so
//! the benchmark code cannot rot: every scenario completes, deliveries are exactly once,
//! the plugin goes idle, and the report has every section.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The teleport-slack binary next to this package's binary. `cargo test --workspace`
/// builds it (current, with the workspace's features); alone, this test builds it once.
fn plugin_binary(bench: &Path) -> PathBuf {
    let profile_dir = bench.parent().unwrap();
    let plugin = profile_dir.join("teleport-slack");
    if !plugin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "teleport-slack", "--target-dir"])
            .arg(profile_dir.parent().unwrap())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building teleport-slack failed");
    }
    assert!(plugin.exists(), "{} is missing", plugin.display());
    plugin
}

#[test]
fn quick_suite_measures_everything_and_delivers_exactly_once() {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_teleport-bench"));
    let plugin = plugin_binary(&bench);
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(&bench)
        .arg("--quick")
        .arg("--plugin-bin")
        .arg(&plugin)
        .arg("--out-dir")
        .arg(out.path())
        .args(["--timeout-secs", "120"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "teleport-bench failed:\n{stdout}\n{stderr}"
    );
    for heading in ["start -> ready", "driver", "steady", "target"] {
        assert!(stdout.contains(heading), "no {heading:?} in:\n{stdout}");
    }

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["sizes"]["requests"], 1000);
    assert!(report["failures"].as_array().unwrap().is_empty());

    let ready = &report["ready"];
    assert_eq!(ready["runs"].as_array().unwrap().len(), 2);
    assert!(ready["readyz_ms_median"].as_f64().unwrap() > 0.0);
    assert!(ready["idle_rss_kib"].as_u64().unwrap() > 0);

    // Plugin and floor, backlog and live, at 0 and 50 ms, plus the rate-limited burst.
    let bursts = report["bursts"].as_array().unwrap();
    assert_eq!(bursts.len(), 9, "{bursts:#?}");
    for burst in bursts {
        assert_eq!(burst["exactly_once"], true, "{burst:#}");
        assert_eq!(burst["delivered"]["duplicates"], 0, "{burst:#}");
        assert!(burst["per_sec"].as_f64().unwrap() > 0.0, "{burst:#}");
        assert!(burst["peak_rss_kib"].as_u64().unwrap() > 0, "{burst:#}");
        if burst["driver"] == "plugin" {
            assert_eq!(burst["in_flight_after"], 0.0, "{burst:#}");
        }
    }
    let limited = bursts.iter().find(|b| !b["rate_limit"].is_null()).unwrap();
    assert_eq!(limited["rate_limit"], 500);

    let ratios = report["ratios"].as_array().unwrap();
    assert_eq!(ratios.len(), 4);
    assert!(ratios.iter().all(|r| r["ratio"].as_f64().unwrap() > 0.0));

    let steady = &report["steady"];
    assert_eq!(steady["requests"], 2500);
    assert_eq!(steady["exactly_once"], true);
    assert_eq!(steady["unmatched"], 0);
    assert_eq!(steady["overhead"]["count"], 2500);
    assert!(steady["overhead"]["p50_us"].as_u64().unwrap() > 0);

    let targets = report["targets"].as_array().unwrap();
    assert!(targets.len() >= 7, "{targets:#?}");
}
