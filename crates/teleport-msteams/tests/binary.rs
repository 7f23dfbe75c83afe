//! The real `teleport-msteams` binary: `configure` (the sample, and Go's app package),
//! `version`, `validate`, `uninstall`, and `start` with a config file.

use crate::common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use teleport_msteams::MsTeamsPlugin;
use teleport_plugin_runtime::plugin::Plugin;
use teleport_plugin_testsupport::{cli_stdout, run_to_exit, start_plugin, terminate};

const BINARY: &str = env!("CARGO_BIN_EXE_teleport-msteams");

#[test]
fn configure_prints_the_sample_and_version_names_the_binary() {
    assert_eq!(
        cli_stdout(BINARY, &["configure"]),
        MsTeamsPlugin::SAMPLE_CONFIG
    );
    let line = cli_stdout(BINARY, &["version"]);
    assert!(line.starts_with("teleport-msteams v"), "{line}");
}

#[test]
fn configure_writes_the_config_the_app_package_and_the_role() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("msteams");
    let out = Command::new(BINARY)
        .args(["configure", &dir.display().to_string()])
        .args(["--appID", "7b3c1e9a-0000-4000-8000-000000000001"])
        .args(["--appSecret", "app~secret"])
        .args(["--tenantID", "7b3c1e9a-0000-4000-8000-000000000002"])
        .output()
        .expect("run configure");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let teams_app_id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("TeamsAppID: "))
        .expect("the Teams app ID is printed")
        .to_owned();
    assert!(
        uuid::Uuid::parse_str(&teams_app_id).is_ok(),
        "{teams_app_id}"
    );

    // The config loads once its Teleport identity and recipients are filled in.
    let toml = std::fs::read_to_string(dir.join("teleport-msteams.toml")).unwrap();
    let config = teleport_msteams::config::load(dir.join("teleport-msteams.toml")).expect("loads");
    assert_eq!(config.msapi.teams_app_id, teams_app_id);
    assert_eq!(config.msapi.credentials.app_secret.expose(), "app~secret");
    assert!(config.preload, "{toml}");

    // app.zip holds the manifest and both icons; the manifest names the app and the bot.
    let file = std::fs::File::open(dir.join("app.zip")).unwrap();
    let mut zip = zip::ZipArchive::new(file).expect("a zip");
    let mut names: Vec<_> = zip.file_names().map(str::to_owned).collect();
    names.sort();
    assert_eq!(names, ["color.png", "manifest.json", "outline.png"]);
    let mut manifest = String::new();
    zip.by_name("manifest.json")
        .unwrap()
        .read_to_string(&mut manifest)
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["id"], teams_app_id.as_str());
    assert_eq!(
        manifest["bots"][0]["botId"],
        "7b3c1e9a-0000-4000-8000-000000000001"
    );
    assert_eq!(
        manifest["webApplicationInfo"]["id"],
        "7b3c1e9a-0000-4000-8000-000000000001"
    );
    let mut png = Vec::new();
    zip.by_name("color.png")
        .unwrap()
        .read_to_end(&mut png)
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let role = std::fs::read_to_string(dir.join("teleport-msteams-role.yaml")).unwrap();
    assert!(role.contains("access_plugin_data"), "{role}");
    assert!(dir.join("manifest.json").exists() && dir.join("outline.png").exists());

    // A second run refuses the existing directory, as Go's does.
    let again = Command::new(BINARY)
        .args(["configure", &dir.display().to_string()])
        .args(["--appID", "a", "--appSecret", "s", "--tenantID", "t"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).starts_with("error: "));
}

#[tokio::test]
async fn validate_resolves_the_recipient_and_sends_two_cards() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(SECRET, false, &format!("\"*\" = \"{CAROL}\""));
    let out = tokio::process::Command::new(BINARY)
        .args(["validate", "-c", &path.display().to_string(), BOB])
        .output()
        .await
        .expect("run validate");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let chat = chat_of(&env.fake, BOB_ID).expect("installed for Bob");
    assert!(stdout.contains(&format!("Chat ID: {chat}")), "{stdout}");
    assert!(
        stdout.contains("Chat URL: https://teams.microsoft.com/l/chat/"),
        "{stdout}"
    );
    assert!(stdout.contains(BOB_ID), "{stdout}");
    let texts: Vec<String> = env
        .fake
        .with_state(|s| s.in_conversation(&chat).map(|a| a.text()).collect());
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].contains("Hello, world!"));
    assert!(texts[1].contains("Access Request"));

    let out = tokio::process::Command::new(BINARY)
        .args([
            "validate",
            "-c",
            &path.display().to_string(),
            "nobody@example.com",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
}

#[tokio::test]
async fn uninstall_removes_the_app_for_configured_people() {
    let env = Env::start(fake_options()).await;
    let link = channel_link(CHANNEL, GROUP);
    let path = env.write_config(
        SECRET,
        false,
        &format!("\"*\" = [\"{CAROL}\", \"{BOB}\", \"{link}\"]"),
    );
    let out = tokio::process::Command::new(BINARY)
        .args(["uninstall", "-c", &path.display().to_string()])
        .output()
        .await
        .expect("run uninstall");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("{CAROL}: removed")), "{stdout}");
    assert!(
        stdout.contains(&format!("{BOB}: not installed")),
        "{stdout}"
    );
    assert!(stdout.contains("a channel"), "{stdout}");
    assert_eq!(env.fake.with_state(|s| s.uninstalled.clone()), [CAROL_ID]);
    assert!(chat_of(&env.fake, CAROL_ID).is_none());
}

#[tokio::test]
async fn start_posts_then_stops_cleanly_on_sigterm() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(SECRET, true, &format!("\"*\" = \"{CAROL}\""));
    let mut child = start_plugin(BINARY, &path, Stdio::null(), Stdio::piped());
    env.wait_for_watcher().await;
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .unwrap();
    let id = request_id(&request);
    let card = env
        .fake
        .wait_for(WAIT, |s| s.activities.first().cloned())
        .await
        .expect("card");
    assert!(card.text().contains(&id));

    let status = terminate(&mut child, Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn start_with_a_wrong_secret_exits_with_one_error_line() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config("bad-secret-value", false, &format!("\"*\" = \"{CAROL}\""));
    let out = run_to_exit(BINARY, &path, Duration::from_secs(60)).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(last.contains("app_secret"), "{stderr}");
    assert!(!stderr.contains("bad-secret-value"), "{stderr}");
}
