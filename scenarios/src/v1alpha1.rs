//! The file format, `apiVersion: credsim.dev/v1alpha1`, exactly as authors write it.
//!
//! Every struct refuses unknown fields. Names and references are [`Located`] so that semantic
//! errors can point at them. Closed vocabularies (outcomes, roles, properties, steps) are enums,
//! so a misspelt value is a decode error with the accepted values listed. These types are the
//! source of the JSON Schema (`credsim schema`); their doc comments are the descriptions editors
//! show. [`crate::resolve`] turns a [`Document`] into the [`crate::model::Scenario`] the harness
//! consumes. The world's types are here; the steps' ([`Step`] and what each carries) are in the
//! `steps` submodule, re-exported here.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Span;
use crate::located::Located;

mod steps;
use crate::vocab::{
    ArtifactKind, AuthMode, Backend, FaultTarget, Leniency, Outcome, PropertyId, RegistryRole,
    TokenAction, TokenScope,
};
pub use steps::*;

/// A scenario file: a world, the steps replayed in it, and the properties judged.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "credsim scenario (credsim.dev/v1alpha1)")]
pub struct Document {
    /// The format version: `credsim.dev/v1alpha1`.
    #[schemars(extend("const" = "credsim.dev/v1alpha1"))]
    pub api_version: Located<String>,
    /// Always `Scenario`.
    #[schemars(extend("const" = "Scenario"))]
    pub kind: Located<String>,
    pub metadata: Metadata,
    pub world: WorldDoc,
    /// What happens, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Located<Step>>,
    /// The properties to judge (ids from the catalogue). Absent: every property.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Vec<Located<PropertyId>>>,
    /// What the properties are judged against.
    #[serde(default, skip_serializing_if = "Policy::is_default")]
    pub policy: Policy,
}

/// Who the scenario is and why it exists.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    /// Unique in a corpus; lowercase letters, digits and `-`. Reports and test names use it.
    pub name: Located<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Where the case comes from: an upstream issue, a document.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

// `WorldDoc`: the world as written in the file (the resolved one is `model::World`); the schema
// keeps the name `World`.
/// Everything that exists before the first step.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "World")]
pub struct WorldDoc {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<Tenant>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registries: Vec<Registry>,
    /// Clusters; a cluster with a `controller` is a shard.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<Cluster>,
    /// VMs and Kubernetes nodes whose managed identities IMDS serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<Node>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Fault>,
    /// Checks of the real services this scenario relaxes, by name. Strict when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leniency: Vec<Located<Leniency>>,
    /// Service tunables (lifetimes, delays) where the real services vary.
    #[serde(default, skip_serializing_if = "Options::is_default")]
    pub options: Options,
}

/// An Entra ID tenant.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Tenant {
    pub name: Located<String>,
    /// The tenant ID; derived from the name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Located<String>>,
    /// Verified domains; `<name>.onmicrosoft.com` when absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// App registrations (with their service principals).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<App>,
    /// User-assigned managed identities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_identities: Vec<ManagedIdentity>,
    /// Resources (APIs) tokens may be requested for, besides the well-known ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
}

/// An app registration.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct App {
    pub name: Located<String>,
    /// Derived from the tenant and name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Located<String>>,
    /// Client secrets; their values are minted per run and never written in the file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<AppSecret>,
    /// Certificates; key pairs are generated per run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<AppCertificate>,
    /// Other tenants may consent to the app and get tokens for it.
    #[serde(default, skip_serializing_if = "crate::is_false")]
    pub multi_tenant: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated_credentials: Vec<FederatedCredential>,
}

/// A client secret of an app.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppSecret {
    pub name: Located<String>,
    /// How long after the start of the run it expires; never when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_after: Option<Located<Span>>,
}

/// A certificate credential of an app.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppCertificate {
    pub name: Located<String>,
}

/// A user-assigned managed identity.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ManagedIdentity {
    pub name: Located<String>,
    /// Derived from the tenant and name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Located<String>>,
    /// The service principal's object ID; derived when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<Located<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated_credentials: Vec<FederatedCredential>,
}

