//! A single-layer OCI image writer, with no container engine.
//!
//! It writes an OCI image layout directory and a tar of that layout which also carries
//! Docker's `manifest.json`, so the one archive works with `docker load` (also on engines
//! older than 25, which only read `manifest.json`), `podman load` and
//! `skopeo ... oci-archive:`. The output is reproducible: the layer comes from
//! [`archive::tar`] with a fixed mtime, and every JSON document is written with its object
//! keys sorted (oci-spec keeps labels and annotations in hash maps).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, DescriptorBuilder, Digest, HistoryBuilder,
    ImageConfigurationBuilder, ImageIndexBuilder, ImageManifestBuilder, MediaType, Os,
    RootFsBuilder,
};
use serde_json::Value;

use crate::archive::{self, Entry};

/// What goes into an image.
#[derive(Clone, Debug)]
pub(crate) struct ImageSpec {
    /// Repository name, e.g. `teleport-plugin-slack`.
    pub name: String,
    /// Tag, e.g. `0.1.0`.
    pub tag: String,
    /// The one layer's files.
    pub layer: Vec<Entry>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    /// `uid:gid`.
    pub user: String,
    pub working_dir: Option<String>,
    /// `port/tcp` strings.
    pub exposed_ports: Vec<String>,
    /// OCI labels (also set as manifest annotations).
    pub labels: BTreeMap<String, String>,
    /// Seconds since the epoch for every mtime and, formatted, the `created` fields.
    pub epoch: i64,
}

/// Where an image was written and what it weighs.
#[derive(Clone, Debug)]
pub(crate) struct WrittenImage {
    /// `name:tag`.
    pub reference: String,
    /// `sha256:...` of the manifest (the image's identity).
    pub manifest_digest: String,
    /// `sha256:...` of the config (what `docker images` shows as the image ID).
    pub config_digest: String,
    /// Bytes of the compressed layer.
    pub layer_size: u64,
    /// Bytes of all blobs (layer, config, manifest): the compressed image size.
    pub compressed_size: u64,
    /// The OCI layout directory.
    pub layout_dir: PathBuf,
    /// The archive for `docker load`.
    pub archive: PathBuf,
}

/// The blobs and small documents of one image, built in memory.
struct Built {
    blobs: Vec<(String, Vec<u8>)>,
    manifest_digest: String,
    config_digest: String,
    layer_size: u64,
    index: Vec<u8>,
    docker_manifest: Vec<u8>,
}

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// Writes `spec` as an OCI layout in `layout_dir` (replacing it) and as a loadable
/// archive at `archive_path`.
pub(crate) fn write_image(
    spec: &ImageSpec,
    layout_dir: &Path,
    archive_path: &Path,
) -> Result<WrittenImage> {
    let built = build(spec)?;
    let mtime = u64::try_from(spec.epoch).unwrap_or(0);

    if layout_dir.exists() {
        fs::remove_dir_all(layout_dir)
            .with_context(|| format!("removing old {}", layout_dir.display()))?;
    }
    let blob_dir = layout_dir.join("blobs").join("sha256");
    fs::create_dir_all(&blob_dir).with_context(|| format!("creating {}", blob_dir.display()))?;
    for (hex, bytes) in &built.blobs {
        fs::write(blob_dir.join(hex), bytes)?;
    }
    fs::write(layout_dir.join("oci-layout"), OCI_LAYOUT)?;
    fs::write(layout_dir.join("index.json"), &built.index)?;

    let mut entries = vec![
        Entry::file("oci-layout", 0o644, OCI_LAYOUT),
        Entry::file("index.json", 0o644, built.index.clone()),
        Entry::file("manifest.json", 0o644, built.docker_manifest.clone()),
        Entry::dir("blobs", 0o755),
        Entry::dir("blobs/sha256", 0o755),
    ];
    for (hex, bytes) in &built.blobs {
        entries.push(Entry::file(
            format!("blobs/sha256/{hex}"),
            0o644,
            bytes.clone(),
        ));
    }
    let tar = archive::tar(entries, mtime)?;
    if let Some(parent) = archive_path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(archive_path, tar).with_context(|| format!("writing {}", archive_path.display()))?;

    Ok(WrittenImage {
        reference: format!("{}:{}", spec.name, spec.tag),
        manifest_digest: built.manifest_digest,
        config_digest: built.config_digest,
        layer_size: built.layer_size,
        compressed_size: built.blobs.iter().map(|(_, b)| b.len() as u64).sum(),
        layout_dir: layout_dir.to_path_buf(),
        archive: archive_path.to_path_buf(),
    })
}

