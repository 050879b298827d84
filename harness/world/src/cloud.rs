//! A world running behind one front door.
//!
//! [`Cloud::start`] creates the run's CA, clock and secret registry, starts the front door, builds
//! each fake from the world and adds it as a site. [`Cloud::world_json`] renders the resolved
//! world in the `world.json` format (version 1) of `docs/cli.md`.

use std::net::SocketAddr;

use std::collections::BTreeMap;

use mock_acr::{AcrOptions, MockAcr, RegistrySpec};
use mock_entra::{EntraOptions, IdentityKind, MockEntra, Network, Tenant};
use mock_imds::{MockImds, Node};
use mock_k8s::{AuditEvent, ClusterSpec, MockK8s};
use mock_kit::front_door::FrontDoorError;
use mock_kit::issuer::IssuerError;
use mock_kit::{
    CertificateAuthority, Clock, FrontDoor, Journal, OidcIssuer, Secret, SecretRegistry,
};
use serde_json::{Value, json};

use crate::external::ExternalCluster;

/// The `world.json` format version this module writes.
///
/// Changelog: 1, the first version (tenants, registries, clusters, nodes as the CLI contract lists).
pub const WORLD_JSON_FORMAT_VERSION: u32 = 1;

/// How many egress records, and entries of each fake's journal, a world keeps (the oldest are
/// dropped past it, so a long-running `credsim up` does not grow without bound; a scenario run
/// stays far below it, and a run whose evidence was cut is an `error`).
pub const EGRESS_CAPACITY: usize = 20_000;

/// What a world holds, as builder inputs for the fakes.
#[derive(Clone, Debug, Default)]
pub struct WorldSpec {
    pub tenants: Vec<Tenant>,
    /// VMs and nodes with managed identities, served by mock-imds.
    pub nodes: Vec<Node>,
    /// Container registries, served by mock-acr.
    pub registries: Vec<RegistrySpec>,
    /// Kubernetes clusters (embedded), each with its own issuer, served by mock-k8s.
    pub clusters: Vec<ClusterSpec>,
    /// OIDC issuers served at their URLs, by name (until mock-k8s serves clusters, these stand in
    /// for the clusters' service-account issuers).
    pub issuers: Vec<(String, String)>,
    /// The cluster each node belongs to (`world.json`'s `nodes[].cluster`).
    pub node_clusters: BTreeMap<String, String>,
    pub entra_options: EntraOptions,
    pub acr_options: AcrOptions,
    /// The clock every fake reads; the wall clock when `None`.
    pub clock: Option<Clock>,
}