/// A federated identity credential: tokens from `issuer` with `subject` may act as the identity.
///
/// Give the issuer as a URL (`issuer`) or as a cluster whose service-account issuer it is
/// (`cluster`), and the subject as a literal (`subject`) or a ServiceAccount of that cluster
/// (`serviceAccount: <namespace>/<name>`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FederatedCredential {
    /// Unique per identity: 3 to 120 letters, digits, `-` and `_`, starting with a letter or digit.
    pub name: Located<String>,
    /// The issuer URL (https, at most 600), exactly as the token's `iss` must read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<Located<String>>,
    /// The cluster whose service-account issuer this trusts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Located<String>>,
    /// The subject (1 to 600), exactly as the token's `sub` must read (case-sensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Located<String>>,
    /// `<namespace>/<name>` of a ServiceAccount of `cluster`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<Located<String>>,
    /// Exactly one audience (1 to 600); `api://AzureADTokenExchange` when absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<Located<String>>,
    /// The literal `subject` deliberately names no ServiceAccount of the issuer's cluster (to show
    /// AADSTS7002138, say). Without it such a subject is an error, because it is nearly always a
    /// typo.
    #[serde(default, skip_serializing_if = "crate::is_false")]
    pub subject_matches_nothing: bool,
}

/// An API tokens can be requested for.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Resource {
    /// The application ID URI, e.g. `api://my-api`.
    pub uri: Located<String>,
    /// Its tokens are v2 (`accessTokenAcceptedVersion: 2`).
    #[serde(default, skip_serializing_if = "crate::is_false")]
    pub v2: bool,
}

/// An Azure Container Registry.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Registry {
    /// The registry name; its login server is `<name>.azurecr.io`.
    pub name: Located<String>,
    /// The tenant the registry belongs to.
    pub tenant: Located<String>,
    /// `legacy` (registry-wide roles) or `abac` (roles with repository conditions).
    #[serde(default, skip_serializing_if = "AuthMode::is_default")]
    pub auth_mode: AuthMode,
    #[serde(default, skip_serializing_if = "crate::is_false")]
    pub anonymous_pull: bool,
    /// The admin user is enabled (its passwords are minted per run).
    #[serde(default, skip_serializing_if = "crate::is_false")]
    pub admin_user: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<Repository>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub role_assignments: Vec<RoleAssignment>,
    /// Repository-scoped tokens (scope maps).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<RegistryToken>,
}

/// A repository and its content.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Repository {
    /// e.g. `project-a/app`.
    pub name: Located<String>,
    /// Tagged artifacts; one image tagged `1.0.0` when absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
}

/// A tagged artifact with generated content.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Artifact {
    /// The tag (for Helm charts, the chart version; ACR stores `+` as `_`).
    pub tag: Located<String>,
    #[serde(default, skip_serializing_if = "ArtifactKind::is_default")]
    pub kind: ArtifactKind,
}

/// An Azure role assignment on a registry.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RoleAssignment {
    /// An app or managed identity: `name`, or `tenant/name` when the name is not unique.
    pub principal: Located<String>,
    pub role: Located<RegistryRole>,
    /// ABAC condition: only this repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<Located<String>>,
    /// ABAC condition: only repositories starting with this prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_prefix: Option<Located<String>>,
}

/// A repository-scoped token (ACR "tokens and scope maps").
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegistryToken {
    pub name: Located<String>,
    pub scope_map: Vec<ScopeMapEntry>,
}

/// One repository of a scope map.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScopeMapEntry {
    pub repository: Located<String>,
    pub actions: Vec<Located<TokenAction>>,
}

/// A Kubernetes cluster with its own service-account issuer. With a `controller` it is a shard.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Cluster {
    pub name: Located<String>,
    /// `embedded` (default, no Docker), `kind`, or `kubeconfig` (an existing cluster).
    #[serde(default, skip_serializing_if = "Backend::is_default")]
    pub backend: Backend,
    /// For `backend: kubeconfig`: the kubeconfig file, relative to the scenario file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<Located<String>>,
    /// The service-account issuer URL; `https://oidc.<name>.credsim.test/` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<Located<String>>,
    /// The API server's `--service-account-max-token-expiration`; 24h when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_token_expiration: Option<Located<Span>>,
    /// Project namespaces (the tenants inside the multi-tenant controller).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<Namespace>,
    /// Other namespaces (not projects).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<Namespace>,
    /// The credential controller running on this cluster, which makes it a shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<Controller>,
    /// More objects to create, as Kubernetes manifests (Roles, ClusterRoles, bindings, Secrets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    pub objects: Vec<serde_json::Value>,
}

/// A namespace and its ServiceAccounts.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Namespace {
    pub name: Located<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<ServiceAccount>,
    /// The ServiceAccount the project's pods run as (for kubelet credential providers with
    /// `tokenAttributes`); `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_service_account: Option<Located<String>>,
}

