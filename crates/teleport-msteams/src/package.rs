//! `teleport-msteams configure <dir> --appID … --appSecret … --tenantID …`: a new directory
//! with what Go's command writes — a filled-in `teleport-msteams.toml`, the Teams app
//! manifest (`manifest.json`) with a fresh Teams app ID, the icons, `app.zip` (manifest and
//! icons, to upload to Teams) and the Teleport role and user for the plugin.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::json;
use zip::write::SimpleFileOptions;

/// The app's colour icon (192×192).
pub const COLOR_ICON: &[u8] = include_bytes!("assets/color.png");
/// The app's outline icon (32×32, white on transparent).
pub const OUTLINE_ICON: &[u8] = include_bytes!("assets/outline.png");

/// What goes into the package.
#[derive(Clone, Debug)]
pub struct PackageParams {
    /// The Entra ID application (client) ID: also the bot's ID.
    pub app_id: String,
    /// The application's secret, written into the config as given.
    pub app_secret: String,
    /// The tenant.
    pub tenant_id: String,
    /// The Teams app ID; `configure` makes a fresh UUID.
    pub teams_app_id: String,
}

/// A TOML basic string.
fn toml_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The plugin's config, ready but for the Teleport address, identity and recipients.
pub fn config_toml(params: &PackageParams) -> String {
    format!(
        r#"# teleport-msteams configuration written by `teleport-msteams configure`.
# Fill in [teleport] and [role_to_recipients]; see `teleport-msteams configure` (no
# arguments) for every key.

# Resolve every recipient at start-up, installing the app for people who lack it.
preload = true

[teleport]
addr = "localhost:3025"
identity = "identity"

[msapi]
app_id = {app_id}
# The client secret, or the path of a file holding it.
app_secret = {app_secret}
tenant_id = {tenant_id}
teams_app_id = {teams_app_id}

[role_to_recipients]
# People by e-mail or Entra ID user ID, channels by link; "*" is required.
"*" = ["foo@example.com"]

[log]
output = "stderr"
severity = "INFO"
"#,
        app_id = toml_string(&params.app_id),
        app_secret = toml_string(&params.app_secret),
        tenant_id = toml_string(&params.tenant_id),
        teams_app_id = toml_string(&params.teams_app_id),
    )
}

/// The Teams app manifest (schema 1.11): a notification-only bot, the Entra ID app as its
/// bot ID, the two icons.
pub fn manifest(params: &PackageParams) -> serde_json::Value {
    json!({
        "$schema": "https://developer.microsoft.com/en-us/json-schemas/teams/v1.11/MicrosoftTeams.schema.json",
        "manifestVersion": "1.11",
        "version": "1.0.0",
        "id": params.teams_app_id,
        "packageName": "com.goteleport.accessplugins.msteams",
        "developer": {
            "name": "Teleport access plugins",
            "websiteUrl": "https://goteleport.com",
            "privacyUrl": "https://goteleport.com/legal/privacy",
            "termsOfUseUrl": "https://goteleport.com/legal/tos",
        },
        "icons": { "color": "color.png", "outline": "outline.png" },
        "name": { "short": "TeleBot", "full": "Teleport access requests" },
        "description": {
            "short": "Teleport access requests",
            "full": "Tells reviewers about Teleport access requests and shows their reviews and outcome.",
        },
        "accentColor": "#512FC9",
        "bots": [{
            "botId": params.app_id,
            "scopes": ["personal", "team"],
            "supportsFiles": false,
            "isNotificationOnly": true,
        }],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [],
        "webApplicationInfo": { "id": params.app_id, "resource": "https://inapplicable" },
    })
}

/// The Teleport role and user the plugin runs as.
pub const ROLE_YAML: &str = "kind: role
version: v7
metadata:
  name: teleport-msteams
spec:
  allow:
    rules:
      - resources: ['access_request']
        verbs: ['list', 'read']
      - resources: ['access_plugin_data']
        verbs: ['update']
      - resources: ['access_monitoring_rule']
        verbs: ['list', 'read']
---
kind: user
version: v2
metadata:
  name: teleport-msteams
spec:
  roles: ['teleport-msteams']
";

/// `app.zip`: the manifest and the icons at the archive's root, as Teams wants them.
pub fn app_zip(manifest_json: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in [
        ("manifest.json", manifest_json),
        ("outline.png", OUTLINE_ICON),
        ("color.png", COLOR_ICON),
    ] {
        writer.start_file(name, options)?;
        writer.write_all(bytes)?;
    }
    Ok(writer.finish()?.into_inner())
}

/// Writes the package into `dir`, which must not exist yet; returns the files written.
pub fn write_package(dir: &Path, params: &PackageParams) -> anyhow::Result<Vec<PathBuf>> {
    if fs::symlink_metadata(dir).is_ok() {
        bail!(
            "{} exists; give a directory that does not exist yet",
            dir.display()
        );
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let manifest_json = serde_json::to_vec_pretty(&manifest(params))?;
    let zip = app_zip(&manifest_json)?;
    let toml = config_toml(params);
    let files: [(&str, &[u8]); 6] = [
        ("teleport-msteams.toml", toml.as_bytes()),
        ("manifest.json", &manifest_json),
        ("color.png", COLOR_ICON),
        ("outline.png", OUTLINE_ICON),
        ("teleport-msteams-role.yaml", ROLE_YAML.as_bytes()),
        ("app.zip", &zip),
    ];
    let mut written = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(name);
        write_file(&path, bytes, name == "teleport-msteams.toml")
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Writes a file; the config holds the app secret, so only its owner may read it.
fn write_file(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::toml_string;

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
