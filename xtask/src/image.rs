//! `cargo xtask image`: minimal OCI images of the plugins and of the demo helpers.
//!
//! Each image is one layer: the static binary, the build machine's CA bundle, an
//! /etc/passwd and /etc/group with the non-root user 65532, and the plugin's data directory
//! owned by that user. Images land in `dist/images/<name>/` (OCI layout) and
//! `dist/images/<name>-<version>.tar` (for `docker load`), listed in `dist/images/images.tsv`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::archive::Entry;
use crate::dist::{self, mib};
use crate::oci::{self, ImageSpec, WrittenImage};
use crate::plugins::{HELPERS, Helper, PLUGINS, Plugin};
use crate::source::{self, Source};
use crate::static_build::{self, StaticBuild};

/// The user every image runs as (the usual "nonroot" of minimal images).
pub(crate) const UID: u64 = 65532;
pub(crate) const DEFAULT_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnonroot:x:65532:\n";
/// Where a plugin image carries its CycloneDX SBOM (see supply-chain/README.md).
pub(crate) const SBOM_PATH: &str = "usr/share/teleport-plugins/sbom.cdx.json";

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Plugins (`slack`, ...) and/or helpers (`teleport-fake-chat`, `teleport-testkit-server`);
    /// default: every ready plugin and every helper that exists.
    pub names: Vec<String>,
    /// Output directory (images go to <out>/images).
    #[arg(long, default_value = "dist")]
    pub out: PathBuf,
    /// CA bundle to put in the images.
    #[arg(long, default_value = DEFAULT_CA_BUNDLE)]
    pub ca_bundle: PathBuf,
    /// Only the plugins, not the demo helpers.
    #[arg(long)]
    pub no_helpers: bool,
    /// Don't run cargo: package the binaries a previous build left in the target directory.
    #[arg(long)]
    pub no_build: bool,
}

pub(crate) fn run(args: Args) -> Result<()> {
    let root = source::workspace_root();
    let source = Source::detect(&root)?;
    let builder = StaticBuild::new(&root, source.clone()).reuse_built(args.no_build);
    let images_dir = root.join(&args.out).join("images");
    let ca = read_ca_bundle(&args.ca_bundle)?;

    let (plugin_names, helper_names) = split_names(&args.names)?;
    let explicit = !args.names.is_empty();
    let mut written = Vec::new();
    let mut plugin_failures = None;

    if !explicit || !plugin_names.is_empty() {
        let built = dist::build_ready_plugins(&root, &builder, &plugin_names)?;
        let sboms = crate::sbom::Sboms::load(&root)?;
        for ready in &built.ready {
            let binary = fs::read(&ready.binary)?;
            let sbom = sboms.document(ready.plugin.package, &source)?;
            let spec = plugin_image(ready.plugin, &source, &binary, &ca, &sbom);
            written.push(write(&spec, &images_dir)?);
        }
        plugin_failures = Some(built);
    }
    if !args.no_helpers && (!explicit || !helper_names.is_empty()) {
        for helper in HELPERS
            .iter()
            .filter(|h| !explicit || helper_names.contains(&h.binary))
        {
            if !static_build::has_binary(&root, helper.package, helper.binary)? {
                if explicit {
                    bail!(
                        "{}: package {} has no such binary yet",
                        helper.binary,
                        helper.package
                    );
                }
                eprintln!(
                    "xtask: skipping image {}: package {} has no such binary yet",
                    helper.binary, helper.package
                );
                continue;
            }
            let binary = fs::read(builder.build(helper.package, helper.binary)?)?;
            let spec = helper_image(helper, &source, &binary, &ca);
            written.push(write(&spec, &images_dir)?);
        }
    }

    write_listing(&images_dir, &written)?;
    println!(
        "{:<36} {:>12} {:>12}  manifest",
        "image", "layer.gz", "compressed"
    );
    for image in &written {
        println!(
            "{:<36} {:>12} {:>12}  {}",
            image.reference,
            mib(image.layer_size),
            mib(image.compressed_size),
            image.manifest_digest
        );
    }
    plugin_failures.map_or(Ok(()), dist::Built::finish)
}

