//! What a registry holds: repositories of artifacts with real digests, generated deterministically
//! from a description, plus the role assignments, admin user and repository-scoped tokens that
//! decide who may do what.
//!
//! Content: an `image` is an OCI image manifest with a config and one layer; `docker-image` the
//! same in Docker v2 schema 2 media types; `helm` an OCI artifact with Helm's config and chart
//! layer media types (the tag stores `_` for SemVer's `+`); `index` an OCI image index over an
//! amd64 and an arm64 image. Layer bytes are deterministic text, not real tarballs: clients
//! verify digests and sizes, and none of the tested flows unpack layers.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
pub const HELM_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// When every generated artifact was "pushed" (content is deterministic).
pub const CREATED: &str = "2026-01-01T00:00:00Z";

/// The kind of artifact to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArtifactKind {
    Image,
    DockerImage,
    Helm,
    Index,
}

/// One tag to generate in a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactSpec {
    /// The tag as the user thinks of it (a Helm version may contain `+`).
    pub tag: String,
    pub kind: ArtifactKind,
}

/// A repository and the artifacts to generate in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepositorySpec {
    pub name: String,
    pub artifacts: Vec<ArtifactSpec>,
}

impl RepositorySpec {
    /// A repository with no artifacts yet.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            artifacts: Vec::new(),
        }
    }

    /// Adds a tag of `kind`.
    pub fn artifact(mut self, tag: &str, kind: ArtifactKind) -> Self {
        self.artifacts.push(ArtifactSpec {
            tag: tag.to_owned(),
            kind,
        });
        self
    }
}

/// A stored blob.
#[derive(Clone, Debug)]
pub struct Blob {
    pub bytes: Bytes,
    pub digest: String,
}

/// A stored manifest.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub media_type: String,
    pub bytes: Bytes,
    pub digest: String,
    pub config_media_type: Option<String>,
    pub architecture: Option<String>,
    pub os: Option<String>,
    /// The digest of the manifest this one refers to (`subject`), for referrers.
    pub subject: Option<String>,
    pub artifact_type: Option<String>,
}

/// A repository's content.
#[derive(Clone, Debug, Default)]
pub struct Repository {
    pub manifests: HashMap<String, Manifest>,
    pub tags: BTreeMap<String, String>,
    pub blobs: HashMap<String, Blob>,
}

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The tag a Helm chart version is stored under (`+` is not allowed in tags).
pub fn helm_tag(version: &str) -> String {
    version.replace('+', "_")
}

impl Repository {
    /// Stores a blob; returns its descriptor fields.
    pub fn put_blob(&mut self, bytes: Bytes) -> (String, usize) {
        let digest = digest_of(&bytes);
        let size = bytes.len();
        self.blobs.insert(
            digest.clone(),
            Blob {
                bytes,
                digest: digest.clone(),
            },
        );
        (digest, size)
    }

    /// Stores a manifest (parsing what the registry indexes from it); tags it when `tag` is given.
    pub fn put_manifest(&mut self, media_type: &str, bytes: Bytes, tag: Option<&str>) -> String {
        let digest = digest_of(&bytes);
        let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let config_media_type = parsed["config"]["mediaType"].as_str().map(str::to_owned);
        let config_digest = parsed["config"]["digest"].as_str().unwrap_or_default();
        let config: Value = self
            .blobs
            .get(config_digest)
            .and_then(|b| serde_json::from_slice(&b.bytes).ok())
            .unwrap_or(Value::Null);
        self.manifests.insert(
            digest.clone(),
            Manifest {
                media_type: media_type.to_owned(),
                bytes,
                digest: digest.clone(),
                config_media_type,
                architecture: config["architecture"].as_str().map(str::to_owned),
                os: config["os"].as_str().map(str::to_owned),
                subject: parsed["subject"]["digest"].as_str().map(str::to_owned),
                artifact_type: parsed["artifactType"]
                    .as_str()
                    .or(parsed["config"]["mediaType"].as_str())
                    .map(str::to_owned),
            },
        );
        if let Some(tag) = tag {
            self.tags.insert(tag.to_owned(), digest.clone());
        }
        digest
    }

    /// The manifest a tag or digest names.
    pub fn resolve(&self, reference: &str) -> Option<&Manifest> {
        let digest = if reference.starts_with("sha256:") {
            reference
        } else {
            self.tags.get(reference)?.as_str()
        };
        self.manifests.get(digest)
    }

    /// The tags pointing at `digest`.
    pub fn tags_of(&self, digest: &str) -> Vec<String> {
        self.tags
            .iter()
            .filter(|(_, d)| d.as_str() == digest)
            .map(|(t, _)| t.clone())
            .collect()
    }

