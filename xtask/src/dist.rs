//! `cargo xtask dist`: one release tarball per plugin, laid out like the Go releases.
//!
//! `dist/teleport-<plugin>-v<version>-linux-amd64-bin.tar.gz` holds one directory
//! `teleport-<plugin>/` with the static binary, an `install` script, a README, the example
//! config (what `teleport-<plugin> configure` prints) and `VERSION`; a `.sha256` file in
//! `sha256sum` format sits next to it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

use crate::archive::{self, Entry};
use crate::image;
use crate::plugins::{self, Plugin};
use crate::sbom::Sboms;
use crate::source::{self, Source};
use crate::static_build::{self, StaticBuild};

const INSTALL_TEMPLATE: &str = include_str!("../templates/install.sh");
const README_TEMPLATE: &str = include_str!("../templates/README.tarball.md");

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Plugins to package (`slack`, `teleport-email`, ...); default: every plugin that has
    /// a real `main` yet (the others are skipped with a note).
    pub plugins: Vec<String>,
    /// Output directory.
    #[arg(long, default_value = "dist")]
    pub out: PathBuf,
    /// CA bundle for the shared image rootfs (see `docker/Dockerfile`).
    #[arg(long, default_value = image::DEFAULT_CA_BUNDLE)]
    pub ca_bundle: PathBuf,
}

/// A plugin binary that is built and answers `version`.
pub(crate) struct ReadyPlugin {
    pub plugin: &'static Plugin,
    pub binary: PathBuf,
    pub version_line: String,
}

pub(crate) fn run(args: Args) -> Result<()> {
    let root = source::workspace_root();
    let source = Source::detect(&root)?;
    let builder = StaticBuild::new(&root, source.clone());
    let out = root.join(&args.out);
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let rootfs = write_rootfs(&args.ca_bundle, &source, &out)?;
    // dist/ is docker/Dockerfile's build context: keep the images out of it.
    fs::write(out.join(".dockerignore"), "images/\n")?;
    let built = build_ready_plugins(&root, &builder, &args.plugins)?;
    let sboms = Sboms::load(&root)?;
    println!(
        "{:<22} {:>12} {:>12}  tarball / version",
        "binary", "size", "tar.gz"
    );
    for plugin in &built.ready {
        let tarball = write_tarball(plugin, &source, &sboms, &out)?;
        let binary_size = fs::metadata(&plugin.binary)?.len();
        let tarball_size = fs::metadata(&tarball)?.len();
        println!(
            "{:<22} {:>12} {:>12}  {}\n{:<48}  {}",
            plugin.plugin.binary(),
            mib(binary_size),
            mib(tarball_size),
            tarball.display(),
            "",
            plugin.version_line
        );
    }
    println!(
        "shared image rootfs for docker/Dockerfile: {}",
        rootfs.display()
    );
    Ok(())
}

/// `teleport-plugins-rootfs-v<version>.tar`: passwd, group, CA bundle and data directories,
/// which `docker/Dockerfile` puts under a binary from a release tarball.
fn write_rootfs(ca_bundle: &Path, source: &Source, out: &Path) -> Result<PathBuf> {
    let ca = image::read_ca_bundle(ca_bundle)?;
    let mtime = u64::try_from(source.epoch).unwrap_or(0);
    let name = rootfs_name(&source.version);
    let path = out.join(&name);
    let bytes = archive::tar(image::shared_rootfs(&ca), mtime)?;
    write_with_checksum(&path, &name, &bytes)?;
    Ok(path)
}

pub(crate) fn rootfs_name(version: &str) -> String {
    format!("teleport-plugins-rootfs-v{version}.tar")
}

/// Writes `bytes` to `path` and `<path>.sha256` in `sha256sum` format.
fn write_with_checksum(path: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    let sums = format!("{}  {name}\n", archive::sha256_hex(bytes));
    fs::write(path.with_file_name(format!("{name}.sha256")), sums)?;
    Ok(())
}

/// The plugins that could be built, and the errors of those that could not.
pub(crate) struct Built {
    pub ready: Vec<ReadyPlugin>,
    /// Build failures of plugins selected implicitly (an explicit one fails at once).
    pub failures: Vec<String>,
}

impl Built {
    /// Ok when every attempted build succeeded; call after packaging what did.
    pub(crate) fn finish(self) -> Result<()> {
        if self.failures.is_empty() {
            return Ok(());
        }
        bail!(
            "some plugins failed to build:\n  {}",
            self.failures.join("\n  ")
        )
    }
}

/// Builds the selected plugins and keeps those whose binary is a real plugin.
///
/// Named plugins must all be ready: a missing, unready or failing one is an error. With no
/// names, a plugin without a binary or a real `main` yet is skipped with a note, and a
/// build failure is reported in [`Built::failures`] after the others are built, so that one
/// plugin in progress doesn't block packaging the rest (but still fails the command).
pub(crate) fn build_ready_plugins(
    root: &Path,
    builder: &StaticBuild,
    names: &[String],
) -> Result<Built> {
    let explicit = !names.is_empty();
    let mut built = Built {
        ready: Vec::new(),
        failures: Vec::new(),
    };
    for plugin in plugins::select(names)? {
        let binary_name = plugin.binary();
        let not_ready = |why: String| -> Result<()> {
            if explicit {
                bail!("{binary_name}: {why}");
            }
            eprintln!("xtask: skipping {binary_name}: {why}");
            Ok(())
        };
        if !static_build::has_binary(root, plugin.package, &binary_name)? {
            not_ready(format!(
                "package {} has no binary {binary_name}",
                plugin.package
            ))?;
            continue;
        }
        let binary = match builder.build(plugin.package, &binary_name) {
            Ok(binary) => binary,
            Err(err) if !explicit => {
                eprintln!("xtask: {binary_name} failed to build, continuing with the others");
                built.failures.push(format!("{err:#}"));
                continue;
            }
            Err(err) => return Err(err),
        };
        match static_build::version_line(&binary, &binary_name) {
            Some(version_line) => built.ready.push(ReadyPlugin {
                plugin,
                binary,
                version_line,
            }),
            None => not_ready("no real main yet (`version` does not answer)".to_owned())?,
        }
    }
    Ok(built)
}