/// A ServiceAccount.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceAccount {
    pub name: Located<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// The multi-tenant credential controller of a shard: where the implementation under test runs.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Controller {
    /// The controller's namespace (created if not listed).
    pub namespace: Located<String>,
    /// The controller's own ServiceAccount (created if not listed); its kubeconfig is the
    /// implementation's `KUBECONFIG`.
    pub service_account: Located<String>,
    /// What the controller may do in the cluster.
    #[serde(default, skip_serializing_if = "ControllerRbac::is_default")]
    pub rbac: ControllerRbac,
    /// The controller's own Azure workload identity (an app or managed identity federated to its
    /// ServiceAccount): sets `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_FEDERATED_TOKEN_FILE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<Located<String>>,
    /// The controller authenticates as an app with a client secret, as installed from a
    /// Kubernetes Secret (azure-identity's `EnvironmentCredential`): install-time configuration
    /// `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and `AZURE_CLIENT_SECRET` (the app's first secret).
    /// Not with `workloadIdentity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Located<String>>,
    /// The node the controller runs on, whose managed identities IMDS serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Located<String>>,
    /// Install-time configuration (a Helm value turned into an environment variable), e.g. a
    /// global `AZURE_TENANT_ID`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// For kubelet credential providers: the provider's `tokenAttributes`, so requests carry the
    /// project's pod ServiceAccount token and annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_attributes: Option<TokenAttributes>,
    /// The projected token file of the controller's workload identity, as the pod spec and the
    /// kubelet make it.
    #[serde(default, skip_serializing_if = "TokenFile::is_default")]
    pub token_file: TokenFile,
}

/// The controller's projected ServiceAccount token file (`AZURE_FEDERATED_TOKEN_FILE`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TokenFile {
    /// The projected volume's `expirationSeconds`; 1h when absent (what the AKS webhook sets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Located<Span>>,
    /// Whether the kubelet renews the file (after every clock advance); true when absent. `false`
    /// shows what an implementation does with an expired assertion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate: Option<Located<bool>>,
}

/// The controller's RBAC.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ControllerRbac {
    /// Where it may create `serviceaccounts/token` (TokenRequest).
    #[serde(default, skip_serializing_if = "Grant::is_default")]
    pub token_request: Grant,
    /// Where it may get and list ServiceAccounts (to read annotations).
    #[serde(default, skip_serializing_if = "Grant::is_default")]
    pub read_service_accounts: Grant,
}

/// Where a permission applies.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Grant {
    /// `projects` (every project namespace, the default), `cluster` (every namespace), or
    /// `namespaces` (those listed in `namespaces`).
    #[serde(default, skip_serializing_if = "TokenScope::is_default")]
    pub scope: TokenScope,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<Located<String>>,
    /// Only these ServiceAccount names (RBAC `resourceNames`); any when absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<Located<String>>,
}

/// A kubelet credential provider's `tokenAttributes`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TokenAttributes {
    /// `serviceAccountTokenAudience`; `api://AzureADTokenExchange` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Located<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_annotation_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub optional_annotation_keys: Vec<String>,
}

/// A VM or Kubernetes node with managed identities.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Node {
    pub name: Located<String>,
    /// The tenant of its identities.
    pub tenant: Located<String>,
    /// The cluster it belongs to, if it is a Kubernetes node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Located<String>>,
    #[serde(default, skip_serializing_if = "crate::is_false")]
    pub system_assigned: bool,
    /// User-assigned managed identities of the node's tenant: `name` or `tenant/name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_assigned: Vec<Located<String>>,
}

/// A fault: which fake, which requests, what answer, and when.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Fault {
    /// Steps switch it on and off by this name.
    pub name: Located<String>,
    pub target: Located<FaultTarget>,
    /// Which requests; every request to the target when empty.
    #[serde(
        default,
        rename = "match",
        skip_serializing_if = "FaultMatch::is_default"
    )]
    pub matches: FaultMatch,
    pub answer: Answer,
    /// Only the next N matching requests, then it is spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<Located<u32>>,
    /// Whether it is on from the start (a step may switch it later).
    #[serde(default = "crate::yes", skip_serializing_if = "crate::is_true")]
    pub active: bool,
}

