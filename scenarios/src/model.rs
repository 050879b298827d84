//! The resolved scenario the harness consumes.
//!
//! Every reference is resolved (an [`IdentityRef`] knows its tenant, kind and client ID), every
//! default is filled in (GUIDs derived from names, issuer URLs, audiences, lifetimes), and every
//! step remembers its position in the file for reports. [`crate::render`] writes a model back as
//! a v1alpha1 file with everything explicit, so `load(render(m)) == m`.

use std::collections::BTreeMap;
use std::time::Duration;

use uuid::Uuid;

use crate::located::Pos;
pub use crate::vocab::{
    ArtifactKind, AuthMode, Backend, FaultTarget, Leniency, Outcome, PropertyId, RegistryRole,
    TokenAction, TokenScope,
};

/// The exchange audience federated credentials default to.
pub use entra_rules::EXCHANGE_AUDIENCE;

/// A loaded, validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    /// Where the name was written (for errors about the scenario as a whole).
    pub name_at: Pos,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    /// The file it was read from, as given to the loader (reports print it).
    pub file: String,
    pub world: World,
    pub steps: Vec<Step>,
    /// The properties to judge; `None`: every property.
    pub properties: Option<Vec<PropertyId>>,
    pub policy: Policy,
}

impl Scenario {
    /// The properties judged in this scenario.
    pub fn judged_properties(&self) -> Vec<PropertyId> {
        self.properties
            .clone()
            .unwrap_or_else(|| PropertyId::ALL.to_vec())
    }

    /// The world with everything the steps add folded in (tenants, identities, projects): all
    /// that exists at some point of the run, since no step takes a tenant, an identity or a
    /// project away. What is judged against "is this a project", "whose app is this".
    pub fn world_with_additions(&self) -> World {
        let mut w = self.world.clone();
        for s in &self.steps {
            w.add(&s.action);
        }
        w
    }

