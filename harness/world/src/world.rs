//! The world builder: a scenario's world as running fakes, and the world changes its steps make.
//!
//! [`world_spec`] turns the resolved model into the fakes' builder inputs (tenants and identities
//! with the scenario's GUIDs, registries, clusters with their projects, ServiceAccounts, the
//! controller's namespace, ServiceAccount and RBAC, nodes, options and leniency). [`World`] starts
//! them behind one front door with a fresh CA, keys and secrets (kind and kubeconfig clusters are
//! joined through [`crate::external`]), installs the faults, and applies
//! the steps that change the world (role assignments, federated credentials, annotations, key
//! rotation, the clock, fault toggles). Dropping the world stops nothing by itself: call
//! [`World::shutdown`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use jiff::Timestamp;
use mock_acr::model::{ArtifactKind as AcrArtifact, RepositorySpec};
use mock_acr::policy::{Action as AcrAction, RepoCondition, Role};
use mock_acr::{AcrOptions, AssignmentSpec, RegistrySpec};
use mock_entra::directory::AppCertificate;
use mock_entra::{EntraOptions, FederatedCredential, Identity, Resource, Tenant};
use mock_imds::Node;
use mock_k8s::ClusterSpec;
use mock_kit::fault::{FaultAction, FaultId, FaultMatch, FaultRule};
use mock_kit::{Clock, Faults, KidStyle, RsaSigningKey};
use scenarios::model::{self, Action, KeyOwner, Leniency, Scenario};
use serde_json::{Value, json};

use crate::cloud::{Cloud, CloudError, WorldSpec};
use crate::external::ExternalCluster;

/// The clock skew Entra tolerates under `leniency: [tolerate-clock-skew]`.
pub const LENIENT_CLOCK_SKEW: Duration = Duration::from_secs(3600);

/// What a world change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// One line for the transcript.
    pub note: String,
    /// Whether the world changed: `false` when the fake refused the change as the real service
    /// would (Entra's limit of 20 federated credentials), so that nothing that depends on the
    /// world (the runner's mirror of grants) counts it.
    pub took_effect: bool,
}

