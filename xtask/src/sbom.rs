//! CycloneDX 1.5 SBOMs (JSON) for the release tarballs and images: every crate compiled into
//! one plugin binary, from `cargo metadata` for the Linux target (normal dependencies only:
//! build scripts, proc macros' own build deps and dev-dependencies are not in the binary),
//! with licence, `pkg:cargo` purl and the crates.io SHA-256 from `Cargo.lock`.
//!
//! Written by hand over `serde_json` rather than with cargo-cyclonedx: that tool needs a
//! network install on every CI machine, and the document is small and fully tested here.
//! The output is reproducible: no random serial number, the timestamp is the source's.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::source::Source;
use crate::static_build;

/// The dependency graph of the workspace for the release target, and the lock file's checksums.
pub(crate) struct Sboms {
    packages: HashMap<String, Package>,
    nodes: HashMap<String, Vec<String>>,
    checksums: HashMap<(String, String), String>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    resolve: Resolve,
}

#[derive(Clone, Debug, Deserialize)]
struct Package {
    id: String,
    name: String,
    version: String,
    license: Option<String>,
    source: Option<String>,
    description: Option<String>,
    #[serde(default)]
    manifest_path: String,
}

#[derive(Debug, Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
struct Node {
    id: String,
    deps: Vec<NodeDep>,
}

#[derive(Debug, Deserialize)]
struct NodeDep {
    pkg: String,
    dep_kinds: Vec<DepKind>,
}

#[derive(Debug, Deserialize)]
struct DepKind {
    /// `null` for a normal dependency, else `"build"` or `"dev"`.
    kind: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockedPackage>,
}

#[derive(Debug, Deserialize)]
struct LockedPackage {
    name: String,
    version: String,
    checksum: Option<String>,
}

impl Sboms {
    /// Runs `cargo metadata` for the release target and reads `Cargo.lock`.
    pub(crate) fn load(root: &Path) -> Result<Self> {
        let output = crate::cargo::command(root)
            .args(["metadata", "--format-version", "1", "--locked"])
            .args(["--filter-platform", static_build::TARGET])
            .output()
            .context("cannot run cargo metadata")?;
        if !output.status.success() {
            bail!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let metadata: Metadata =
            serde_json::from_slice(&output.stdout).context("reading cargo metadata's output")?;
        let lock_path = root.join("Cargo.lock");
        let lock_text = std::fs::read_to_string(&lock_path)
            .with_context(|| format!("reading {}", lock_path.display()))?;
        Self::from_parts(metadata, &lock_text)
    }

    fn from_parts(metadata: Metadata, lock_text: &str) -> Result<Self> {
        let lock: Lock = toml::from_str(lock_text).context("parsing Cargo.lock")?;
        let checksums = lock
            .package
            .into_iter()
            .filter_map(|p| Some(((p.name, p.version), p.checksum?)))
            .collect();
        let nodes = metadata
            .resolve
            .nodes
            .into_iter()
            .map(|node| {
                let normal = node
                    .deps
                    .into_iter()
                    .filter(|d| d.dep_kinds.iter().any(|k| k.kind.is_none()))
                    .map(|d| d.pkg)
                    .collect();
                (node.id, normal)
            })
            .collect();
        let packages = metadata
            .packages
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        Ok(Self {
            packages,
            nodes,
            checksums,
        })
    }

    /// The SBOM of the binary built from workspace package `package`, pretty-printed JSON.
    pub(crate) fn document(&self, package: &str, source: &Source) -> Result<Vec<u8>> {
        let root = self
            .packages
            .values()
            .find(|p| p.name == package && p.source.is_none())
            .with_context(|| format!("no workspace package {package} in cargo metadata"))?;
        let closure = self.normal_closure(&root.id);
        let components: Vec<Value> = closure
            .iter()
            .filter(|id| **id != root.id)
            .filter_map(|id| self.packages.get(id))
            .map(|p| self.component(p))
            .collect();
        let dependencies: Vec<Value> = closure
            .iter()
            .map(|id| {
                let depends_on: BTreeSet<&String> = self
                    .nodes
                    .get(id)
                    .into_iter()
                    .flatten()
                    .filter(|d| closure.contains(*d))
                    .collect();
                json!({ "ref": bom_ref(id, &self.packages), "dependsOn": depends_on.iter().map(|d| bom_ref(d, &self.packages)).collect::<Vec<_>>() })
            })
            .collect();
        let timestamp = time::OffsetDateTime::from_unix_timestamp(source.epoch)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        let document = json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "version": 1,
            "metadata": {
                "timestamp": timestamp,
                "tools": { "components": [{ "type": "application", "name": "cargo xtask dist", "version": source.version }] },
                "component": {
                    "type": "application",
                    "bom-ref": bom_ref(&root.id, &self.packages),
                    "name": root.name,
                    "version": source.version,
                    "description": root.description.clone().unwrap_or_default(),
                    "licenses": licenses(root.license.as_deref()),
                    "purl": format!("pkg:cargo/{}@{}", root.name, source.version),
                    "properties": [{ "name": "vcs:revision", "value": source.commit }],
                },
            },
            "components": components,
            "dependencies": dependencies,
        });
        let mut bytes = serde_json::to_vec_pretty(&document)?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Every package reachable from `root` over normal dependencies, `root` included, sorted.
    fn normal_closure(&self, root: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![root.to_owned()];
        while let Some(id) = stack.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            stack.extend(self.nodes.get(&id).into_iter().flatten().cloned());
        }
        seen
    }

    fn component(&self, p: &Package) -> Value {
        let mut component = json!({
            "type": "library",
            "bom-ref": bom_ref(&p.id, &self.packages),
            "name": p.name,
            "version": p.version,
            "licenses": licenses(p.license.as_deref()),
            "purl": format!("pkg:cargo/{}@{}", p.name, p.version),
        });
        if let Some(sum) = self.checksums.get(&(p.name.clone(), p.version.clone())) {
            component["hashes"] = json!([{ "alg": "SHA-256", "content": sum }]);
        }
        if p.source.is_none() && p.manifest_path.contains("/third_party/") {
            // A vendored crate with our patch (the `[patch.crates-io]` path): not the
            // published bytes, so no registry hash, and the SBOM says so.
            component["pedigree"] = json!({
                "notes": format!("crates.io {}@{} patched in this repository's third_party/ (see third_party/README.md)", p.name, p.version)
            });
        }
        component
    }
}

