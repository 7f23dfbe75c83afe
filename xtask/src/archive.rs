//! Byte-for-byte reproducible tar and gzip output, and SHA-256 digests.
//!
//! Every entry gets the same mtime and explicit owner and mode, entries are sorted by
//! path, and nothing is read from the file system's metadata: the same inputs always give
//! the same bytes, on any machine.

use std::io::{self, Write};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// What an entry holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Content {
    Dir,
    File(Vec<u8>),
    /// A symbolic link to this target.
    Symlink(String),
}

/// One tar entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Relative path without a leading or trailing `/`.
    pub path: String,
    pub content: Content,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

impl Entry {
    /// A root-owned directory.
    pub(crate) fn dir(path: impl Into<String>, mode: u32) -> Self {
        Self {
            path: path.into(),
            content: Content::Dir,
            mode,
            uid: 0,
            gid: 0,
        }
    }

    /// A root-owned regular file.
    pub(crate) fn file(path: impl Into<String>, mode: u32, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            path: path.into(),
            content: Content::File(bytes.into()),
            mode,
            uid: 0,
            gid: 0,
        }
    }

    /// A root-owned symbolic link.
    pub(crate) fn symlink(path: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            content: Content::Symlink(target.into()),
            mode: 0o777,
            uid: 0,
            gid: 0,
        }
    }

    /// The same entry owned by `uid:gid`.
    pub(crate) fn owned_by(mut self, uid: u64, gid: u64) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }
}

/// An uncompressed tar of `entries`, sorted by path, every mtime set to `mtime`.
pub(crate) fn tar(mut entries: Vec<Entry>, mtime: u64) -> io::Result<Vec<u8>> {
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    if let Some(pair) = entries.windows(2).find(|w| w[0].path == w[1].path) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("duplicate tar entry {}", pair[0].path),
        ));
    }
    let mut builder = tar::Builder::new(Vec::new());
    for entry in &entries {
        let mut header = tar::Header::new_ustar();
        header.set_mode(entry.mode);
        header.set_uid(entry.uid);
        header.set_gid(entry.gid);
        header.set_mtime(mtime);
        match &entry.content {
            Content::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                let path = format!("{}/", entry.path);
                builder.append_data(&mut header, path, io::empty())?;
            }
            Content::File(bytes) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(bytes.len() as u64);
                builder.append_data(&mut header, &entry.path, bytes.as_slice())?;
            }
            Content::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                builder.append_link(&mut header, &entry.path, target)?;
            }
        }
    }
    builder.into_inner()
}

/// `bytes` gzip-compressed (best compression; the header carries no name and no mtime).
pub(crate) fn gzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// Lower-case hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Entry> {
        vec![
            Entry::file("a/b/file", 0o644, b"hello".to_vec()),
            Entry::dir("a", 0o755),
            Entry::dir("a/b", 0o700).owned_by(65532, 65532),
            Entry::symlink("a/link", "/a/b/file"),
        ]
    }

    #[test]
    fn same_entries_in_any_order_give_the_same_bytes() {
        let one = tar(sample(), 1_700_000_000).unwrap();
        let mut reversed = sample();
        reversed.reverse();
        let two = tar(reversed, 1_700_000_000).unwrap();
        assert_eq!(one, two);
        assert_eq!(gzip(&one).unwrap(), gzip(&two).unwrap());
    }

    #[test]
    fn entries_keep_path_order_owner_mode_and_mtime() {
        let bytes = tar(sample(), 1_700_000_000).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let seen: Vec<_> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.mtime().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("a/".to_owned(), 0o755, 0, 1_700_000_000),
                ("a/b/".to_owned(), 0o700, 65532, 1_700_000_000),
                ("a/b/file".to_owned(), 0o644, 0, 1_700_000_000),
                ("a/link".to_owned(), 0o777, 0, 1_700_000_000),
            ]
        );
    }

    #[test]
    fn duplicate_paths_are_refused() {
        let entries = vec![Entry::dir("x", 0o755), Entry::dir("x", 0o700)];
        assert!(tar(entries, 0).is_err());
    }

    #[test]
    fn sha256_matches_the_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