/// Why a world could not start or change.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error(transparent)]
    Cloud(#[from] CloudError),
    #[error("generating a certificate for {app} failed")]
    Certificate {
        app: String,
        #[source]
        source: mock_entra::DirectoryError,
    },
    #[error("the world has no {0}")]
    Missing(String),
    #[error("{0}")]
    Change(String),
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Cluster(#[from] crate::clusters::ClusterError),
}

/// The fakes' builder inputs for a scenario's world, on `clock`.
pub fn world_spec(s: &Scenario, clock: Clock) -> Result<WorldSpec, WorldError> {
    let w = &s.world;
    check_external(s)?;
    let start = clock.now();
    let mut tenants = Vec::new();
    for t in &w.tenants {
        let mut tenant = Tenant::new(&t.name).id(t.id);
        for d in &t.domains {
            tenant = tenant.domain(d);
        }
        for a in &t.apps {
            let mut app = Identity::app(&a.name).client_id(a.client_id);
            if a.multi_tenant {
                app = app.multi_tenant();
            }
            for secret in &a.secrets {
                let expires = secret.expires_after.and_then(|d| add(start, d));
                app = app.minted_secret(expires);
            }
            for c in &a.certificates {
                app.certificates.push(
                    AppCertificate::generate(&format!("CN={}/{c}", a.name)).map_err(|source| {
                        WorldError::Certificate {
                            app: a.name.clone(),
                            source,
                        }
                    })?,
                );
            }
            for f in &a.federated_credentials {
                app = app.federated(fic(f));
            }
            tenant = tenant.identity(app);
        }
        for m in &t.managed_identities {
            let mut mi = Identity::user_assigned(&m.name)
                .client_id(m.client_id)
                .object_id(m.principal_id);
            for f in &m.federated_credentials {
                mi = mi.federated(fic(f));
            }
            tenant = tenant.identity(mi);
        }
        for r in &t.resources {
            let mut res = Resource::new(&r.uri);
            if r.v2 {
                res = res.v2();
            }
            tenant = tenant.resource(res);
        }
        tenants.push(tenant);
    }
    let registries = w.registries.iter().map(registry).collect();
    let clusters = w
        .clusters
        .iter()
        .filter(|c| c.backend == model::Backend::Embedded)
        .map(cluster)
        .collect();
    let nodes = w
        .nodes
        .iter()
        .map(|n| {
            let mut node = Node::new(&n.name, &n.tenant);
            if n.system_assigned {
                node = node.system_assigned();
            }
            for u in &n.user_assigned {
                node = node.user_assigned(&u.name);
            }
            node
        })
        .collect();
    let node_clusters = w
        .nodes
        .iter()
        .filter_map(|n| n.cluster.clone().map(|c| (n.name.clone(), c)))
        .collect();
    let entra_options = EntraOptions {
        token_lifetime: w.options.entra_token_lifetime,
        fic_propagation_delay: if w.is_lenient(Leniency::InstantFederatedCredentialPropagation) {
            Duration::ZERO
        } else {
            w.options.federated_credential_propagation
        },
        clock_skew: if w.is_lenient(Leniency::TolerateClockSkew) {
            LENIENT_CLOCK_SKEW
        } else {
            EntraOptions::default().clock_skew
        },
        ..EntraOptions::default()
    };
    let acr_options = AcrOptions {
        refresh_token_lifetime: w.options.acr_refresh_token_lifetime,
        access_token_lifetime: w.options.acr_access_token_lifetime,
        ..AcrOptions::default()
    };
    Ok(WorldSpec {
        tenants,
        nodes,
        registries,
        clusters,
        issuers: Vec::new(),
        node_clusters,
        entra_options,
        acr_options,
        clock: Some(clock),
    })
}

/// Refuses what a kind or kubeconfig cluster cannot do, with the reason (see
/// [`crate::external`]): its API server's clock is the wall clock, credsim does not hold its
/// signing key, and its issuer documents come from its own API server.
fn check_external(s: &Scenario) -> Result<(), WorldError> {
    let w = &s.world;
    let external: Vec<&model::Cluster> = w
        .clusters
        .iter()
        .filter(|c| c.backend != model::Backend::Embedded)
        .collect();
    let Some(first) = external.first() else {
        return Ok(());
    };
    let refuse = |what: String| {
        Err(WorldError::Unsupported(format!(
            "cluster {} runs on the {} backend, whose API server keeps the wall clock and its own keys: {what}",
            first.name,
            backend_name(first.backend)
        )))
    };
    if w.options.start_time.is_some() {
        return refuse("the world cannot start at a fixed `startTime`".into());
    }
    for step in &s.steps {
        match &step.action {
            Action::Advance(_) => {
                return refuse(format!(
                    "the `advance` step at line {} cannot move its clock",
                    step.at.line
                ));
            }
            Action::RotateKeys(KeyOwner::Cluster(c)) if external.iter().any(|e| &e.name == c) => {
                return refuse(format!(
                    "the `rotateKeys` step at line {} cannot rotate the keys of cluster {c}",
                    step.at.line
                ));
            }
            _ => {}
        }
    }
    for e in &external {
        if let Some(other) = w
            .clusters
            .iter()
            .find(|c| c.name != e.name && c.issuer == e.issuer)
        {
            return Err(WorldError::Unsupported(format!(
                "clusters {} and {} share the issuer {}; a {} cluster publishes its own issuer documents, so it cannot share them",
                e.name,
                other.name,
                e.issuer,
                backend_name(e.backend)
            )));
        }
    }
    Ok(())
}

fn backend_name(b: model::Backend) -> &'static str {
    match b {
        model::Backend::Embedded => "embedded",
        model::Backend::Kind => "kind",
        model::Backend::Kubeconfig => "kubeconfig",
    }
}

fn add(t: Timestamp, d: Duration) -> Option<Timestamp> {
    t.checked_add(jiff::SignedDuration::try_from(d).ok()?).ok()
}

fn fic(f: &model::FederatedCredential) -> FederatedCredential {
    let audiences: Vec<&str> = f.audiences.iter().map(String::as_str).collect();
    FederatedCredential::new(&f.name, &f.issuer, &f.subject).audiences(&audiences)
}

/// mock-acr's role for a scenario role.
pub fn role(r: model::RegistryRole) -> Role {
    use model::RegistryRole as R;
    match r {
        R::AcrPull => Role::AcrPull,
        R::AcrPush => Role::AcrPush,
        R::AcrDelete => Role::AcrDelete,
        R::Owner => Role::Owner,
        R::Contributor => Role::Contributor,
        R::Reader => Role::Reader,
        R::RepositoryReader => Role::RepositoryReader,
        R::RepositoryWriter => Role::RepositoryWriter,
        R::RepositoryContributor => Role::RepositoryContributor,
        R::CatalogLister => Role::CatalogLister,
    }
}