/// `name@version`: stable across machines, unlike cargo's package IDs (which hold paths).
fn bom_ref(id: &str, packages: &HashMap<String, Package>) -> String {
    packages
        .get(id)
        .map(|p| format!("{}@{}", p.name, p.version))
        .unwrap_or_else(|| id.to_owned())
}

/// A licence expression as CycloneDX wants it (none when the crate declares none).
fn licenses(expression: Option<&str>) -> Value {
    match expression.map(str::trim).filter(|e| !e.is_empty()) {
        // Old crates write `MIT/Apache-2.0`; SPDX says OR.
        Some(e) => json!([{ "expression": e.replace('/', " OR ") }]),
        None => json!([]),
    }
}

/// For tests and listings: the component names of a document, sorted.
#[cfg(test)]
fn component_names(document: &[u8]) -> std::collections::BTreeMap<String, String> {
    let value: Value = serde_json::from_slice(document).unwrap_or_default();
    value["components"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_owned(),
                c["version"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sboms() -> Sboms {
        let metadata: Metadata = serde_json::from_value(json!({
            "packages": [
                { "id": "path+file:///w/app#0.1.0", "name": "app", "version": "0.1.0", "license": "Apache-2.0", "source": null, "description": "the app" },
                { "id": "registry+x#lib@1.0.0", "name": "lib", "version": "1.0.0", "license": "MIT/Apache-2.0", "source": "registry+x" },
                { "id": "registry+x#deep@2.0.0", "name": "deep", "version": "2.0.0", "license": null, "source": "registry+x" },
                { "id": "registry+x#builder@3.0.0", "name": "builder", "version": "3.0.0", "license": "MIT", "source": "registry+x" },
                { "id": "registry+x#tester@4.0.0", "name": "tester", "version": "4.0.0", "license": "MIT", "source": "registry+x" }
            ],
            "resolve": { "nodes": [
                { "id": "path+file:///w/app#0.1.0", "deps": [
                    { "pkg": "registry+x#lib@1.0.0", "dep_kinds": [{ "kind": null }] },
                    { "pkg": "registry+x#builder@3.0.0", "dep_kinds": [{ "kind": "build" }] },
                    { "pkg": "registry+x#tester@4.0.0", "dep_kinds": [{ "kind": "dev" }] }
                ]},
                { "id": "registry+x#lib@1.0.0", "deps": [
                    { "pkg": "registry+x#deep@2.0.0", "dep_kinds": [{ "kind": "build" }, { "kind": null }] }
                ]},
                { "id": "registry+x#deep@2.0.0", "deps": [] },
                { "id": "registry+x#builder@3.0.0", "deps": [] },
                { "id": "registry+x#tester@4.0.0", "deps": [] }
            ]}
        }))
        .unwrap();
        let lock = "version = 3\n\n[[package]]\nname = \"lib\"\nversion = \"1.0.0\"\nsource = \"registry+x\"\nchecksum = \"abc123\"\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n";
        Sboms::from_parts(metadata, lock).unwrap()
    }

    #[test]
    fn lists_what_is_linked_and_nothing_else() {
        let doc = sboms().document("app", &Source::fixture()).unwrap();
        let names = component_names(&doc);
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            [
                ("deep".to_owned(), "2.0.0".to_owned()),
                ("lib".to_owned(), "1.0.0".to_owned())
            ],
            "build and dev dependencies are not in the binary; the app itself is the metadata component"
        );
    }

    #[test]
    fn is_cyclonedx_with_licences_purls_hashes_and_the_graph() {
        let doc: Value =
            serde_json::from_slice(&sboms().document("app", &Source::fixture()).unwrap()).unwrap();
        assert_eq!(doc["bomFormat"], "CycloneDX");
        assert_eq!(doc["specVersion"], "1.5");
        assert_eq!(doc["metadata"]["component"]["name"], "app");
        assert_eq!(doc["metadata"]["component"]["version"], "1.2.3");
        assert_eq!(doc["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
        let lib = doc["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "lib")
            .unwrap();
        assert_eq!(lib["purl"], "pkg:cargo/lib@1.0.0");
        assert_eq!(lib["licenses"][0]["expression"], "MIT OR Apache-2.0");
        assert_eq!(lib["hashes"][0]["content"], "abc123");
        let deps = doc["dependencies"].as_array().unwrap();
        let app = deps.iter().find(|d| d["ref"] == "app@0.1.0").unwrap();
        assert_eq!(app["dependsOn"], json!(["lib@1.0.0"]));
    }

    #[test]
    fn a_vendored_patched_crate_says_so_and_carries_no_registry_hash() {
        let sboms = sboms();
        let vendored = Package {
            id: "path+file:///w/third_party/russh#0.65.2".into(),
            name: "russh".into(),
            version: "0.65.2".into(),
            license: Some("Apache-2.0".into()),
            source: None,
            description: None,
            manifest_path: "/w/third_party/russh/Cargo.toml".into(),
        };
        let component = sboms.component(&vendored);
        assert!(component.get("hashes").is_none());
        let notes = component["pedigree"]["notes"].as_str().unwrap();
        assert!(notes.contains("russh@0.65.2 patched"), "{notes}");
        let registry = sboms.packages.get("registry+x#lib@1.0.0").unwrap();
        assert!(sboms.component(registry).get("pedigree").is_none());
    }

    #[test]
    fn is_reproducible_and_refuses_unknown_packages() {
        let sboms = sboms();
        assert_eq!(
            sboms.document("app", &Source::fixture()).unwrap(),
            sboms.document("app", &Source::fixture()).unwrap()
        );
        assert!(sboms.document("nope", &Source::fixture()).is_err());
    }

    #[test]
    fn the_real_slack_plugin_sbom_names_its_main_crates() {
        let root = crate::source::workspace_root();
        let doc = Sboms::load(&root)
            .unwrap()
            .document("teleport-slack", &Source::fixture())
            .unwrap();
        let names = component_names(&doc);
        for crate_name in [
            "tokio",
            "tonic",
            "rustls",
            "slack-morphism",
            "teleport-client",
        ] {
            assert!(
                names.contains_key(crate_name),
                "{crate_name} is linked into teleport-slack"
            );
        }
        for not_linked in ["criterion", "tempfile", "prost-build", "xtask"] {
            assert!(
                !names.contains_key(not_linked),
                "{not_linked} is not in the binary"
            );
        }
    }
}