fn build(spec: &ImageSpec) -> Result<Built> {
    let mtime = u64::try_from(spec.epoch).unwrap_or(0);
    let created = rfc3339(spec.epoch)?;

    let layer_tar = archive::tar(spec.layer.clone(), mtime)?;
    let diff_id = format!("sha256:{}", archive::sha256_hex(&layer_tar));
    let layer_gz = archive::gzip(&layer_tar)?;
    let layer_hex = archive::sha256_hex(&layer_gz);

    let labels: std::collections::HashMap<String, String> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut config = ConfigBuilder::default()
        .user(spec.user.clone())
        .env(spec.env.clone())
        .entrypoint(spec.entrypoint.clone())
        .labels(labels.clone());
    if !spec.cmd.is_empty() {
        config = config.cmd(spec.cmd.clone());
    }
    if let Some(dir) = &spec.working_dir {
        config = config.working_dir(dir.clone());
    }
    if !spec.exposed_ports.is_empty() {
        config = config.exposed_ports(spec.exposed_ports.clone());
    }
    let image_config = ImageConfigurationBuilder::default()
        .architecture(Arch::Amd64)
        .os(Os::Linux)
        .created(created.clone())
        .config(config.build()?)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![diff_id])
                .build()?,
        )
        .history(vec![
            HistoryBuilder::default()
                .created(created)
                .created_by("cargo xtask image".to_owned())
                .build()?,
        ])
        .build()?;
    let config_json = canonical_json(&serde_json::to_value(&image_config)?);
    let config_hex = archive::sha256_hex(&config_json);

    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(
            MediaType::ImageConfig,
            &config_hex,
            config_json.len(),
        )?)
        .layers(vec![descriptor(
            MediaType::ImageLayerGzip,
            &layer_hex,
            layer_gz.len(),
        )?])
        .annotations(labels)
        .build()?;
    let manifest_json = canonical_json(&serde_json::to_value(&manifest)?);
    let manifest_hex = archive::sha256_hex(&manifest_json);

    let mut manifest_descriptor =
        descriptor(MediaType::ImageManifest, &manifest_hex, manifest_json.len())?;
    manifest_descriptor.set_annotations(Some(
        [(
            "org.opencontainers.image.ref.name".to_owned(),
            spec.tag.clone(),
        )]
        .into_iter()
        .collect(),
    ));
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![manifest_descriptor])
        .build()?;
    let index_json = canonical_json(&serde_json::to_value(&index)?);

    let docker_manifest = canonical_json(&serde_json::json!([{
        "Config": format!("blobs/sha256/{config_hex}"),
        "RepoTags": [format!("{}:{}", spec.name, spec.tag)],
        "Layers": [format!("blobs/sha256/{layer_hex}")],
    }]));

    Ok(Built {
        layer_size: layer_gz.len() as u64,
        blobs: vec![
            (layer_hex.clone(), layer_gz),
            (config_hex.clone(), config_json),
            (manifest_hex.clone(), manifest_json),
        ],
        manifest_digest: format!("sha256:{manifest_hex}"),
        config_digest: format!("sha256:{config_hex}"),
        index: index_json,
        docker_manifest,
    })
}

fn descriptor(media_type: MediaType, hex: &str, size: usize) -> Result<Descriptor> {
    let digest: Digest = format!("sha256:{hex}").parse()?;
    Ok(DescriptorBuilder::default()
        .media_type(media_type)
        .digest(digest)
        .size(size as u64)
        .build()?)
}