fn condition(c: &Option<model::RepoCondition>) -> Option<RepoCondition> {
    c.as_ref().map(|c| match c {
        model::RepoCondition::Name(n) => RepoCondition::Name(n.clone()),
        model::RepoCondition::Prefix(p) => RepoCondition::Prefix(p.clone()),
    })
}

fn token_action(a: model::TokenAction) -> AcrAction {
    use model::TokenAction as T;
    match a {
        T::ContentRead => AcrAction::Pull,
        T::ContentWrite => AcrAction::Push,
        T::ContentDelete => AcrAction::Delete,
        T::MetadataRead => AcrAction::MetadataRead,
        T::MetadataWrite => AcrAction::MetadataWrite,
    }
}

fn registry(r: &model::Registry) -> RegistrySpec {
    let mut spec = RegistrySpec::new(&r.name, &r.tenant);
    if r.auth_mode == model::AuthMode::Abac {
        spec = spec.abac();
    }
    if r.anonymous_pull {
        spec = spec.anonymous_pull();
    }
    if r.admin_user {
        spec = spec.admin_user();
    }
    for repo in &r.repositories {
        let mut rs = RepositorySpec::new(&repo.name);
        for a in &repo.artifacts {
            let kind = match a.kind {
                model::ArtifactKind::Image => AcrArtifact::Image,
                model::ArtifactKind::DockerImage => AcrArtifact::DockerImage,
                model::ArtifactKind::Helm => AcrArtifact::Helm,
                model::ArtifactKind::Index => AcrArtifact::Index,
            };
            rs = rs.artifact(&a.tag, kind);
        }
        spec = spec.repository(rs);
    }
    for a in &r.role_assignments {
        spec = spec.assign(
            &a.principal.tenant,
            &a.principal.name,
            role(a.role),
            condition(&a.condition),
        );
    }
    for t in &r.tokens {
        let map: Vec<(String, Vec<AcrAction>)> = t
            .scope_map
            .iter()
            .map(|(repo, actions)| {
                (
                    repo.clone(),
                    actions.iter().copied().map(token_action).collect(),
                )
            })
            .collect();
        let borrowed: Vec<(&str, &[AcrAction])> = map
            .iter()
            .map(|(r, a)| (r.as_str(), a.as_slice()))
            .collect();
        spec = spec.token(&t.name, &borrowed);
    }
    spec
}

/// The name of the ClusterRole that lets a controller create TokenRequests.
pub const TOKEN_REQUEST_ROLE: &str = "credsim-controller-token-request";
/// The name of the ClusterRole that lets a controller read ServiceAccounts.
pub const READ_SERVICE_ACCOUNTS_ROLE: &str = "credsim-controller-read-serviceaccounts";

