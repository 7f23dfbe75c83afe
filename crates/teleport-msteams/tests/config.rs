//! Config files: what Go's Helm chart and Go's `configure` write, our own sample, and clear
//! errors for bad values.

use std::path::PathBuf;

use teleport_msteams::MsTeamsPlugin;
use teleport_msteams::config::{self, Config, DEFAULT_BOT_FRAMEWORK_URL, DEFAULT_GRAPH_URL};
use teleport_plugin_runtime::config::ConfigError;
use teleport_plugin_runtime::plugin::Plugin;

fn load_text(text: &str) -> (tempfile::TempDir, PathBuf, Result<Config, ConfigError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("teleport-msteams.toml");
    std::fs::write(&path, text).unwrap();
    let result = config::load(&path);
    (dir, path, result)
}

const BASE: &str = "[teleport]\naddr = \"localhost:3025\"\nidentity = \"/id\"\n";
const MSAPI: &str =
    "[msapi]\napp_id = \"a\"\ntenant_id = \"t\"\nteams_app_id = \"x\"\napp_secret = \"s\"\n";

/// The TOML the Go chart (`teleport-plugin-msteams`) renders from its values, with the
/// secret's mount path replaced by `secret`.
fn helm_rendered(secret: &str) -> String {
    format!(
        r#"preload = true

[teleport]
addr = "teleport.example.com:443"
identity = "/var/lib/teleport/plugins/msteams/teleport-identity/auth_id"
refresh_identity = true

[msapi]
app_id = "7b3c1e9a-0000-4000-8000-000000000001"
tenant_id = "7b3c1e9a-0000-4000-8000-000000000002"
teams_app_id = "7b3c1e9a-0000-4000-8000-000000000003"
app_secret = "{secret}"

[role_to_recipients]
"*" = ["admin@example.com"]
"dev" = ["https://teams.microsoft.com/l/channel/19%3aabc%40thread.tacv2/Requests?groupId=g-1&tenantId=t-1", "8f3f0b6a-0000-4000-8000-0000000000c0"]

[log]
output = "stdout"
severity = "INFO"
"#
    )
}

#[test]
fn the_go_charts_rendered_config_loads() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("appSecret");
    std::fs::write(&secret, "from-the-secret\n").unwrap();
    let (_dir, _path, result) = load_text(&helm_rendered(&secret.display().to_string()));
    let config = result.expect("loads");
    assert!(config.preload);
    assert_eq!(
        config.msapi.credentials.app_id,
        "7b3c1e9a-0000-4000-8000-000000000001"
    );
    assert_eq!(
        config.msapi.credentials.tenant_id,
        "7b3c1e9a-0000-4000-8000-000000000002"
    );
    assert_eq!(
        config.msapi.teams_app_id,
        "7b3c1e9a-0000-4000-8000-000000000003"
    );
    assert_eq!(
        config.msapi.credentials.app_secret.expose(),
        "from-the-secret"
    );
    assert_eq!(config.msapi.endpoints.region, "emea");
    assert_eq!(config.msapi.endpoints.graph.as_str(), DEFAULT_GRAPH_URL);
    assert_eq!(
        config
            .msapi
            .endpoints
            .bot_framework
            .as_str()
            .trim_end_matches('/'),
        DEFAULT_BOT_FRAMEWORK_URL
    );
    assert_eq!(config.role_to_recipients.get("dev").len(), 2);
    assert!(!config.msapi.lookup_posted, "Go never reads its cards back");
    assert!(
        config.runtime.warnings.is_empty(),
        "{:?}",
        config.runtime.warnings
    );
}

#[test]
fn lookup_posted_is_off_unless_set_and_must_be_a_boolean() {
    let recipients = "\n[role_to_recipients]\n\"*\" = \"a@example.com\"\n";
    let (_dir, _path, unset) = load_text(&format!("{BASE}{MSAPI}{recipients}"));
    assert!(!unset.expect("loads").msapi.lookup_posted);

    let (_dir, _path, on) = load_text(&format!("{BASE}{MSAPI}lookup_posted = true\n{recipients}"));
    let on = on.expect("loads");
    assert!(on.msapi.lookup_posted);
    assert!(on.runtime.warnings.is_empty(), "{:?}", on.runtime.warnings);

    let (_dir, path, bad) = load_text(&format!(
        "{BASE}{MSAPI}lookup_posted = \"yes\"\n{recipients}"
    ));
    let error = bad.expect_err("not a boolean").to_string();
    assert!(error.contains("lookup_posted"), "{error}");
    assert!(error.contains(&path.display().to_string()), "{error}");
}