    /// The shards (clusters with a controller).
    pub fn shards(&self) -> impl Iterator<Item = (&Cluster, &Controller)> {
        self.world
            .clusters
            .iter()
            .filter_map(|c| c.controller.as_ref().map(|ctl| (c, ctl)))
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct World {
    pub tenants: Vec<Tenant>,
    pub registries: Vec<Registry>,
    pub clusters: Vec<Cluster>,
    pub nodes: Vec<Node>,
    pub faults: Vec<Fault>,
    pub leniency: Vec<Leniency>,
    pub options: Options,
}

impl World {
    pub fn tenant(&self, name: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.name == name)
    }

    pub fn registry(&self, name: &str) -> Option<&Registry> {
        self.registries.iter().find(|r| r.name == name)
    }

    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    pub fn is_lenient(&self, leniency: Leniency) -> bool {
        self.leniency.contains(&leniency)
    }

    /// Folds in what `action` creates (a tenant, an identity, a project); any other action
    /// leaves the world as it is.
    pub fn add(&mut self, action: &Action) {
        match action {
            Action::AddTenant(t) => self.tenants.push(t.clone()),
            Action::AddIdentity { tenant, identity } => {
                if let Some(t) = self.tenants.iter_mut().find(|t| &t.name == tenant) {
                    match identity {
                        NewIdentity::App(a) => t.apps.push(a.clone()),
                        NewIdentity::ManagedIdentity(m) => t.managed_identities.push(m.clone()),
                    }
                }
            }
            Action::AddProject { cluster, project } => {
                if let Some(c) = self.clusters.iter_mut().find(|c| &c.name == cluster) {
                    c.projects.push(project.clone());
                }
            }
            _ => {}
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tenant {
    pub name: String,
    pub id: Uuid,
    pub domains: Vec<String>,
    pub apps: Vec<App>,
    pub managed_identities: Vec<ManagedIdentity>,
    pub resources: Vec<Resource>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct App {
    pub name: String,
    pub client_id: Uuid,
    pub secrets: Vec<AppSecret>,
    pub certificates: Vec<String>,
    pub multi_tenant: bool,
    pub federated_credentials: Vec<FederatedCredential>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AppSecret {
    pub name: String,
    pub expires_after: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ManagedIdentity {
    pub name: String,
    pub client_id: Uuid,
    pub principal_id: Uuid,
    pub federated_credentials: Vec<FederatedCredential>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FederatedCredential {
    pub name: String,
    /// The issuer URL (resolved from `cluster` when the file names one).
    pub issuer: String,
    /// The subject (computed from `serviceAccount` when the file names one).
    pub subject: String,
    pub audiences: Vec<String>,
    /// The cluster whose issuer this is, when the file referred to it by cluster.
    pub cluster: Option<String>,
    /// The ServiceAccount the subject names, when the file referred to it.
    pub service_account: Option<ServiceAccountRef>,
    pub subject_matches_nothing: bool,
}

/// A ServiceAccount by namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceAccountRef {
    pub namespace: String,
    pub name: String,
}

impl ServiceAccountRef {
    /// The subject of its tokens.
    pub fn subject(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.namespace, self.name)
    }
}

impl std::fmt::Display for ServiceAccountRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub uri: String,
    pub v2: bool,
}

/// An app or a user-assigned managed identity, resolved.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdentityRef {
    pub tenant: String,
    pub name: String,
    pub kind: IdentityKind,
    pub client_id: Uuid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdentityKind {
    App,
    ManagedIdentity,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Registry {
    pub name: String,
    /// `<name>.azurecr.io`.
    pub login_server: String,
    pub tenant: String,
    pub auth_mode: AuthMode,
    pub anonymous_pull: bool,
    pub admin_user: bool,
    pub repositories: Vec<Repository>,
    pub role_assignments: Vec<RoleAssignment>,
    pub tokens: Vec<RegistryToken>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Repository {
    pub name: String,
    pub artifacts: Vec<Artifact>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Artifact {
    pub tag: String,
    pub kind: ArtifactKind,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RoleAssignment {
    pub principal: IdentityRef,
    pub role: RegistryRole,
    pub condition: Option<RepoCondition>,
}

/// An ABAC condition on the repository name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepoCondition {
    Name(String),
    Prefix(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct RegistryToken {
    pub name: String,
    pub scope_map: Vec<(String, Vec<TokenAction>)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub backend: Backend,
    /// For `backend: kubeconfig`, as written (relative to the scenario file).
    pub kubeconfig: Option<String>,
    pub issuer: String,
    pub max_token_expiration: Duration,
    pub projects: Vec<Namespace>,
    pub namespaces: Vec<Namespace>,
    pub controller: Option<Controller>,
    pub objects: Vec<serde_json::Value>,
}

impl Cluster {
    pub fn project(&self, name: &str) -> Option<&Namespace> {
        self.projects.iter().find(|p| p.name == name)
    }

    /// Every namespace the cluster has (projects, others, the controller's).
    pub fn all_namespaces(&self) -> impl Iterator<Item = &Namespace> {
        self.projects.iter().chain(&self.namespaces)
    }

    /// Whether the ServiceAccount exists (the controller's own counts).
    pub fn has_service_account(&self, sa: &ServiceAccountRef) -> bool {
        self.all_namespaces()
            .any(|n| n.name == sa.namespace && n.service_accounts.iter().any(|s| s.name == sa.name))
            || self
                .controller
                .as_ref()
                .is_some_and(|c| c.namespace == sa.namespace && c.service_account == sa.name)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Namespace {
    pub name: String,
    pub service_accounts: Vec<ServiceAccount>,
    pub pod_service_account: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceAccount {
    pub name: String,
    pub annotations: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Controller {
    pub namespace: String,
    pub service_account: String,
    pub rbac: ControllerRbac,
    pub workload_identity: Option<IdentityRef>,
    /// An app whose client secret the controller is installed with.
    pub client_secret: Option<IdentityRef>,
    pub node: Option<String>,
    pub env: BTreeMap<String, String>,
    pub token_attributes: Option<TokenAttributes>,
    pub token_file: TokenFile,
}

/// The controller's projected token file.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenFile {
    pub expiration: Duration,
    pub rotate: bool,
}

impl Default for TokenFile {
    fn default() -> Self {
        Self {
            expiration: Duration::from_secs(3600),
            rotate: true,
        }
    }
}

impl Controller {
    pub fn service_account_ref(&self) -> ServiceAccountRef {
        ServiceAccountRef {
            namespace: self.namespace.clone(),
            name: self.service_account.clone(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ControllerRbac {
    pub token_request: Grant,
    pub read_service_accounts: Grant,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Grant {
    pub scope: TokenScope,
    pub namespaces: Vec<String>,
    /// Empty: any ServiceAccount.
    pub service_accounts: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TokenAttributes {
    pub audience: String,
    pub required_annotation_keys: Vec<String>,
    pub optional_annotation_keys: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    pub tenant: String,
    pub cluster: Option<String>,
    pub system_assigned: bool,
    pub user_assigned: Vec<IdentityRef>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub name: String,
    pub target: FaultTarget,
    pub matches: FaultMatch,
    pub answer: Answer,
    pub times: Option<u32>,
    pub active: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultMatch {
    pub tenant: Option<String>,
    pub identity: Option<IdentityRef>,
    pub endpoint: Option<String>,
    pub registry: Option<String>,
    pub node: Option<String>,
    pub cluster: Option<String>,
    pub method: Option<String>,
    pub path_prefix: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Throttle {
        retry_after: Duration,
    },
    Unavailable {
        status: u16,
    },
    Respond {
        status: u16,
        headers: BTreeMap<String, String>,
        body: String,
    },
    Delay(Duration),
    Drop,
    BadCertificate(crate::vocab::CertificateFault),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub start_time: Option<jiff::Timestamp>,
    pub entra_token_lifetime: Option<Duration>,
    pub federated_credential_propagation: Duration,
    pub acr_refresh_token_lifetime: Duration,
    pub acr_access_token_lifetime: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            start_time: None,
            entra_token_lifetime: None,
            federated_credential_propagation: Duration::from_secs(60),
            acr_refresh_token_lifetime: Duration::from_secs(3 * 3600),
            acr_access_token_lifetime: Duration::from_secs(75 * 60),
        }
    }
}

/// A step and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub at: Pos,
    pub action: Action,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Request(Request),
    /// Requests sent at once, before any answer is read (two or more).
    Concurrently(Vec<Request>),
    Advance(Duration),
    AddRoleAssignment {
        registry: String,
        assignment: RoleAssignment,
    },
    RemoveRoleAssignment {
        registry: String,
        principal: IdentityRef,
        role: Option<RegistryRole>,
    },
    AddFederatedCredential {
        identity: IdentityRef,
        credential: FederatedCredential,
    },
    DeleteFederatedCredential {
        identity: IdentityRef,
        name: String,
    },
    Annotate {
        cluster: String,
        service_account: ServiceAccountRef,
        annotations: BTreeMap<String, Option<String>>,
    },
    RotateKeys(KeyOwner),
    Fault {
        name: String,
        active: bool,
    },
    /// A tenant created, with everything it holds.
    AddTenant(Tenant),
    /// An app or managed identity created in `tenant`.
    AddIdentity {
        tenant: String,
        identity: NewIdentity,
    },
    /// A project namespace created on `cluster`.
    AddProject {
        cluster: String,
        project: Namespace,
    },
}

/// An identity a step creates.
#[derive(Clone, Debug, PartialEq)]
pub enum NewIdentity {
    App(App),
    ManagedIdentity(ManagedIdentity),
}

impl NewIdentity {
    pub fn name(&self) -> &str {
        match self {
            Self::App(a) => &a.name,
            Self::ManagedIdentity(m) => &m.name,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyOwner {
    Tenant(String),
    Cluster(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub shard: String,
    pub project: String,
    pub target: RegistryTarget,
    pub repository: String,
    pub artifact: ArtifactKind,
    pub expect: Expect,
}

/// The registry a request names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryTarget {
    /// A registry of the world, sent as its login server.
    Named { name: String, login_server: String },
    /// A host exactly as a user wrote it.
    Host(String),
}

impl RegistryTarget {
    /// What the implementation is sent as `registry`.
    pub fn host(&self) -> &str {
        match self {
            RegistryTarget::Named { login_server, .. } => login_server,
            RegistryTarget::Host(h) => h,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expect {
    pub outcome: Outcome,
    pub unlocks: Vec<RepositoryRef>,
    pub must_not_unlock: Vec<RepositoryRef>,
    pub error: Option<String>,
}

/// A repository of a registry of the world.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryRef {
    pub registry: String,
    pub repository: String,
}

impl std::fmt::Display for RepositoryRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub service_account: Option<String>,
    pub fallback: Fallback,
    pub max_credential_lifetime: Duration,
    pub max_service_account_token_lifetime: Duration,
    pub revocation_staleness: Duration,
    /// identity name → resources it may also ask Entra or IMDS for (normalised: lower case, no
    /// trailing `/`, no `/.default`).
    pub token_resources: std::collections::BTreeMap<String, Vec<String>>,
}

/// The resource every registry pull needs a token for.
pub const ACR_RESOURCE: &str = "https://containerregistry.azure.net";

/// A v1 `resource` or a v2 scope as a resource URI: lower case, without `/.default` and the
/// trailing `/` (`https://management.azure.com/.default` → `https://management.azure.com`).
pub fn token_resource(scope_or_resource: &str) -> String {
    let s = scope_or_resource.trim().to_ascii_lowercase();
    let s = s.strip_suffix("/.default").unwrap_or(&s);
    s.trim_end_matches('/').to_owned()
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            service_account: None,
            fallback: Fallback::default(),
            max_credential_lifetime: Duration::from_secs(3 * 3600),
            max_service_account_token_lifetime: Duration::from_secs(3600),
            revocation_staleness: Duration::ZERO,
            token_resources: Default::default(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fallback {
    pub allowed: bool,
    pub triggers: Vec<Outcome>,
}

/// Deterministic GUIDs derived from names: `entra_rules::guid`, the scheme mock-entra uses when it
/// is not given IDs, so a world built from a scenario and one built by hand agree.
pub mod guid {
    use uuid::Uuid;

    pub fn tenant_id(tenant: &str) -> Uuid {
        entra_rules::guid::tenant_id(tenant)
    }

    pub fn client_id(tenant: &str, identity: &str) -> Uuid {
        entra_rules::guid::client_id(tenant, identity)
    }

    pub fn principal_id(tenant: &str, identity: &str) -> Uuid {
        entra_rules::guid::object_id(tenant, identity)
    }
}
