//! The Go plugins' own sample configs (Apache-2.0, from gravitational/teleport-plugins), kept
//! in the repository under `tests/go-compat/configs` as test inputs: a drop-in must load them.

use std::path::{Path, PathBuf};

/// The folder of Go sample configs; `None`, after a `SKIPPED` line, where it is absent.
pub fn go_configs_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/go-compat/configs");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} is absent (the shared folder must sit beside the repository)",
            dir.display()
        );
        None
    }
}

/// One Go sample config by file name; `None`, after a `SKIPPED` line, where it is absent.
pub fn go_config(name: &str) -> Option<PathBuf> {
    let path = go_configs_dir()?.join(name);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!("SKIPPED: {} is absent", path.display());
        None
    }
}
