//! Malformed configs fail clearly: exit code 1, exactly one `error:` line naming the config
//! file and the key at fault, no panic, no secret.

use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use super::harness::Harness;
use super::no_secrets::assert_clean;
use super::{ComplianceWorld, ConfigParams, MalformedConfig, quote};
use crate::{log_file, start_plugin};

/// How long a refused config may take to stop the binary: it fails before any retry loop.
const EXIT_WITHIN: Duration = Duration::from_secs(20);

/// The world's own cases and the shared ones (TOML syntax, `[log]`, `[ops]`, the identity,
/// a syntax or type error on a secret's line), each run as `start -c` to its exit.
pub async fn malformed_configs_fail_clearly<W: ComplianceWorld>() {
    let h = Harness::<W>::start().await;
    let params = h.params();
    let mut cases = shared_cases(&h, &params);
    let own = h.world.malformed_configs(&params);
    assert!(
        !own.is_empty(),
        "the world gives no malformed config of its own"
    );
    cases.extend(own);
    let secrets = h.world.secrets();

    for case in cases {
        let path = h.write_config("malformed", &case.toml);
        let name = &case.name;
        let output_file = h.dir().join("malformed.out");
        let status = run_to_exit(W::BINARY, &path, &output_file, EXIT_WITHIN).await;
        let output = std::fs::read_to_string(&output_file).unwrap_or_default();
        let status = status
            .unwrap_or_else(|| panic!("{name}: still running after {EXIT_WITHIN:?}:\n{output}"));
        assert_eq!(
            status.code(),
            Some(1),
            "{name}: exit code; output:\n{output}"
        );
        assert!(!output.contains("panicked"), "{name}: panicked:\n{output}");
        let errors: Vec<&str> = output
            .lines()
            .filter(|line| line.starts_with("error:"))
            .collect();
        assert_eq!(
            errors.len(),
            1,
            "{name}: exactly one error: line expected; output:\n{output}"
        );
        let line = errors[0];
        let file = path.display().to_string();
        for wanted in std::iter::once(&file).chain(&case.names) {
            assert!(
                line.contains(wanted.as_str()),
                "{name}: the error line does not name {wanted:?}: {line}"
            );
        }
        assert_clean(&secrets, &format!("the output of {name:?}"), &output);
    }
}

/// Cases every plugin shares, made from the world's valid config.
fn shared_cases<W: ComplianceWorld>(h: &Harness<W>, params: &ConfigParams) -> Vec<MalformedConfig> {
    let world = &h.world;
    let valid = world.config(params);
    let with = |change: &dyn Fn(&mut ConfigParams)| {
        let mut params = params.clone();
        change(&mut params);
        world.config(&params)
    };
    let garbage = h.dir().join("garbage-identity");
    std::fs::write(&garbage, "this is not an identity file\n").expect("a garbage identity file");
    let garbage = garbage.display().to_string();
    let junk_line = valid.trim_end().lines().count() + 1;

    let mut cases = vec![
        MalformedConfig::new(
            "TOML syntax error",
            format!("{}\nthis is = = not toml\n", valid.trim_end()),
            &["syntax", &format!("line {junk_line}")],
        ),
        MalformedConfig::new(
            "unknown log severity",
            with(&|p| p.log_severity = "LOUD".into()),
            &["log.severity"],
        ),
        MalformedConfig::new(
            "ops address that is no address",
            with(&|p| p.ops_listen_addr = Some("not an address".into())),
            &["ops.listen_addr"],
        ),
        MalformedConfig::new(
            "identity and the TLS files together",
            with(&|p| {
                p.teleport_extra =
                    "client_crt = \"/a.crt\"\nclient_key = \"/a.key\"\nroot_cas = \"/a.cas\"\n"
                        .into()
            }),
            &["teleport.identity", "client_crt"],
        ),
        MalformedConfig::new(
            "refresh interval that is no duration",
            with(&|p| {
                p.teleport_extra =
                    "refresh_identity = true\nrefresh_identity_interval = \"soon\"\n".into()
            }),
            &["teleport.refresh_identity_interval"],
        ),
        MalformedConfig::new(
            "identity file missing",
            with(&|p| p.identity = "/nonexistent/auth_id".into()),
            &["teleport.identity", "/nonexistent/auth_id"],
        ),
        MalformedConfig::new(
            "identity file that is no identity",
            with(&|p| p.identity = garbage.clone().into()),
            &["teleport.identity", &garbage],
        ),
    ];
    // A secret whose line breaks must not be quoted back in the error.
    for (n, secret) in world.secrets().iter().enumerate() {
        let quoted = quote(secret);
        let Some(at) = valid.find(&quoted) else {
            continue; // a secret kept in a file or the environment
        };
        let line = valid[..at].matches('\n').count() + 1;
        cases.push(MalformedConfig::new(
            &format!("unterminated string holding secret #{n}"),
            valid.replacen(&quoted, &format!("\"{secret}"), 1),
            &["syntax", &format!("line {line}")],
        ));
        cases.push(MalformedConfig::new(
            &format!("secret #{n} as a list"),
            valid.replacen(&quoted, &format!("[{quoted}]"), 1),
            &[],
        ));
    }
    cases
}

/// Runs `<binary> start -c <config>` to its exit with stdout and stderr in `output`; the exit
/// status, or `None` when it is still running after `within` (then it is killed).
async fn run_to_exit(
    binary: &str,
    config: &Path,
    output: &Path,
    within: Duration,
) -> Option<ExitStatus> {
    let (stdout, stderr) = log_file(output);
    let mut child = start_plugin(binary, config, stdout, stderr);
    tokio::time::timeout(within, child.wait())
        .await
        .ok()
        .map(|status| status.expect("the exit status"))
}