/// JSON with object keys sorted at every level, compact, so equal values give equal bytes
/// whatever map type produced them.
pub(crate) fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out.into_bytes()
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            out.push('{');
            for (i, (key, child)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(child, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, child) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(child, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// `epoch` as an RFC 3339 UTC timestamp.
pub(crate) fn rfc3339(epoch: i64) -> Result<String> {
    let at = time::OffsetDateTime::from_unix_timestamp(epoch)?;
    Ok(at.format(&time::format_description::well_known::Rfc3339)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ImageSpec {
        ImageSpec {
            name: "teleport-plugin-test".into(),
            tag: "1.2.3".into(),
            layer: vec![
                Entry::dir("usr", 0o755),
                Entry::dir("usr/local", 0o755),
                Entry::dir("usr/local/bin", 0o755),
                Entry::file("usr/local/bin/teleport-plugin", 0o755, b"#!binary".to_vec()),
            ],
            entrypoint: vec!["/usr/local/bin/teleport-plugin".into()],
            cmd: vec!["start".into()],
            env: vec!["PATH=/usr/local/bin".into()],
            user: "65532:65532".into(),
            working_dir: Some("/".into()),
            exposed_ports: vec!["8065/tcp".into()],
            labels: [
                ("org.opencontainers.image.version", "1.2.3"),
                ("org.opencontainers.image.revision", "abc"),
                (
                    "org.opencontainers.image.source",
                    "https://example.com/repo",
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            epoch: 1_700_000_000,
        }
    }

    fn read_json(path: &Path) -> Value {
        serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn writing_twice_gives_identical_digests_and_archives() {
        let dir = tempfile::tempdir().unwrap();
        let one = write_image(&spec(), &dir.path().join("a"), &dir.path().join("a.tar")).unwrap();
        let two = write_image(&spec(), &dir.path().join("b"), &dir.path().join("b.tar")).unwrap();
        assert_eq!(one.manifest_digest, two.manifest_digest);
        assert_eq!(
            fs::read(&one.archive).unwrap(),
            fs::read(&two.archive).unwrap()
        );

        let mut changed = spec();
        changed
            .labels
            .insert("org.opencontainers.image.revision".into(), "def".into());
        let three =
            write_image(&changed, &dir.path().join("c"), &dir.path().join("c.tar")).unwrap();
        assert_ne!(one.manifest_digest, three.manifest_digest);
    }

    #[test]
    fn layout_blobs_match_their_digests_and_the_index_points_at_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let image = write_image(&spec(), &dir.path().join("l"), &dir.path().join("l.tar")).unwrap();
        let blobs = image.layout_dir.join("blobs/sha256");
        for entry in fs::read_dir(&blobs).unwrap() {
            let entry = entry.unwrap();
            let bytes = fs::read(entry.path()).unwrap();
            assert_eq!(
                archive::sha256_hex(&bytes),
                entry.file_name().to_string_lossy()
            );
        }
        let index = read_json(&image.layout_dir.join("index.json"));
        assert_eq!(
            index["manifests"][0]["digest"],
            image.manifest_digest.as_str()
        );
        assert_eq!(
            index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
            "1.2.3"
        );
        let manifest_hex = image.manifest_digest.trim_start_matches("sha256:");
        let manifest = read_json(&blobs.join(manifest_hex));
        assert_eq!(manifest["config"]["digest"], image.config_digest.as_str());
        assert_eq!(
            manifest["layers"][0]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );

        let config = read_json(&blobs.join(image.config_digest.trim_start_matches("sha256:")));
        assert_eq!(config["config"]["User"], "65532:65532");
        assert_eq!(
            config["config"]["Entrypoint"][0],
            "/usr/local/bin/teleport-plugin"
        );
        assert_eq!(
            config["config"]["Labels"]["org.opencontainers.image.revision"],
            "abc"
        );
        assert_eq!(config["created"], "2023-11-14T22:13:20Z");

        // The diff ID is the digest of the uncompressed layer.
        let layer_hex = manifest["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:");
        let gz = fs::read(blobs.join(layer_hex)).unwrap();
        let mut tar = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut tar)
            .unwrap();
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            format!("sha256:{}", archive::sha256_hex(&tar))
        );
    }

    #[test]
    fn archive_has_a_docker_manifest_naming_existing_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let image = write_image(&spec(), &dir.path().join("l"), &dir.path().join("l.tar")).unwrap();
        let bytes = fs::read(&image.archive).unwrap();
        let mut names = Vec::new();
        let mut docker_manifest = None;
        for entry in tar::Archive::new(bytes.as_slice()).entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            if name == "manifest.json" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
                docker_manifest = Some(serde_json::from_str::<Value>(&text).unwrap());
            }
            names.push(name);
        }
        let docker_manifest = docker_manifest.expect("manifest.json in the archive");
        assert_eq!(
            docker_manifest[0]["RepoTags"][0],
            "teleport-plugin-test:1.2.3"
        );
        for path in [
            &docker_manifest[0]["Config"],
            &docker_manifest[0]["Layers"][0],
        ] {
            assert!(
                names.contains(&path.as_str().unwrap().to_owned()),
                "{path} missing"
            );
        }
        assert!(names.contains(&"oci-layout".to_owned()));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let value = serde_json::json!({"b": {"z": 1, "a": [ {"y": 2, "x": 3} ]}, "a": "é\""});
        assert_eq!(
            String::from_utf8(canonical_json(&value)).unwrap(),
            r#"{"a":"é\"","b":{"a":[{"x":3,"y":2}],"z":1}}"#
        );
    }
}