/// Why a world could not start.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error("starting the front door failed")]
    FrontDoor(#[from] FrontDoorError),
    #[error("making the run's certificate authority failed")]
    Ca(#[from] mock_kit::ca::CaError),
    #[error("the world's Entra directory is invalid")]
    Directory(#[from] mock_entra::DirectoryError),
    #[error("the world's nodes are invalid")]
    Nodes(#[from] mock_imds::ImdsError),
    #[error("an issuer of the world is invalid")]
    Issuer(#[from] IssuerError),
    #[error("the world's registries are invalid")]
    Registries(#[from] mock_acr::AcrError),
    #[error("the world's clusters are invalid")]
    Clusters(#[from] mock_k8s::K8sError),
}

/// Why a cluster of the world could not do what was asked of it (mint a token, read or patch a
/// ServiceAccount).
#[derive(Debug, thiserror::Error)]
pub enum WorldClusterError {
    /// An embedded cluster refused.
    #[error(transparent)]
    Embedded(#[from] mock_k8s::K8sError),
    /// A kind or kubeconfig cluster's API server refused, or could not be reached.
    #[error(transparent)]
    External(#[from] crate::clusters::ClusterError),
    #[error("no ServiceAccount {namespace}/{name}")]
    NoServiceAccount { namespace: String, name: String },
}

/// The running fakes of one world.
#[derive(Debug)]
pub struct Cloud {
    pub door: FrontDoor,
    pub entra: MockEntra,
    /// `None` when the world has no nodes.
    pub imds: Option<MockImds>,
    /// `None` when the world has no registries.
    pub acr: Option<MockAcr>,
    /// The embedded clusters.
    pub clusters: Vec<MockK8s>,
    /// The kind and kubeconfig clusters (the world builder adds them after [`Cloud::start`]).
    pub external: Vec<ExternalCluster>,
    pub issuers: Vec<(String, OidcIssuer)>,
    pub node_clusters: BTreeMap<String, String>,
    pub clock: Clock,
    pub secrets: SecretRegistry,
}

impl Cloud {
    /// Every record whose oldest entries were dropped at its capacity, with how many: the egress
    /// record, each fake's journal and the secret registry's per-request tokens. Empty for every
    /// scenario run (far below the capacity).
    pub fn evidence_dropped(&self) -> Vec<(String, usize)> {
        let mut out = vec![("the egress record".to_owned(), self.door.egress().dropped())];
        out.push((
            "mock-entra's journal".into(),
            self.entra.journal().dropped(),
        ));
        if let Some(imds) = &self.imds {
            out.push(("mock-imds's journal".into(), imds.journal().dropped()));
        }
        if let Some(acr) = &self.acr {
            out.push(("mock-acr's journal".into(), acr.journal().dropped()));
        }
        for (i, c) in self.clusters.iter().enumerate() {
            out.push((format!("cluster {i}'s audit journal"), c.audit().dropped()));
        }
        out.push((
            "the secret registry (oldest tokens, whose leaks can no longer be found)".into(),
            self.secrets.dropped(),
        ));
        out.retain(|(_, n)| *n > 0);
        out
    }

    /// Starts every fake of `spec` behind a front door listening on `listen`.
    pub async fn start(spec: WorldSpec, listen: SocketAddr) -> Result<Self, CloudError> {
        let clock = spec.clock.clone().unwrap_or_else(Clock::system);
        // Bounded like the records: a long-running `credsim up` forgets its oldest tokens; a
        // scenario mints far fewer, and one whose registry forgot any is an error.
        let secrets = SecretRegistry::bounded(EGRESS_CAPACITY);
        let ca = CertificateAuthority::new("credsim")?;
        let door = FrontDoor::builder()
            .listen(listen)
            .ca(ca.clone())
            .clock(clock.clone())
            .secrets(secrets.clone())
            .egress_capacity(EGRESS_CAPACITY)
            .start()
            .await?;
        let entra = spec
            .tenants
            .into_iter()
            .fold(MockEntra::builder(), |b, t| b.tenant(t))
            .clock(clock.clone())
            .secrets(secrets.clone())
            .options(spec.entra_options.clone())
            .journal_capacity(EGRESS_CAPACITY)
            .network(Network {
                proxy_url: door.proxy_url_for("mock-entra"),
                ca_pem: ca.cert_pem().to_owned(),
            })
            .build()?;
        door.add_site(entra.site()).await?;
        let mut issuers = Vec::new();
        for (name, url) in spec.issuers {
            let issuer = OidcIssuer::new(&url)?;
            door.add_site(issuer.site(&format!("issuer/{name}")))
                .await?;
            issuers.push((name, issuer));
        }
        let imds = if spec.nodes.is_empty() {
            None
        } else {
            let imds = spec
                .nodes
                .into_iter()
                .fold(MockImds::builder(entra.clone()), |b, n| b.node(n))
                .secrets(secrets.clone())
                .journal_capacity(EGRESS_CAPACITY)
                .build()?;
            door.add_site(imds.site()).await?;
            for node in imds.nodes() {
                if let Some(site) = imds.node_site(&node) {
                    door.add_site(site).await?;
                }
            }
            Some(imds)
        };
        let acr = if spec.registries.is_empty() {
            None
        } else {
            let acr = spec
                .registries
                .into_iter()
                .fold(MockAcr::builder(entra.clone()), |b, r| b.registry(r))
                .secrets(secrets.clone())
                .options(spec.acr_options.clone())
                .journal_capacity(EGRESS_CAPACITY)
                .build()?;
            door.add_site(acr.site()).await?;
            door.add_site(acr.storage_site()).await?;
            Some(acr)
        };
        let mut clusters = Vec::new();
        for spec in spec.clusters {
            let k8s = MockK8s::builder(spec)
                .clock(clock.clone())
                .secrets(secrets.clone())
                .journal_capacity(EGRESS_CAPACITY)
                .build()?;
            door.add_site(k8s.site()).await?;
            clusters.push(k8s);
        }
        for site in issuer_sites(&clusters)? {
            door.add_site(site).await?;
        }
        Ok(Self {
            door,
            entra,
            imds,
            acr,
            clusters,
            external: Vec::new(),
            issuers,
            node_clusters: spec.node_clusters,
            clock,
            secrets,
        })
    }

    /// Serves each cluster's issuer again after a key rotation (see [`issuer_sites`]).
    pub async fn republish_issuers(&self) -> Result<(), CloudError> {
        for site in issuer_sites(&self.clusters)? {
            self.door.remove_site(&site.name);
            self.door.add_site(site).await?;
        }
        Ok(())
    }

    /// The resolved world, `world.json` format version 1.
    pub fn world_json(&self) -> Value {
        let dir = self.entra.directory();
        let tenants: Vec<Value> = dir
            .tenants
            .iter()
            .map(|t| {
                let apps: Vec<Value> = t
                    .identities
                    .iter()
                    .filter(|i| matches!(i.kind, IdentityKind::App { .. }))
                    .map(|i| {
                        let mut app = json!({
                            "name": i.name,
                            "clientId": i.client_id,
                            "objectId": i.object_id,
                            "multiTenant": i.is_multi_tenant(),
                        });
                        if let Some(s) = i.secrets.first() {
                            app["secret"] = s.value.expose().clone().into();
                        }
                        app
                    })
                    .collect();
                let mis: Vec<Value> = t
                    .identities
                    .iter()
                    .filter(|i| i.kind == IdentityKind::UserAssigned)
                    .map(|i| {
                        json!({
                            "name": i.name,
                            "clientId": i.client_id,
                            "principalId": i.object_id,
                            "resourceId": i.resource_id,
                            "federatedCredentials": i.federated.iter().map(|f| json!({
                                "name": f.name,
                                "issuer": f.issuer,
                                "subject": f.subject,
                                "audiences": f.audiences,
                            })).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                json!({
                    "name": t.name,
                    "id": t.id,
                    "domains": t.domains,
                    "apps": apps,
                    "managedIdentities": mis,
                })
            })
            .collect();
        let nodes: Vec<Value> = self
            .imds
            .iter()
            .flat_map(|imds| {
                imds.nodes().into_iter().map(move |n| {
                    json!({
                        "name": n,
                        "cluster": self.node_clusters.get(&n),
                        "managedIdentities": imds
                            .node_identities(&n)
                            .iter()
                            .map(|(_, id)| id.to_string())
                            .collect::<Vec<_>>(),
                        "imdsEndpoint": self.node_imds_url(&n),
                    })
                })
            })
            .collect();
        let issuers: Vec<Value> = self
            .issuers
            .iter()
            .map(|(name, i)| json!({"name": name, "url": i.url()}))
            .collect();
        json!({
            "formatVersion": WORLD_JSON_FORMAT_VERSION,
            "authorityHost": "https://login.microsoftonline.com/",
            "imdsEndpoint": "http://169.254.169.254",
            "proxy": self.door.proxy_url(),
            "tenants": tenants,
            "registries": self.registries_json(),
            "clusters": self.all_clusters().iter().map(|c| {
                let mut cluster = json!({
                    "name": c.name(),
                    "issuer": c.issuer_url(),
                    "apiServer": self.api_server_url(c.name()),
                    "kubeconfig": format!("kubeconfig/{}.yaml", c.name()),
                });
                if let Some(k8s) = self.clusters.iter().find(|k| k.name() == c.name()) {
                    cluster["namespaces"] = namespaces_json(k8s);
                }
                cluster
            }).collect::<Vec<_>>(),
            "nodes": nodes,
            "issuers": issuers,
        })
    }

    fn registries_json(&self) -> Vec<Value> {
        let Some(acr) = &self.acr else {
            return Vec::new();
        };
        let dir = self.entra.directory();
        acr.registries()
            .into_iter()
            .filter_map(|name| {
                let (login_server, tenant, repositories) = acr.describe(&name)?;
                let tenant_id = dir.tenant_named(&tenant).map(|t| t.id.to_string());
                Some(json!({
                    "name": name,
                    "loginServer": login_server,
                    "tenant": tenant,
                    "tenantId": tenant_id,
                    "repositories": repositories,
                    "grants": acr.grants(&name),
                }))
            })
            .collect()
    }

    /// The API server URL of a cluster (its direct loopback listener).
    pub fn api_server_url(&self, cluster: &str) -> Option<String> {
        self.door
            .endpoint(&format!("k8s/{cluster}"))
            .map(|e| e.direct_url)
    }

    /// An admin kubeconfig for a cluster (for an external cluster, the one credsim connected
    /// with, which reaches its API server directly).
    pub fn admin_kubeconfig(&self, cluster: &str) -> Option<String> {
        if let Some(e) = self.external.iter().find(|c| c.name() == cluster) {
            return Some(e.admin_kubeconfig().to_owned());
        }
        let k = self.clusters.iter().find(|c| c.name() == cluster)?;
        Some(mock_k8s::kubeconfig::render(
            cluster,
            &self.api_server_url(cluster)?,
            self.door.ca().cert_pem(),
            "admin",
            k.admin_token().expose(),
            None,
        ))
    }

    /// The direct URL of `node`'s IMDS (for `AZURE_POD_IDENTITY_AUTHORITY_HOST`).
    pub fn node_imds_url(&self, node: &str) -> Option<String> {
        self.door
            .endpoint(&format!("mock-imds/{node}"))
            .map(|e| e.direct_url)
    }

    /// A cluster of the world by name, whichever backend runs it.
    pub fn cluster(&self, name: &str) -> Option<WorldCluster> {
        self.all_clusters().into_iter().find(|c| c.name() == name)
    }

    /// Every cluster of the world: the embedded ones, then the external ones.
    pub fn all_clusters(&self) -> Vec<WorldCluster> {
        self.clusters
            .iter()
            .cloned()
            .map(WorldCluster::Embedded)
            .chain(self.external.iter().cloned().map(WorldCluster::External))
            .collect()
    }

    /// Deletes what the world created in external clusters (and kind clusters it created), then
    /// stops every listener; when it returns nothing listens. A failed deletion is logged: the
    /// scenario's verdicts stand, and the next world names the leftover in its own error.
    pub async fn shutdown(&self) {
        for e in &self.external {
            if let Err(err) = e.teardown().await {
                tracing::warn!(
                    "tearing down cluster {}: {}",
                    e.name(),
                    crate::error_chain(&err)
                );
            }
        }
        self.door.shutdown().await;
    }
}

/// A cluster of a world, embedded or external, with the operations the runner and the
/// properties need (cheap to clone).
#[derive(Clone, Debug)]
pub enum WorldCluster {
    Embedded(MockK8s),
    External(ExternalCluster),
}

impl WorldCluster {
    pub fn name(&self) -> &str {
        match self {
            Self::Embedded(k) => k.name(),
            Self::External(e) => e.name(),
        }
    }

    /// The API server's host name through the front door.
    pub fn api_host(&self) -> String {
        match self {
            Self::Embedded(k) => k.api_host(),
            Self::External(e) => e.api_host(),
        }
    }

    pub fn issuer_url(&self) -> String {
        match self {
            Self::Embedded(k) => k.issuer().url().to_owned(),
            Self::External(e) => e.issuer_url().to_owned(),
        }
    }

    /// The audit journal (for an external cluster, what passed through its site).
    pub fn audit(&self) -> &Journal<AuditEvent> {
        match self {
            Self::Embedded(k) => k.audit(),
            Self::External(e) => e.audit(),
        }
    }

    /// A ServiceAccount token minted as the kubelet would; an empty `audiences` is the API
    /// server's own audience.
    pub async fn service_account_token(
        &self,
        namespace: &str,
        service_account: &str,
        audiences: &[&str],
        lifetime: std::time::Duration,
    ) -> Result<Secret<String>, WorldClusterError> {
        match self {
            Self::Embedded(k) => {
                let api = [k.issuer().url()];
                let audiences = if audiences.is_empty() {
                    &api[..]
                } else {
                    audiences
                };
                Ok(k.service_account_token(namespace, service_account, audiences, lifetime)?)
            }
            Self::External(e) => Ok(e
                .service_account_token(namespace, service_account, audiences, lifetime)
                .await?),
        }
    }

    /// A ServiceAccount's annotations, or why it cannot be read.
    pub async fn service_account_annotations(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<BTreeMap<String, String>, WorldClusterError> {
        match self {
            Self::Embedded(k) => {
                let obj = k.get("ServiceAccount", namespace, name).ok_or_else(|| {
                    WorldClusterError::NoServiceAccount {
                        namespace: namespace.to_owned(),
                        name: name.to_owned(),
                    }
                })?;
                Ok(obj["metadata"]["annotations"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                            .collect()
                    })
                    .unwrap_or_default())
            }
            Self::External(e) => Ok(e.service_account_annotations(namespace, name).await?),
        }
    }

    /// A kubeconfig for `namespace/service_account` at `server` (trusting `ca_pem`), with a token
    /// for the API server minted as the kubelet would.
    pub async fn service_account_kubeconfig(
        &self,
        namespace: &str,
        service_account: &str,
        server: &str,
        ca_pem: &str,
        lifetime: std::time::Duration,
    ) -> Result<String, WorldClusterError> {
        match self {
            Self::Embedded(k) => Ok(k.service_account_kubeconfig(
                namespace,
                service_account,
                server,
                ca_pem,
                lifetime,
            )?),
            Self::External(e) => Ok(e
                .service_account_kubeconfig(namespace, service_account, server, ca_pem, lifetime)
                .await?),
        }
    }

    /// Creates objects as the cluster's admin would, in order (a project added at run time).
    pub async fn create_objects(&self, objects: &[Value]) -> Result<(), WorldClusterError> {
        match self {
            Self::Embedded(k) => {
                for o in objects {
                    k.create(o.clone())?;
                }
                Ok(())
            }
            Self::External(e) => Ok(e.provision(objects).await?),
        }
    }

    /// Merge-patches a ServiceAccount.
    pub async fn patch_service_account(
        &self,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<(), WorldClusterError> {
        match self {
            Self::Embedded(k) => {
                k.merge_patch("ServiceAccount", namespace, name, patch)?;
                Ok(())
            }
            Self::External(e) => Ok(e
                .merge_patch_service_account(namespace, name, patch)
                .await?),
        }
    }
}

/// The issuer sites of `clusters`. Clusters that share an issuer URL share one site whose JWKS
/// holds every one of their keys, as when two clusters publish to the same discovery location: each
/// cluster's tokens then verify against the shared issuer, which is how their subjects collide.
pub fn issuer_sites(clusters: &[MockK8s]) -> Result<Vec<mock_kit::Site>, IssuerError> {
    let mut by_url: Vec<(String, Vec<&MockK8s>)> = Vec::new();
    for c in clusters {
        let url = c.issuer().url().to_owned();
        match by_url.iter_mut().find(|(u, _)| *u == url) {
            Some((_, group)) => group.push(c),
            None => by_url.push((url, vec![c])),
        }
    }
    let mut sites = Vec::new();
    for (url, group) in by_url {
        if let [only] = group.as_slice() {
            sites.push(only.issuer_site());
            continue;
        }
        let keys = group.iter().flat_map(|c| c.issuer().jwks().keys).collect();
        let names: Vec<&str> = group.iter().map(|c| c.name()).collect();
        sites.push(mock_kit::issuer::published_site(
            &format!("issuer/{}", names.join("+")),
            &url,
            mock_kit::Jwks { keys },
        )?);
    }
    Ok(sites)
}

/// An embedded cluster's namespaces with their ServiceAccounts and those's annotations (what a
/// project is in `world.json`; kind and kubeconfig clusters are read through their own API).
fn namespaces_json(k8s: &MockK8s) -> Value {
    let accounts = k8s.list("ServiceAccount");
    let namespaces: Vec<Value> = k8s
        .list("Namespace")
        .iter()
        .filter_map(|n| n["metadata"]["name"].as_str())
        .filter(|n| !n.starts_with("kube-") && *n != "default")
        .map(|ns| {
            let sas: Vec<Value> = accounts
                .iter()
                .filter(|sa| sa["metadata"]["namespace"] == ns)
                .filter(|sa| sa["metadata"]["name"] != "default")
                .map(|sa| {
                    json!({
                        "name": sa["metadata"]["name"],
                        "annotations": sa["metadata"].get("annotations").cloned().unwrap_or(json!({})),
                    })
                })
                .collect();
            json!({"name": ns, "serviceAccounts": sas})
        })
        .collect();
    Value::Array(namespaces)
}
