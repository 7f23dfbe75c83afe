//! No secret in any log: a request's whole life at debug level, and a failed start, with
//! every line the binary wrote (stdout, stderr, the log file) searched for every secret.

use teleport_testkit::Verdict;

use super::ComplianceWorld;
use super::harness::{Harness, ops_addr};

/// What key material in PEM looks like; the identity file holds a private key.
const KEY_MATERIAL: &str = "PRIVATE KEY";

/// A request created, reviewed and approved with `[log] output` a file and debug logging,
/// then a start that fails after the whole config (secrets included) was read: neither the
/// log file nor stdout and stderr hold a secret, a recognisable part of one, or key material.
pub async fn no_secret_in_any_log<W: ComplianceWorld>() {
    let h = Harness::<W>::start().await;
    let secrets = h.world.secrets();
    assert!(!secrets.is_empty(), "the world names no secret to look for");

    let log_file = h.dir().join("life.log");
    let mut params = h.params();
    params.log_output = log_file.display().to_string();
    let plugin = h.spawn_with("life", &params);
    h.kit
        .wait_for_watchers(1, super::harness::WAIT)
        .await
        .expect("the plugin watches Teleport");
    // Two approvals needed: the review is relayed on its own before the approval.
    let id = h.create_with("look at the log", |r| r.threshold("two approvals", 2, 1));
    h.wait_delivered(std::slice::from_ref(&id)).await;
    h.kit
        .review(&id, "carol@example.com", Verdict::Approve, "fine by me")
        .expect("the review is accepted");
    h.kit
        .approve(&id, "approved")
        .expect("the request is approved");
    h.wait_until(
        "the service to show the request approved",
        || h.world.shows_approved(&id) && h.released(&id),
        || format!("plugin data: {:?}", h.kit.plugin_data(&id, W::PLUGIN)),
    )
    .await;
    let output = plugin.stop().await;
    let log = std::fs::read_to_string(&log_file).unwrap_or_default();
    assert!(
        log.contains("DEBUG"),
        "debug logging was on, yet the log file has no DEBUG line:\n{log}\nstdout and stderr:\n{output}"
    );
    assert_clean(&secrets, "the log file of a request's life", &log);
    assert_clean(&secrets, "stdout and stderr of a request's life", &output);

    // A start that fails after the config and its secrets are loaded: the ops port is taken.
    let taken = std::net::TcpListener::bind(ops_addr()).expect("a loopback listener");
    let mut params = h.params();
    params.ops_listen_addr = Some(taken.local_addr().expect("its address").to_string());
    let (status, output) = h.spawn_with("failed-start", &params).exit().await;
    assert_eq!(
        status.code(),
        Some(1),
        "a start on a taken ops port exits 1; output:\n{output}"
    );
    assert!(
        output.lines().any(|line| line.starts_with("error:")),
        "a failed start prints an error: line:\n{output}"
    );
    assert_clean(&secrets, "the output of a failed start", &output);
}

/// Asserts `text` (what `place` held) shows no secret, no recognisable middle part of one
/// (a truncated or partly masked secret), and no key material.
pub(super) fn assert_clean(secrets: &[String], place: &str, text: &str) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret ({} chars) is in {place}:\n{text}",
            secret.len()
        );
        let chars: Vec<char> = secret.chars().collect();
        let middle: String = chars[chars.len() / 4..chars.len() * 3 / 4].iter().collect();
        if middle.chars().count() >= 6 {
            assert!(
                !text.contains(middle.as_str()),
                "part of a secret ({middle:?}) is in {place}:\n{text}"
            );
        }
    }
    assert!(
        !text.contains(KEY_MATERIAL),
        "key material is in {place}:\n{text}"
    );
}