/// The build machine's CA bundle, which the images use to verify chat APIs' certificates.
pub(crate) fn read_ca_bundle(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| {
        format!(
            "reading the CA bundle {} (install Debian's ca-certificates or pass --ca-bundle)",
            path.display()
        )
    })
}

/// Splits names into plugin names and helper binaries; unknown names are an error.
fn split_names(names: &[String]) -> Result<(Vec<String>, Vec<&'static str>)> {
    let mut plugins = Vec::new();
    let mut helpers = Vec::new();
    for name in names {
        if let Some(helper) = HELPERS.iter().find(|h| h.binary == name) {
            helpers.push(helper.binary);
        } else if PLUGINS
            .iter()
            .any(|p| p.name == name.trim_start_matches("teleport-"))
        {
            plugins.push(name.clone());
        } else {
            bail!(
                "unknown image {name:?}; plugins: {}; helpers: {}",
                PLUGINS
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", "),
                HELPERS
                    .iter()
                    .map(|h| h.binary)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok((plugins, helpers))
}

fn write(spec: &ImageSpec, images_dir: &Path) -> Result<WrittenImage> {
    let layout = images_dir.join(&spec.name);
    let archive = images_dir.join(format!("{}-{}.tar", spec.name, spec.tag));
    oci::write_image(spec, &layout, &archive)
}

/// `images.tsv`, for scripts: reference, archive, OCI layout directory, manifest digest,
/// config digest (the image ID `docker load` reports), compressed size in bytes.
fn write_listing(images_dir: &Path, written: &[WrittenImage]) -> Result<()> {
    fs::create_dir_all(images_dir)?;
    let mut text = String::new();
    for image in written {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            image.reference,
            image.archive.display(),
            image.layout_dir.display(),
            image.manifest_digest,
            image.config_digest,
            image.compressed_size
        ));
    }
    fs::write(images_dir.join("images.tsv"), text)?;
    Ok(())
}

/// Directories and files every image has.
fn base_layer(ca: &[u8]) -> Vec<Entry> {
    vec![
        Entry::dir("etc", 0o755),
        Entry::file("etc/passwd", 0o644, PASSWD),
        Entry::file("etc/group", 0o644, GROUP),
        Entry::dir("etc/ssl", 0o755),
        Entry::dir("etc/ssl/certs", 0o755),
        Entry::file("etc/ssl/certs/ca-certificates.crt", 0o644, ca.to_vec()),
        Entry::dir("home", 0o755),
        Entry::dir("home/nonroot", 0o700).owned_by(UID, UID),
        Entry::dir("tmp", 0o1777),
        Entry::dir("usr", 0o755),
        Entry::dir("usr/local", 0o755),
        Entry::dir("usr/local/bin", 0o755),
    ]
}

