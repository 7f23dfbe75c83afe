//! The plugin's Teleport identity, issued by the testkit and written where its config
//! points.

use std::path::{Path, PathBuf};

use teleport_client::{ClientConfig, CredentialsSource, TeleportClient};
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

/// A client of the testkit's auth server as `user`, with its identity file in a temp dir
/// (deleted when the returned dir is dropped).
pub fn client_of(kit: &Testkit, user: &str) -> (tempfile::TempDir, TeleportClient) {
    let (dir, path) = identity_dir(kit, &IdentityRequest::new(user), "identity");
    let config = ClientConfig::new(
        kit.auth_addr().to_string(),
        CredentialsSource::IdentityFile(path),
    );
    let client = TeleportClient::new(config).expect("a client of the testkit");
    (dir, client)
}