/// mock-k8s's builder input for a cluster: its namespaces, ServiceAccounts, the controller's
/// ServiceAccount and RBAC, and raw objects (external clusters are provisioned with the same
/// objects through the Kubernetes API).
pub fn cluster(c: &model::Cluster) -> ClusterSpec {
    let mut spec = ClusterSpec::new(&c.name).issuer(&c.issuer);
    spec.max_token_expiration = Some(c.max_token_expiration);
    let mut namespaces: Vec<&str> = c.all_namespaces().map(|n| n.name.as_str()).collect();
    if let Some(ctl) = &c.controller
        && !namespaces.contains(&ctl.namespace.as_str())
    {
        namespaces.push(&ctl.namespace);
    }
    for ns in &namespaces {
        if !matches!(*ns, "default" | "kube-system") {
            spec = spec.namespace(ns);
        }
    }
    for ns in c.all_namespaces() {
        for sa in &ns.service_accounts {
            spec = spec.object(json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": sa.name, "namespace": ns.name,
                    "annotations": sa.annotations, "labels": sa.labels}}));
        }
    }
    if let Some(ctl) = &c.controller {
        let listed = c.all_namespaces().any(|n| {
            n.name == ctl.namespace
                && n.service_accounts
                    .iter()
                    .any(|s| s.name == ctl.service_account)
        });
        if !listed {
            spec = spec.object(json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": ctl.service_account, "namespace": ctl.namespace}}));
        }
        let subject = json!([{"kind": "ServiceAccount", "name": ctl.service_account, "namespace": ctl.namespace}]);
        let projects: Vec<String> = c.projects.iter().map(|p| p.name.clone()).collect();
        for (role_name, resource, verbs, grant) in [
            (
                TOKEN_REQUEST_ROLE,
                "serviceaccounts/token",
                json!(["create"]),
                &ctl.rbac.token_request,
            ),
            (
                READ_SERVICE_ACCOUNTS_ROLE,
                "serviceaccounts",
                json!(["get", "list", "watch"]),
                &ctl.rbac.read_service_accounts,
            ),
        ] {
            let mut rule = json!({"apiGroups": [""], "resources": [resource], "verbs": verbs});
            if !grant.service_accounts.is_empty() {
                rule["resourceNames"] = json!(grant.service_accounts);
            }
            spec = spec.object(
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": role_name}, "rules": [rule]}),
            );
            let role_ref = json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name});
            let in_namespaces: Vec<String> = match grant.scope {
                model::TokenScope::Cluster => {
                    spec = spec.object(json!({"apiVersion": "rbac.authorization.k8s.io/v1",
                        "kind": "ClusterRoleBinding", "metadata": {"name": role_name},
                        "roleRef": role_ref, "subjects": subject}));
                    Vec::new()
                }
                model::TokenScope::Projects => projects.clone(),
                model::TokenScope::Namespaces => grant.namespaces.clone(),
            };
            for ns in in_namespaces {
                spec = spec.object(json!({"apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding", "metadata": {"name": role_name, "namespace": ns},
                    "roleRef": role_ref, "subjects": subject}));
            }
        }
    }
    for o in &c.objects {
        spec = spec.object(o.clone());
    }
    spec
}

/// A fault of the world: the rule and, while active, where it is installed.
#[derive(Debug)]
struct InstalledFault {
    set: Faults,
    rule: FaultRule,
    id: Option<FaultId>,
}

/// A scenario's world, running.
#[derive(Debug)]
pub struct World {
    pub cloud: Cloud,
    faults: std::sync::Mutex<BTreeMap<String, InstalledFault>>,
}

impl World {
    /// Starts the world's fakes behind a front door on `listen`, on a virtual clock frozen at the
    /// scenario's start time (or now), and switches on its active faults.
    pub async fn start(s: &Scenario, listen: SocketAddr) -> Result<Self, WorldError> {
        let start = s.world.options.start_time.unwrap_or_else(Timestamp::now);
        Self::start_on(s, listen, Clock::frozen_at(start)).await
    }

    /// Like [`World::start`], on a given clock (`credsim up` uses a running one).
    pub async fn start_on(
        s: &Scenario,
        listen: SocketAddr,
        clock: Clock,
    ) -> Result<Self, WorldError> {
        let spec = world_spec(s, clock.clone())?;
        let mut cloud = Cloud::start(spec, listen).await?;
        if let Err(e) = join_external(s, &mut cloud, clock).await {
            cloud.shutdown().await;
            return Err(e);
        }
        let mut faults = BTreeMap::new();
        for f in &s.world.faults {
            let (set, rule) = fault_rule(&cloud, f)?;
            faults.insert(
                f.name.clone(),
                InstalledFault {
                    set,
                    rule,
                    id: None,
                },
            );
            if f.active {
                set_fault(&mut faults, &f.name, true)?;
            }
        }
        Ok(Self {
            cloud,
            faults: std::sync::Mutex::new(faults),
        })
    }