fn labels(source: &Source, title: &str, description: &str) -> BTreeMap<String, String> {
    [
        ("org.opencontainers.image.title", title.to_owned()),
        (
            "org.opencontainers.image.description",
            description.to_owned(),
        ),
        ("org.opencontainers.image.version", source.version.clone()),
        ("org.opencontainers.image.revision", source.commit.clone()),
        (
            "org.opencontainers.image.source",
            source::REPOSITORY.to_owned(),
        ),
        (
            "org.opencontainers.image.licenses",
            source::LICENSE.to_owned(),
        ),
        (
            "org.opencontainers.image.created",
            oci::rfc3339(source.epoch).unwrap_or_default(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

const ENV: [&str; 2] = [
    "PATH=/usr/local/bin",
    "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
];

/// The data directory of `plugin`, owned by the image's user so a fresh named volume
/// mounted there is writable, and `/etc/teleport-<plugin>.toml` (the plugins' default config
/// path) linked into it: the TOML can come with the data directory volume, or be mounted at
/// the Go images' path.
fn plugin_entries(plugin: &Plugin) -> Vec<Entry> {
    let data_dir = plugin.data_dir();
    vec![
        Entry::dir(data_dir.trim_start_matches('/'), 0o750).owned_by(UID, UID),
        Entry::symlink(
            format!("etc/{}.toml", plugin.binary()),
            format!("{data_dir}/{}.toml", plugin.binary()),
        ),
    ]
}

const VAR_DIRS: [&str; 4] = [
    "var",
    "var/lib",
    "var/lib/teleport",
    "var/lib/teleport/plugins",
];

/// The image's files without any binary, for every plugin at once: what
/// `docker/Dockerfile` adds under the binary from a release tarball.
pub(crate) fn shared_rootfs(ca: &[u8]) -> Vec<Entry> {
    let mut entries = base_layer(ca);
    entries.extend(VAR_DIRS.iter().map(|d| Entry::dir(*d, 0o755)));
    entries.extend(PLUGINS.iter().flat_map(plugin_entries));
    entries
}

/// The image of one plugin: `/usr/local/bin/teleport-plugin` (the same path for every
/// plugin, as in the Go images), started with the TOML from the data directory volume.
pub(crate) fn plugin_image(
    plugin: &Plugin,
    source: &Source,
    binary: &[u8],
    ca: &[u8],
    sbom: &[u8],
) -> ImageSpec {
    let data_dir = plugin.data_dir();
    let mut layer = base_layer(ca);
    layer.push(Entry::file(
        "usr/local/bin/teleport-plugin",
        0o755,
        binary.to_vec(),
    ));
    layer.extend(VAR_DIRS.iter().map(|d| Entry::dir(*d, 0o755)));
    layer.extend([
        Entry::dir("usr/share", 0o755),
        Entry::dir("usr/share/teleport-plugins", 0o755),
        Entry::file(SBOM_PATH, 0o644, sbom.to_vec()),
    ]);
    layer.extend(plugin_entries(plugin));
    ImageSpec {
        name: plugin.image(),
        tag: source.version.clone(),
        layer,
        entrypoint: vec!["/usr/local/bin/teleport-plugin".to_owned()],
        cmd: vec![
            "start".to_owned(),
            "-c".to_owned(),
            format!("{data_dir}/{}.toml", plugin.binary()),
        ],
        env: ENV.iter().map(|s| (*s).to_owned()).collect(),
        user: format!("{UID}:{UID}"),
        working_dir: Some(data_dir),
        exposed_ports: Vec::new(),
        labels: labels(source, &plugin.image(), &plugin.description()),
        epoch: source.epoch,
    }
}

/// The image of a demo helper: its binary at `/usr/local/bin/<binary>` as the entrypoint.
pub(crate) fn helper_image(
    helper: &Helper,
    source: &Source,
    binary: &[u8],
    ca: &[u8],
) -> ImageSpec {
    let path = format!("usr/local/bin/{}", helper.binary);
    let mut layer = base_layer(ca);
    layer.push(Entry::file(path.clone(), 0o755, binary.to_vec()));
    layer.push(Entry::dir("data", 0o755).owned_by(UID, UID));
    ImageSpec {
        name: helper.binary.to_owned(),
        tag: source.version.clone(),
        layer,
        entrypoint: vec![format!("/{path}")],
        cmd: helper.cmd.iter().map(|s| (*s).to_owned()).collect(),
        env: ENV
            .iter()
            .chain(helper.env)
            .map(|s| (*s).to_owned())
            .collect(),
        user: format!("{UID}:{UID}"),
        working_dir: Some("/data".to_owned()),
        exposed_ports: helper.ports.iter().map(|s| (*s).to_owned()).collect(),
        labels: labels(source, helper.binary, helper.description),
        epoch: source.epoch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{self, Content};

    fn entry<'a>(spec: &'a ImageSpec, path: &str) -> &'a Entry {
        spec.layer
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("{path} missing"))
    }

    #[test]
    fn plugin_image_runs_the_binary_as_nonroot_with_the_toml_from_its_data_dir() {
        let spec = plugin_image(&PLUGINS[0], &Source::fixture(), b"ELF", b"CA", b"{}");
        assert_eq!(spec.name, "teleport-plugin-slack");
        assert_eq!(spec.tag, "1.2.3");
        assert_eq!(spec.entrypoint, ["/usr/local/bin/teleport-plugin"]);
        assert_eq!(
            spec.cmd,
            [
                "start",
                "-c",
                "/var/lib/teleport/plugins/slack/teleport-slack.toml"
            ]
        );
        assert_eq!(spec.user, "65532:65532");
        let binary = entry(&spec, "usr/local/bin/teleport-plugin");
        assert_eq!(
            (binary.mode, &binary.content),
            (0o755, &Content::File(b"ELF".to_vec()))
        );
        let data = entry(&spec, "var/lib/teleport/plugins/slack");
        assert_eq!((data.uid, data.gid), (UID, UID));
        assert_eq!(
            entry(&spec, "etc/teleport-slack.toml").content,
            Content::Symlink("/var/lib/teleport/plugins/slack/teleport-slack.toml".into())
        );
        assert_eq!(
            entry(&spec, "etc/ssl/certs/ca-certificates.crt").content,
            Content::File(b"CA".to_vec())
        );
        let passwd = entry(&spec, "etc/passwd");
        assert!(
            matches!(&passwd.content, Content::File(b) if String::from_utf8_lossy(b).contains(":65532:65532:"))
        );
        assert_eq!(spec.labels["org.opencontainers.image.version"], "1.2.3");
        assert_eq!(
            spec.labels["org.opencontainers.image.revision"],
            Source::fixture().commit
        );
        assert_eq!(
            spec.labels["org.opencontainers.image.source"],
            source::REPOSITORY
        );
    }

    #[test]
    fn plugin_image_carries_its_sbom() {
        let spec = plugin_image(
            &PLUGINS[0],
            &Source::fixture(),
            b"ELF",
            b"CA",
            b"{\"bomFormat\":1}",
        );
        let sbom = entry(&spec, SBOM_PATH);
        assert_eq!(sbom.mode, 0o644);
        assert!(
            matches!(&sbom.content, Content::File(bytes) if bytes.as_slice() == b"{\"bomFormat\":1}"),
            "the SBOM is stored as given"
        );
    }

    #[test]
    fn every_parent_directory_is_in_the_layer() {
        for layer in [
            plugin_image(&PLUGINS[3], &Source::fixture(), b"ELF", b"CA", b"{}").layer,
            helper_image(&HELPERS[0], &Source::fixture(), b"ELF", b"CA").layer,
            shared_rootfs(b"CA"),
        ] {
            for e in &layer {
                let mut parent = Path::new(&e.path).parent();
                while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
                    let p = p.to_string_lossy();
                    assert!(
                        layer
                            .iter()
                            .any(|d| d.path == p && d.content == Content::Dir),
                        "{p} missing for {}",
                        e.path
                    );
                    parent = Path::new(&e.path[..p.len()]).parent();
                }
            }
        }
    }

    #[test]
    fn shared_rootfs_has_every_plugins_data_dir_and_no_binary() {
        let entries = shared_rootfs(b"CA");
        for plugin in PLUGINS {
            let dir = plugin.data_dir();
            assert!(
                entries.iter().any(|e| e.path == dir[1..] && e.uid == UID),
                "{dir}"
            );
        }
        assert!(!entries.iter().any(|e| e.path.starts_with("usr/local/bin/")));
        archive::tar(entries, 0).expect("no duplicate paths");
    }

    #[test]
    fn helper_image_listens_beyond_loopback() {
        let spec = helper_image(&HELPERS[0], &Source::fixture(), b"ELF", b"CA");
        assert_eq!(spec.entrypoint, ["/usr/local/bin/teleport-fake-chat"]);
        assert!(
            spec.env
                .contains(&"FAKE_CHAT_LISTEN=0.0.0.0:8065".to_owned())
        );
        assert_eq!(spec.exposed_ports, ["8065/tcp"]);
    }

    #[test]
    fn names_are_split_into_plugins_and_helpers() {
        let (plugins, helpers) =
            split_names(&["slack".into(), "teleport-fake-chat".into()]).unwrap();
        assert_eq!(plugins, ["slack"]);
        assert_eq!(helpers, ["teleport-fake-chat"]);
        assert!(split_names(&["nginx".into()]).is_err());
    }
}
