//! The plugin's Teleport identity, issued by the testkit and written where its config
//! points.

use std::path::{Path, PathBuf};

use teleport_testkit::{IdentityRequest, Testkit};

/// Issues an identity and writes it as an identity file at `path` (again to renew it,
/// as tbot does).
pub fn write_identity(kit: &Testkit, request: &IdentityRequest, path: &Path) {
    kit.issue_identity(request)
        .expect("the testkit issues the identity")
        .write_identity_file(path)
        .expect("the identity file is written");
}

/// A fresh temp dir holding an identity file named `file_name`; returns the dir (deleted
/// when dropped) and the file's path.
pub fn identity_dir(
    kit: &Testkit,
    request: &IdentityRequest,
    file_name: &str,
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(file_name);
    write_identity(kit, request, &path);
    (dir, path)
}