    /// Applies a step that changes the world (anything but a request). Returns what happened, for
    /// the transcript; a change the fakes refuse (a 21st federated credential) is reported, not an
    /// error, because showing the refusal may be the scenario's point.
    pub async fn apply(&self, action: &Action) -> Result<Applied, WorldError> {
        let cloud = &self.cloud;
        let mut took_effect = true;
        let note = match action {
            Action::Request(_) | Action::Concurrently(_) => {
                return Err(WorldError::Change("a request is not a world change".into()));
            }
            Action::Advance(d) => {
                let now = cloud.clock.advance(*d);
                format!("clock advanced by {}s to {now}", d.as_secs())
            }
            Action::AddRoleAssignment {
                registry,
                assignment,
            } => {
                let acr = cloud
                    .acr
                    .as_ref()
                    .ok_or_else(|| WorldError::Missing("registries".into()))?;
                acr.assign(
                    registry,
                    AssignmentSpec {
                        tenant: assignment.principal.tenant.clone(),
                        identity: assignment.principal.name.clone(),
                        role: role(assignment.role),
                        condition: condition(&assignment.condition),
                    },
                )
                .map_err(|e| WorldError::Change(e.to_string()))?;
                format!(
                    "assigned {:?} on {registry} to {}/{}",
                    assignment.role, assignment.principal.tenant, assignment.principal.name
                )
            }
            Action::RemoveRoleAssignment {
                registry,
                principal,
                role: r,
            } => {
                let acr = cloud
                    .acr
                    .as_ref()
                    .ok_or_else(|| WorldError::Missing("registries".into()))?;
                let n = acr
                    .revoke_role(registry, &principal.tenant, &principal.name, r.map(role))
                    .map_err(|e| WorldError::Change(e.to_string()))?;
                format!(
                    "removed {n} role assignment(s) of {}/{} on {registry}",
                    principal.tenant, principal.name
                )
            }
            Action::AddFederatedCredential {
                identity,
                credential,
            } => match cloud.entra.add_federated_credential(
                &identity.tenant,
                &identity.name,
                fic(credential),
            ) {
                Ok(()) => format!(
                    "added federated credential {} to {}/{}",
                    credential.name, identity.tenant, identity.name
                ),
                Err(e) => {
                    took_effect = false;
                    format!(
                        "Entra refused federated credential {} on {}/{}: {e}",
                        credential.name, identity.tenant, identity.name
                    )
                }
            },
            Action::DeleteFederatedCredential { identity, name } => {
                cloud
                    .entra
                    .remove_federated_credential(&identity.tenant, &identity.name, name)
                    .map_err(|e| WorldError::Change(e.to_string()))?;
                format!(
                    "deleted federated credential {name} of {}/{}",
                    identity.tenant, identity.name
                )
            }
            Action::Annotate {
                cluster,
                service_account,
                annotations,
            } => {
                let k8s = cloud
                    .cluster(cluster)
                    .ok_or_else(|| WorldError::Missing(format!("cluster {cluster}")))?;
                let patch: serde_json::Map<String, Value> = annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone().map_or(Value::Null, Value::from)))
                    .collect();
                k8s.patch_service_account(
                    &service_account.namespace,
                    &service_account.name,
                    &json!({"metadata": {"annotations": patch}}),
                )
                .await
                .map_err(WorldError::Change)?;
                format!("annotated {cluster}:{service_account}")
            }
            Action::RotateKeys(KeyOwner::Tenant(t)) => {
                let kid = cloud
                    .entra
                    .rotate_signing_key(t)
                    .map_err(|e| WorldError::Change(e.to_string()))?;
                format!("tenant {t} signs with a new key ({kid})")
            }
            Action::RotateKeys(KeyOwner::Cluster(c)) => {
                let k8s = cloud
                    .clusters
                    .iter()
                    .find(|k| k.name() == c)
                    .ok_or_else(|| WorldError::Missing(format!("cluster {c}")))?;
                let key = RsaSigningKey::generate(KidStyle::Kubernetes)
                    .map_err(|e| WorldError::Change(e.to_string()))?;
                k8s.issuer().rotate_to(key);
                cloud.republish_issuers().await?;
                format!("cluster {c} signs ServiceAccount tokens with a new key")
            }
            Action::Fault { name, active } => {
                set_fault(&mut self.faults.lock().expect("faults"), name, *active)?;
                format!("fault {name} {}", if *active { "on" } else { "off" })
            }
        };
        Ok(Applied { note, took_effect })
    }

    /// A kubeconfig for a shard's controller ServiceAccount (the implementation's `KUBECONFIG`).
    pub async fn controller_kubeconfig(
        &self,
        s: &Scenario,
        shard: &str,
    ) -> Result<String, WorldError> {
        let (_, ctl) = s
            .shards()
            .find(|(c, _)| c.name == shard)
            .ok_or_else(|| WorldError::Missing(format!("shard {shard}")))?;
        let k8s = self
            .cloud
            .cluster(shard)
            .ok_or_else(|| WorldError::Missing(format!("cluster {shard}")))?;
        let server = self
            .cloud
            .api_server_url(shard)
            .ok_or_else(|| WorldError::Missing(format!("API server of {shard}")))?;
        // The kubelet would keep the controller's own token fresh; a year outlives any scenario's
        // clock advances, so the controller never loses access to its own API server. (A real API
        // server may cap it; kube-apiserver's default cap is none.)
        k8s.service_account_kubeconfig(
            &ctl.namespace,
            &ctl.service_account,
            &server,
            self.cloud.door.ca().cert_pem(),
            Duration::from_secs(365 * 86_400),
        )
        .await
        .map_err(WorldError::Change)
    }

    /// The running fakes, without the handles to switch faults (`credsim up` keeps them as the
    /// scenario set them).
    pub fn into_cloud(self) -> Cloud {
        self.cloud
    }

    /// Stops every listener.
    pub async fn shutdown(&self) {
        self.cloud.shutdown().await;
    }
}