#[test]
fn a_go_config_with_region_and_an_inline_secret_loads() {
    let (_dir, _path, result) = load_text(&format!(
        "{BASE}[msapi]\napp_id = \"a\"\napp_secret = \"inline~secret\"\ntenant_id = \"t\"\nteams_app_id = \"x\"\nregion = \"amer\"\n\n[role_to_recipients]\n\"*\" = \"foo@example.com\"\n"
    ));
    let config = result.expect("loads");
    assert!(!config.preload, "off unless set, as in Go");
    assert!(!config.msapi.lookup_posted, "off unless set");
    assert_eq!(config.msapi.endpoints.region, "amer");
    assert_eq!(
        config.msapi.credentials.app_secret.expose(),
        "inline~secret"
    );
}

#[test]
fn our_sample_config_loads_once_its_secret_file_exists() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("app_secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let text = MsTeamsPlugin::SAMPLE_CONFIG.replace(
        "/var/lib/teleport/plugins/msteams/app_secret",
        &secret.display().to_string(),
    );
    let (_dir, _path, result) = load_text(&text);
    let config = result.expect("the sample loads");
    assert!(config.preload);
    assert_eq!(config.role_to_recipients.get("*"), ["admin@example.com"]);
    assert_eq!(config.runtime.teleport.addr(), "example.com:3025");
    assert!(config.runtime.warnings.is_empty());
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        (
            "app_id = \"\"\ntenant_id = \"t\"\nteams_app_id = \"x\"\napp_secret = \"s\"",
            "msapi.app_id",
        ),
        (
            "app_id = \"a\"\nteams_app_id = \"x\"\napp_secret = \"s\"",
            "msapi.tenant_id",
        ),
        (
            "app_id = \"a\"\ntenant_id = \"t\"\napp_secret = \"s\"",
            "msapi.teams_app_id",
        ),
        (
            "app_id = \"a\"\ntenant_id = \"t\"\nteams_app_id = \"x\"",
            "msapi.app_secret",
        ),
        (
            "app_id = \"a\"\ntenant_id = \"t\"\nteams_app_id = \"x\"\napp_secret = \"/nonexistent/secret\"",
            "msapi.app_secret",
        ),
        (
            "app_id = \"a\"\ntenant_id = \"t\"\nteams_app_id = \"x\"\napp_secret = \"s\"\ngraph_url = \"graph.microsoft.com\"",
            "msapi.graph_url",
        ),
        (
            "app_id = \"a\"\ntenant_id = \"t\"\nteams_app_id = \"x\"\napp_secret = \"s\"\nregion = \"e/u\"",
            "msapi.region",
        ),
    ];
    for (section, key) in cases {
        let (_dir, path, result) = load_text(&format!(
            "{BASE}[msapi]\n{section}\n\n[role_to_recipients]\n\"*\" = \"a@example.com\"\n"
        ));
        let error = result.expect_err(section).to_string();
        assert!(error.contains(key), "{key}: {error}");
        assert!(error.contains(&path.display().to_string()), "{error}");
    }
}

#[test]
fn recipients_must_be_people_or_channel_links() {
    let cases = [
        (
            "\"*\" = \"https://teams.microsoft.com/l/chat/x\"",
            "role_to_recipients.\"*\"",
        ),
        (
            "\"*\" = \"a@example.com\"\ndev = [\"b@example.com\", \"http://example.com/teams\"]",
            "role_to_recipients.dev[1]",
        ),
    ];
    for (body, key) in cases {
        let (_dir, _path, result) =
            load_text(&format!("{BASE}{MSAPI}\n[role_to_recipients]\n{body}\n"));
        let error = result.expect_err(body).to_string();
        assert!(error.contains(key), "{key}: {error}");
        assert!(error.contains("channel link"), "{error}");
    }
    let (_dir, _path, result) = load_text(&format!(
        "{BASE}{MSAPI}\n[role_to_recipients]\ndev = \"a@example.com\"\n"
    ));
    let error = result.expect_err("no wildcard").to_string();
    assert!(error.contains("role_to_recipients"), "{error}");
}

#[test]
fn our_charts_rendered_config_loads() {
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/deploy/helm/golden/msteams-full.toml");
    let Ok(text) = std::fs::read_to_string(&golden) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("appSecret");
    std::fs::write(&secret, "from-the-secret\n").unwrap();
    let text = text.replace(
        "/var/lib/teleport/plugins/msteams/appSecret",
        &secret.display().to_string(),
    );
    let (_dir, _path, result) = load_text(&text);
    let config = result.expect("the chart's TOML loads");
    assert!(config.preload);
    assert_eq!(config.msapi.endpoints.region, "amer");
    let dev = config.role_to_recipients.get("dev");
    assert!(
        teleport_msteams::recipient::channel_link(&dev[1]).is_some(),
        "{dev:?}"
    );
    assert!(
        config.runtime.warnings.is_empty(),
        "{:?}",
        config.runtime.warnings
    );
}