/// Which requests a fault applies to. Every given field must match.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultMatch {
    /// Entra: the tenant in the request path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Located<String>>,
    /// Entra: the client (an app or managed identity) the request is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Located<String>>,
    /// Entra: `token`, `discovery`, `keys`, `instance`; IMDS: `token`, `instance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Located<String>>,
    /// ACR: the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<Located<String>>,
    /// IMDS: the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Located<String>>,
    /// Cluster: which cluster's API server (or, for paths under `/.well-known/` and `/openid/`,
    /// its service-account issuer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Located<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Located<String>>,
    /// A prefix of the request path, e.g. `/oauth2/exchange`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<Located<String>>,
}

/// What a faulted request gets instead of the normal answer.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Answer {
    /// 429 with `Retry-After`, in the target's own error shape.
    Throttle {
        #[serde(default = "default_retry_after")]
        retry_after: Located<Span>,
    },
    /// A 5xx in the target's own error shape.
    Unavailable {
        #[serde(default = "default_unavailable")]
        status: Located<u16>,
    },
    /// A fixed answer.
    Respond {
        status: Located<u16>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        body: String,
    },
    /// Wait this long (virtual time is not involved: real latency), then answer normally.
    Delay(Located<Span>),
    /// Close the connection without answering.
    #[default]
    Drop,
    /// Present this flawed certificate on the implementation's next TLS connection to the
    /// target (Entra, or a registry), before any request; `times` counts connections. A client
    /// that goes on anyway is served normally, as a man-in-the-middle would relay it.
    BadCertificate(Located<crate::vocab::CertificateFault>),
}

fn default_retry_after() -> Located<Span> {
    Located::new(Span::from_secs(5))
}

fn default_unavailable() -> Located<u16> {
    Located::new(503)
}

/// Service tunables.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Options {
    /// The virtual clock's start (RFC 3339); the wall clock when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Located<String>>,
    /// Entra access-token lifetime; drawn from 60–90 minutes like the real service when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entra_token_lifetime: Option<Located<Span>>,
    /// How long a federated credential added by a step stays unknown to Entra; 1m when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_credential_propagation: Option<Located<Span>>,
    /// ACR refresh-token lifetime; 3h when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr_refresh_token_lifetime: Option<Located<Span>>,
    /// ACR access-token lifetime; 75m when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr_access_token_lifetime: Option<Located<Span>>,
}

/// What the properties are judged against.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Policy {
    /// The ServiceAccount name each project designates for credential exchange; TokenRequests
    /// for any other ServiceAccount break `dedicated-service-account`. Absent: that property is
    /// not applicable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<Located<String>>,
    /// Whether the implementation may fall back to the controller's own identity.
    #[serde(default, skip_serializing_if = "Fallback::is_default")]
    pub fallback: Fallback,
    /// The longest a returned credential may live; 3h when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_credential_lifetime: Option<Located<Span>>,
    /// The longest ServiceAccount token the implementation may request; 1h when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_service_account_token_lifetime: Option<Located<Span>>,
    /// How long after a revocation a cached credential may still be handed out; 0s when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_staleness: Option<Located<Span>>,
    /// Entra and IMDS resources an identity may also ask tokens for, beyond what pulling needs
    /// (`https://containerregistry.azure.net`): a design that looks registries up through Azure
    /// Resource Manager as the controller declares `https://management.azure.com` for it here.
    /// Any other resource breaks `least-privilege`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_resources: Vec<TokenResources>,
}

/// Resources one identity may ask Entra or IMDS for.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TokenResources {
    /// An app or managed identity of the world, by name.
    pub identity: Located<String>,
    /// Resource URIs (`https://management.azure.com`), as a v1 `resource` or a v2 scope without
    /// `/.default`.
    pub resources: Vec<Located<String>>,
}

/// Falling back to the controller's own identity.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Fallback {
    #[serde(default, skip_serializing_if = "crate::is_false_located")]
    pub allowed: Located<bool>,
    /// The outcomes of the project's own attempt that may trigger it: `denied`,
    /// `not-configured`, `unavailable`. Required when `allowed`. (Not `on`: YAML 1.1 parsers,
    /// PyYAML among them, read that key as the boolean `true`.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Located<Outcome>>,
}

macro_rules! is_default {
    ($($t:ty),*) => {$(
        impl $t {
            /// Whether this is the default (so it is left out when written).
            pub fn is_default(&self) -> bool {
                *self == <$t>::default()
            }
        }
    )*};
}
is_default!(
    Policy,
    Options,
    ControllerRbac,
    Grant,
    FaultMatch,
    Fallback,
    TokenFile
);