/// Connects the world's kind and kubeconfig clusters, publishes their issuers, puts their API
/// servers behind the front door and provisions their objects (see [`crate::external`]).
async fn join_external(s: &Scenario, cloud: &mut Cloud, clock: Clock) -> Result<(), WorldError> {
    for c in &s.world.clusters {
        let ext = match c.backend {
            model::Backend::Embedded => continue,
            model::Backend::Kubeconfig => {
                let file = c.kubeconfig.as_deref().ok_or_else(|| {
                    WorldError::Missing(format!("the kubeconfig of cluster {}", c.name))
                })?;
                ExternalCluster::from_kubeconfig(
                    &c.name,
                    &c.issuer,
                    &ExternalCluster::kubeconfig_path(&s.file, file),
                    cloud.secrets.clone(),
                    clock.clone(),
                )
                .await?
            }
            model::Backend::Kind => {
                ExternalCluster::create_kind(
                    &c.name,
                    &c.issuer,
                    cloud.secrets.clone(),
                    clock.clone(),
                )
                .await?
            }
        };
        // Pushed first, so a failure below still tears down what was provisioned.
        cloud.external.push(ext.clone());
        ext.join(&cloud.door).await?;
        ext.provision(&cluster(c).objects).await?;
    }
    Ok(())
}

fn set_fault(
    faults: &mut BTreeMap<String, InstalledFault>,
    name: &str,
    active: bool,
) -> Result<(), WorldError> {
    let f = faults
        .get_mut(name)
        .ok_or_else(|| WorldError::Missing(format!("fault {name}")))?;
    match (active, f.id) {
        (true, None) => f.id = Some(f.set.inject(f.rule.clone())),
        (false, Some(id)) => {
            f.set.remove(id);
            f.id = None;
        }
        _ => {}
    }
    Ok(())
}

/// The rule for a scenario fault, and the fault set that sees its requests: the fake's own for
/// Entra and IMDS (they tag requests with tenant, client, node and endpoint), the front door's for
/// ACR and clusters (matched by host and path).
fn fault_rule(cloud: &Cloud, f: &model::Fault) -> Result<(Faults, FaultRule), WorldError> {
    let m = &f.matches;
    let mut matches = FaultMatch {
        method: m.method.clone(),
        path_prefix: m.path_prefix.clone(),
        ..FaultMatch::default()
    };
    let set = match f.target {
        // A certificate is the front door's to present, on the implementation's own tunnels.
        model::FaultTarget::Entra if matches!(f.answer, model::Answer::BadCertificate(_)) => {
            matches.site = Some("mock-entra".into());
            matches.host = Some("login.microsoftonline.com".into());
            matches.client = Some("iut/".into());
            cloud.door.faults().clone()
        }
        model::FaultTarget::Entra => {
            matches.site = Some("mock-entra".into());
            if let Some(t) = &m.tenant {
                matches.tags.push(("tenant".into(), t.clone()));
            }
            if let Some(i) = &m.identity {
                matches
                    .tags
                    .push(("client".into(), i.client_id.to_string()));
            }
            if let Some(e) = &m.endpoint {
                matches.tags.push(("endpoint".into(), e.clone()));
            }
            cloud.entra.faults().clone()
        }
        model::FaultTarget::Imds => {
            if let Some(n) = &m.node {
                matches.tags.push(("node".into(), n.clone()));
            }
            if let Some(e) = &m.endpoint {
                matches.tags.push(("endpoint".into(), e.clone()));
            }
            cloud
                .imds
                .as_ref()
                .ok_or_else(|| WorldError::Missing("nodes (for an IMDS fault)".into()))?
                .faults()
                .clone()
        }
        model::FaultTarget::Acr => {
            matches.site = Some("mock-acr".into());
            // A registry fault is on the implementation's path: the harness's probes measure
            // what a returned credential really unlocks, outage or not.
            matches.client = Some("iut/".into());
            matches.host = m
                .registry
                .as_ref()
                .map(|r| format!("{}.azurecr.io", r.to_ascii_lowercase()));
            cloud.door.faults().clone()
        }
        model::FaultTarget::Cluster => {
            // The issuer's discovery document and JWKS are served by the cluster's issuer site.
            let issuer_path = m
                .path_prefix
                .as_deref()
                .is_some_and(|p| p.starts_with("/.well-known/") || p.starts_with("/openid/"));
            let prefix = if issuer_path { "issuer" } else { "k8s" };
            matches.site = m.cluster.as_ref().map(|c| format!("{prefix}/{c}"));
            cloud.door.faults().clone()
        }
    };
    Ok((
        set,
        FaultRule {
            matches,
            action: fault_action(f),
            remaining: f.times,
        },
    ))
}