fn write_tarball(
    ready: &ReadyPlugin,
    source: &Source,
    sboms: &Sboms,
    out: &Path,
) -> Result<PathBuf> {
    let plugin = ready.plugin;
    let configure = Command::new(&ready.binary)
        .arg("configure")
        .output()
        .with_context(|| format!("running {} configure", plugin.binary()))?;
    ensure!(
        configure.status.success() && !configure.stdout.is_empty(),
        "{} configure printed no example config",
        plugin.binary()
    );
    let binary = fs::read(&ready.binary)?;
    let sbom = sboms.document(plugin.package, source)?;
    let bytes = release_tarball(plugin, source, &binary, &configure.stdout, &sbom)?;
    let name = tarball_name(plugin, &source.version);
    let path = out.join(&name);
    write_with_checksum(&path, &name, &bytes)?;
    // Next to the tarball too, for scanners that take the SBOM without unpacking.
    let sbom_path = out.join(format!("{name}.cdx.json"));
    fs::write(&sbom_path, &sbom).with_context(|| format!("writing {}", sbom_path.display()))?;
    Ok(path)
}

/// `teleport-<plugin>-v<version>-linux-amd64-bin.tar.gz`.
pub(crate) fn tarball_name(plugin: &Plugin, version: &str) -> String {
    format!("{}-v{version}-linux-amd64-bin.tar.gz", plugin.binary())
}

/// The gzipped release tarball, in memory.
pub(crate) fn release_tarball(
    plugin: &Plugin,
    source: &Source,
    binary: &[u8],
    example_config: &[u8],
    sbom: &[u8],
) -> Result<Vec<u8>> {
    let dir = plugin.binary();
    let fill = |template: &str| {
        template
            .replace("{{plugin}}", plugin.name)
            .replace("{{version}}", &source.version)
            .replace("{{revision}}", &source.revision)
            .replace("{{repository}}", source::REPOSITORY)
            .replace("{{description}}", &plugin.description())
    };
    let entries = vec![
        Entry::dir(dir.clone(), 0o755),
        Entry::file(format!("{dir}/{dir}"), 0o755, binary.to_vec()),
        Entry::file(format!("{dir}/install"), 0o755, fill(INSTALL_TEMPLATE)),
        Entry::file(format!("{dir}/README.md"), 0o644, fill(README_TEMPLATE)),
        Entry::file(
            format!("{dir}/{dir}.example.toml"),
            0o644,
            example_config.to_vec(),
        ),
        Entry::file(format!("{dir}/sbom.cdx.json"), 0o644, sbom.to_vec()),
        Entry::file(
            format!("{dir}/VERSION"),
            0o644,
            format!("v{}\n", source.version),
        ),
    ];
    let mtime = u64::try_from(source.epoch).unwrap_or(0);
    Ok(archive::gzip(&archive::tar(entries, mtime)?)?)
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::plugins::PLUGINS;

    fn unpack(gz: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut tar)
            .unwrap();
        tar::Archive::new(tar.as_slice())
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().to_string_lossy().into_owned();
                let mode = e.header().mode().unwrap();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (path, mode, data)
            })
            .collect()
    }

    #[test]
    fn tarball_is_named_and_laid_out_like_the_go_releases() {
        let slack = &PLUGINS[0];
        assert_eq!(
            tarball_name(slack, "1.2.3"),
            "teleport-slack-v1.2.3-linux-amd64-bin.tar.gz"
        );
        let gz =
            release_tarball(slack, &Source::fixture(), b"ELF...", b"[teleport]\n", b"{}").unwrap();
        let entries = unpack(&gz);
        let names: Vec<_> = entries.iter().map(|(p, m, _)| (p.as_str(), *m)).collect();
        assert_eq!(
            names,
            [
                ("teleport-slack/", 0o755),
                ("teleport-slack/README.md", 0o644),
                ("teleport-slack/VERSION", 0o644),
                ("teleport-slack/install", 0o755),
                ("teleport-slack/sbom.cdx.json", 0o644),
                ("teleport-slack/teleport-slack", 0o755),
                ("teleport-slack/teleport-slack.example.toml", 0o644),
            ]
        );
        let file = |name: &str| {
            let (_, _, data) = entries.iter().find(|(p, _, _)| p.ends_with(name)).unwrap();
            String::from_utf8(data.clone()).unwrap()
        };
        assert_eq!(file("/VERSION"), "v1.2.3\n");
        assert_eq!(file(".example.toml"), "[teleport]\n");
        let install = file("/install");
        assert!(install.starts_with("#!/bin/sh\n"));
        assert!(install.contains("name=\"teleport-slack\""));
        assert!(!install.contains("{{"), "unfilled placeholder in install");
        let readme = file("/README.md");
        assert!(readme.contains("revision `0123456789ab`"));
        assert!(!readme.contains("{{"), "unfilled placeholder in README");
    }

    #[test]
    fn tarball_bytes_depend_only_on_the_inputs() {
        let slack = &PLUGINS[0];
        let one = release_tarball(slack, &Source::fixture(), b"bin", b"cfg", b"{}").unwrap();
        let two = release_tarball(slack, &Source::fixture(), b"bin", b"cfg", b"{}").unwrap();
        assert_eq!(one, two);
    }
}