    /// The total size of a manifest and what it references.
    pub fn size_of(&self, m: &Manifest) -> usize {
        let parsed: Value = serde_json::from_slice(&m.bytes).unwrap_or(Value::Null);
        let mut size = m.bytes.len();
        for d in parsed["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(std::iter::once(&parsed["config"]))
        {
            size += d["size"].as_u64().unwrap_or(0) as usize;
        }
        size
    }

    /// Generates the artifacts of `spec` for a registry named `registry`.
    pub fn generate(registry: &str, spec: &RepositorySpec) -> Self {
        let mut repo = Repository::default();
        for a in &spec.artifacts {
            match a.kind {
                ArtifactKind::Image => {
                    repo.image(registry, &spec.name, &a.tag, "amd64", false, Some(&a.tag));
                }
                ArtifactKind::DockerImage => {
                    repo.image(registry, &spec.name, &a.tag, "amd64", true, Some(&a.tag));
                }
                ArtifactKind::Helm => repo.helm(&spec.name, &a.tag),
                ArtifactKind::Index => {
                    let platforms: Vec<Value> = ["amd64", "arm64"]
                        .iter()
                        .map(|arch| {
                            let (digest, size) =
                                repo.image(registry, &spec.name, &a.tag, arch, false, None);
                            json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": size,
                                   "platform": {"architecture": arch, "os": "linux"}})
                        })
                        .collect();
                    let index =
                        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": platforms});
                    let bytes = Bytes::from(serde_json::to_vec(&index).expect("json"));
                    repo.put_manifest(OCI_INDEX, bytes, Some(&a.tag));
                }
            }
        }
        repo
    }

    fn image(
        &mut self,
        registry: &str,
        name: &str,
        tag: &str,
        arch: &str,
        docker: bool,
        tag_it: Option<&str>,
    ) -> (String, usize) {
        let layer = Bytes::from(
            format!("credsim layer of {registry}.azurecr.io/{name}:{tag} ({arch})\n").repeat(16),
        );
        let (layer_digest, layer_size) = self.put_blob(layer);
        let config = json!({
            "architecture": arch,
            "os": "linux",
            "created": CREATED,
            "config": {"Labels": {"dev.credsim.repository": name, "dev.credsim.tag": tag}},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        });
        let (config_digest, config_size) =
            self.put_blob(Bytes::from(serde_json::to_vec(&config).expect("json")));
        let (mt, cmt, lmt) = if docker {
            (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER)
        } else {
            (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER)
        };
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": mt,
            "config": {"mediaType": cmt, "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": lmt, "digest": layer_digest, "size": layer_size}],
        });
        let bytes = Bytes::from(serde_json::to_vec(&manifest).expect("json"));
        let size = bytes.len();
        let digest = self.put_manifest(mt, bytes, tag_it);
        (digest, size)
    }

    fn helm(&mut self, name: &str, version: &str) {
        let chart = name.rsplit('/').next().unwrap_or(name);
        let config = json!({"name": chart, "version": version, "apiVersion": "v2",
                            "description": format!("credsim test chart {chart}"), "type": "application"});
        let (config_digest, config_size) =
            self.put_blob(Bytes::from(serde_json::to_vec(&config).expect("json")));
        let content = Bytes::from(format!("credsim chart {chart}-{version}\n").repeat(16));
        let (chart_digest, chart_size) = self.put_blob(content);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": HELM_CONFIG, "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": HELM_CHART, "digest": chart_digest, "size": chart_size}],
        });
        let bytes = Bytes::from(serde_json::to_vec(&manifest).expect("json"));
        self.put_manifest(OCI_MANIFEST, bytes, Some(&helm_tag(version)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_digests_are_real() {
        let spec = RepositorySpec::new("project-a/app")
            .artifact("1.0.0", ArtifactKind::Image)
            .artifact("multi", ArtifactKind::Index);
        let a = Repository::generate("contosoacr", &spec);
        let b = Repository::generate("contosoacr", &spec);
        assert_eq!(a.tags, b.tags);
        let m = a.resolve("1.0.0").unwrap();
        assert_eq!(digest_of(&m.bytes), m.digest);
        assert_eq!(m.architecture.as_deref(), Some("amd64"));
        let parsed: Value = serde_json::from_slice(&m.bytes).unwrap();
        let layer = parsed["layers"][0]["digest"].as_str().unwrap();
        assert_eq!(digest_of(&a.blobs[layer].bytes), layer);
        let idx = a.resolve("multi").unwrap();
        assert_eq!(idx.media_type, OCI_INDEX);
        // The index's platform manifests exist, untagged.
        let parsed: Value = serde_json::from_slice(&idx.bytes).unwrap();
        for p in parsed["manifests"].as_array().unwrap() {
            assert!(a.manifests.contains_key(p["digest"].as_str().unwrap()));
        }
        assert_eq!(a.tags.len(), 2);
        let other = Repository::generate("fabrikamacr", &spec);
        assert_ne!(
            other.tags["1.0.0"], a.tags["1.0.0"],
            "content names its registry"
        );
    }

    #[test]
    fn helm_charts_use_helm_media_types_and_underscore_tags() {
        let spec =
            RepositorySpec::new("charts/guestbook").artifact("1.2.3+build.7", ArtifactKind::Helm);
        let r = Repository::generate("contosoacr", &spec);
        let m = r.resolve("1.2.3_build.7").unwrap();
        assert_eq!(m.config_media_type.as_deref(), Some(HELM_CONFIG));
        assert!(r.resolve("1.2.3+build.7").is_none());
        let parsed: Value = serde_json::from_slice(&m.bytes).unwrap();
        assert_eq!(parsed["layers"][0]["mediaType"], HELM_CHART);
    }
}
