//! Fully static x86_64 Linux release builds, and the checks that a built binary is usable.
//!
//! glibc with `+crt-static` gives a static-pie binary without extra toolchains (the musl
//! target may not be installed, and ring's build script needs musl-gcc for it). The build
//! uses its own target directory so it never invalidates anyone's debug build, and the
//! paths of this machine are remapped so they don't end up in the binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::source::Source;

/// The one release target.
pub(crate) const TARGET: &str = "x86_64-unknown-linux-gnu";
/// Compile-time variable carrying the git revision into `<binary> version`.
pub(crate) const REVISION_ENV: &str = "TELEPORT_PLUGIN_GIT_REV";
/// Overrides the target directory of release builds (default `<root>/target/dist`).
pub(crate) const TARGET_DIR_ENV: &str = "XTASK_DIST_TARGET_DIR";

/// Runs `cargo build --release` for single binaries.
pub(crate) struct StaticBuild {
    root: PathBuf,
    target_dir: PathBuf,
    source: Source,
    reuse: bool,
}

impl StaticBuild {
    pub(crate) fn new(root: &Path, source: Source) -> Self {
        let target_dir = std::env::var_os(TARGET_DIR_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target").join("dist"));
        Self {
            root: root.to_path_buf(),
            target_dir,
            source,
            reuse: false,
        }
    }

    /// Package the binaries already in the target directory instead of running cargo
    /// (they may be from an older revision than the labels say: for re-packaging only).
    pub(crate) fn reuse_built(mut self, reuse: bool) -> Self {
        self.reuse = reuse;
        self
    }

    /// Builds `binary` of `package` and returns its path, after checking it is static.
    pub(crate) fn build(&self, package: &str, binary: &str) -> Result<PathBuf> {
        let path = self.target_dir.join(TARGET).join("release").join(binary);
        if self.reuse {
            ensure!(
                path.exists(),
                "{} is not built (run without --no-build)",
                path.display()
            );
            ensure_static(&path)?;
            return Ok(path);
        }
        eprintln!("xtask: building {binary} ({TARGET}, static, release)");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&self.root)
            .args([
                "build",
                "--release",
                "--target",
                TARGET,
                "--package",
                package,
                "--bin",
                binary,
            ])
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .env("CARGO_ENCODED_RUSTFLAGS", self.rustflags())
            .env(REVISION_ENV, &self.source.revision)
            .env("SOURCE_DATE_EPOCH", self.source.epoch.to_string())
            .status()
            .context("running cargo")?;
        ensure!(
            status.success(),
            "cargo build of {binary} failed ({status})"
        );
        let path = self.target_dir.join(TARGET).join("release").join(binary);
        ensure_static(&path)?;
        Ok(path)
    }

    /// `+crt-static`, plus path remapping so the build machine's directories (the checkout,
    /// the cargo home) don't appear in panic messages.
    fn rustflags(&self) -> String {
        let mut flags = vec![
            "-C".to_owned(),
            "target-feature=+crt-static".to_owned(),
            format!("--remap-path-prefix={}=/build", self.root.display()),
        ];
        if let Some(home) = cargo_home() {
            flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
        }
        flags.join("\x1f")
    }
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
}

/// Fails unless `path` is an x86_64 ELF without a program interpreter (that is, it needs
/// no dynamic loader and runs in an empty `FROM scratch` image).
pub(crate) fn ensure_static(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if elf_interpreter(&bytes)? {
        bail!(
            "{} is dynamically linked (it has a PT_INTERP header)",
            path.display()
        );
    }
    Ok(())
}

/// Whether an ELF64 little-endian x86_64 image has a PT_INTERP program header.
fn elf_interpreter(bytes: &[u8]) -> Result<bool> {
    const PT_INTERP: u32 = 3;
    const EM_X86_64: u16 = 62;
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    ensure!(
        bytes.starts_with(b"\x7fELF\x02\x01"),
        "not a 64-bit little-endian ELF file"
    );
    ensure!(u16_at(0x12) == Some(EM_X86_64), "not an x86_64 binary");
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        bail!("truncated ELF header");
    };
    for i in 0..usize::from(phnum) {
        let at = usize::try_from(phoff)? + i * usize::from(phentsize);
        let Some(kind) = u32_at(at) else {
            bail!("truncated ELF program headers");
        };
        if kind == PT_INTERP {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether the workspace has a package `package` with a binary target `binary`.
pub(crate) fn has_binary(root: &Path, package: &str, binary: &str) -> Result<bool> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("running cargo metadata")?;
    ensure!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout)?;
    Ok(binary_in_metadata(&metadata, package, binary))
}

fn binary_in_metadata(metadata: &Value, package: &str, binary: &str) -> bool {
    metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == package)
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .any(|t| {
            t["name"] == binary
                && t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"))
        })
}

/// Runs `binary version` and returns its first line if it is a real plugin's answer
/// (`teleport-<name> v<version> ...`); a skeleton `fn main() {}` prints nothing.
pub(crate) fn version_line(binary: &Path, name: &str) -> Option<String> {
    let out = Command::new(binary).arg("version").output().ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().next()?.trim().to_owned();
    (out.status.success() && line.starts_with(&format!("{name} v"))).then_some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 x86_64 header with the given program header types.
    fn elf(program_headers: &[u32]) -> Vec<u8> {
        let mut bytes = vec![0u8; 64 + 56 * program_headers.len()];
        bytes[..6].copy_from_slice(b"\x7fELF\x02\x01");
        bytes[0x12..0x14].copy_from_slice(&62u16.to_le_bytes());
        bytes[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        bytes[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        bytes[0x38..0x3a].copy_from_slice(&(program_headers.len() as u16).to_le_bytes());
        for (i, kind) in program_headers.iter().enumerate() {
            let at = 64 + 56 * i;
            bytes[at..at + 4].copy_from_slice(&kind.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn an_interpreter_header_means_dynamic() {
        assert!(!elf_interpreter(&elf(&[6, 1, 2])).unwrap()); // PHDR, LOAD, DYNAMIC (static-pie)
        assert!(elf_interpreter(&elf(&[6, 3, 1])).unwrap());
        assert!(elf_interpreter(b"#!/bin/sh\n").is_err());
        assert!(elf_interpreter(&elf(&[1])[..66]).is_err());
    }

    #[test]
    fn the_test_binary_itself_is_classified() {
        // Test binaries are dynamically linked: this checks the parser on a real file.
        let me = std::env::current_exe().unwrap();
        assert!(ensure_static(&me).is_err());
    }

    #[test]
    fn metadata_lookup_needs_a_bin_target_of_that_package() {
        let metadata = serde_json::json!({"packages": [
            {"name": "teleport-fakes", "targets": [
                {"name": "teleport_fakes", "kind": ["lib"]},
                {"name": "teleport-fake-chat", "kind": ["bin"]}]},
            {"name": "teleport-testkit", "targets": [{"name": "teleport_testkit", "kind": ["lib"]}]}
        ]});
        assert!(binary_in_metadata(
            &metadata,
            "teleport-fakes",
            "teleport-fake-chat"
        ));
        assert!(!binary_in_metadata(
            &metadata,
            "teleport-testkit",
            "teleport-testkit-server"
        ));
        assert!(!binary_in_metadata(
            &metadata,
            "teleport-testkit",
            "teleport-fake-chat"
        ));
    }
}