/// What a faulted request gets, in the target's own error shape.
fn fault_action(f: &model::Fault) -> FaultAction {
    use model::{Answer, FaultTarget};
    let json_body =
        |status: u16, headers: Vec<(String, String)>, body: String| FaultAction::Respond {
            status,
            headers: [
                vec![(
                    "Content-Type".to_owned(),
                    "application/json; charset=utf-8".to_owned(),
                )],
                headers,
            ]
            .concat(),
            body,
        };
    match (&f.answer, f.target) {
        (Answer::Throttle { retry_after }, FaultTarget::Entra) => {
            mock_entra::faults::throttled(u32::try_from(retry_after.as_secs()).unwrap_or(u32::MAX))
        }
        (Answer::Unavailable { status }, FaultTarget::Entra) => mock_entra::faults::unavailable(*status),
        (Answer::Throttle { .. }, FaultTarget::Imds) => mock_imds::faults::throttled(),
        (Answer::Unavailable { status: 500 }, FaultTarget::Imds) => mock_imds::faults::server_error(),
        (Answer::Unavailable { status }, FaultTarget::Imds) => json_body(
            *status,
            vec![],
            r#"{"error":"service_unavailable","error_description":"The service is temporarily unavailable"}"#.into(),
        ),
        (Answer::Throttle { retry_after }, FaultTarget::Acr) => json_body(
            429,
            vec![("Retry-After".into(), retry_after.as_secs().to_string())],
            r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"too many requests","detail":null}]}"#.into(),
        ),
        (Answer::Unavailable { status }, FaultTarget::Acr) => json_body(
            *status,
            vec![],
            r#"{"errors":[{"code":"UNAVAILABLE","message":"service unavailable","detail":null}]}"#.into(),
        ),
        (Answer::Throttle { retry_after }, FaultTarget::Cluster) => json_body(
            429,
            vec![("Retry-After".into(), retry_after.as_secs().to_string())],
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Too many requests, please try again later.", "reason": "TooManyRequests",
                "details": {"retryAfterSeconds": retry_after.as_secs()}, "code": 429})
            .to_string(),
        ),
        (Answer::Unavailable { status }, FaultTarget::Cluster) => json_body(
            *status,
            vec![],
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "the server is currently unable to handle the request",
                "reason": "ServiceUnavailable", "code": status})
            .to_string(),
        ),
        (
            Answer::Respond {
                status,
                headers,
                body,
            },
            _,
        ) => FaultAction::Respond {
            status: *status,
            headers: headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            body: body.clone(),
        },
        (Answer::Delay(d), _) => FaultAction::Delay { by: *d },
        (Answer::Drop, _) => FaultAction::DropConnection,
        (Answer::BadCertificate(c), _) => FaultAction::BadCertificate {
            flaw: match c {
                scenarios::vocab::CertificateFault::UntrustedIssuer => {
                    mock_kit::fault::CertificateFlaw::UntrustedIssuer
                }
                scenarios::vocab::CertificateFault::WrongHost => {
                    mock_kit::fault::CertificateFlaw::WrongHost
                }
                scenarios::vocab::CertificateFault::Expired => mock_kit::fault::CertificateFlaw::Expired,
            },
        },
    }
}
