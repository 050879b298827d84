//! The closed vocabularies of the format: every value an enum field accepts.
//!
//! Shared by the file format ([`crate::v1alpha1`]) and the model ([`crate::model`]). Inside the
//! workspace these stay exhaustive, so a new value is a compile error wherever it must be handled.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A security property of the catalogue (`design/properties.md`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum PropertyId {
    /// A credential handed out for project P unlocks nothing that P's own identity is not granted.
    ProjectIsolation,
    /// A credential obtained for one (project, shard, registry) is never returned for another.
    CachePartitioning,
    /// Tokens of tenant T are only presented to endpoints of tenant T; no credential crosses
    /// tenants unless the world grants it.
    TenantIsolation,
    /// A controller on shard X only uses shard X's cluster, issuer and client-ID mapping.
    ShardIsolation,
    /// When configuration is missing or wrong the implementation returns an error, not a
    /// credential from a broader identity, unless the policy allows that fallback and its trigger.
    FailClosed,
    /// TokenRequests are made only for the designated ServiceAccount, only in project namespaces.
    DedicatedServiceAccount,
    /// Every ServiceAccount token requested is for the exchange audience only and no longer-lived
    /// than the policy allows.
    AudienceBound,
    /// Registry access tokens requested cover only the repository and actions needed.
    LeastPrivilege,
    /// Returned credentials expire within the policy's limit; no long-lived secret is handed out.
    ShortLived,
    /// Every secret is presented only to the host it was minted for, over TLS.
    CredentialDestination,
    /// No secret minted during the run appears in the implementation's output or files.
    NoSecretLeak,
    /// After the world removes a grant, working credentials stop within the staleness bound.
    Revocation,
    /// No secret is sent over, and no credential returned after, a TLS connection whose
    /// certificate the implementation should have refused (untrusted issuer, wrong host,
    /// expired).
    TlsVerification,
}

impl PropertyId {
    pub const ALL: [PropertyId; 13] = [
        PropertyId::ProjectIsolation,
        PropertyId::CachePartitioning,
        PropertyId::TenantIsolation,
        PropertyId::ShardIsolation,
        PropertyId::FailClosed,
        PropertyId::DedicatedServiceAccount,
        PropertyId::AudienceBound,
        PropertyId::LeastPrivilege,
        PropertyId::ShortLived,
        PropertyId::CredentialDestination,
        PropertyId::NoSecretLeak,
        PropertyId::Revocation,
        PropertyId::TlsVerification,
    ];

    /// The id as scenario files and reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            PropertyId::ProjectIsolation => "project-isolation",
            PropertyId::CachePartitioning => "cache-partitioning",
            PropertyId::TenantIsolation => "tenant-isolation",
            PropertyId::ShardIsolation => "shard-isolation",
            PropertyId::FailClosed => "fail-closed",
            PropertyId::DedicatedServiceAccount => "dedicated-service-account",
            PropertyId::AudienceBound => "audience-bound",
            PropertyId::LeastPrivilege => "least-privilege",
            PropertyId::ShortLived => "short-lived",
            PropertyId::CredentialDestination => "credential-destination",
            PropertyId::NoSecretLeak => "no-secret-leak",
            PropertyId::Revocation => "revocation",
            PropertyId::TlsVerification => "tls-verification",
        }
    }
}

/// What a credential request must come to (the exec protocol's answers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// A credential that works (see `unlocks` and `mustNotUnlock`).
    #[default]
    Granted,
    /// `result: null`: the implementation would try anonymous access.
    Anonymous,
    /// The cloud refused (`data.kind: denied`).
    Denied,
    /// No identity or mapping for the project (`data.kind: not-configured`).
    NotConfigured,
    /// A dependency was unreachable or answered 5xx/429 (`data.kind: unavailable`).
    Unavailable,
    /// The implementation does not handle this registry or artifact (`data.kind: unsupported`).
    Unsupported,
}

impl Outcome {
    /// The outcome as files write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Granted => "granted",
            Outcome::Anonymous => "anonymous",
            Outcome::Denied => "denied",
            Outcome::NotConfigured => "not-configured",
            Outcome::Unavailable => "unavailable",
            Outcome::Unsupported => "unsupported",
        }
    }

    /// Whether this outcome is a refusal (an error answer).
    pub fn is_error(self) -> bool {
        !matches!(self, Outcome::Granted | Outcome::Anonymous)
    }
}

/// The kind of artifact a repository holds or a request asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    /// An OCI image manifest.
    #[default]
    Image,
    /// A Docker v2 schema 2 image manifest.
    DockerImage,
    /// A Helm chart stored as OCI.
    Helm,
    /// An OCI image index of two platforms.
    Index,
}

impl ArtifactKind {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// The registry's role-assignment permission mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// "RBAC Registry Permissions": roles apply to the whole registry.
    #[default]
    Legacy,
    /// "RBAC Registry + ABAC Repository Permissions": repository conditions are honoured.
    Abac,
}

impl AuthMode {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// An Azure role on a registry, by its display name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
pub enum RegistryRole {
    #[default]
    AcrPull,
    AcrPush,
    AcrDelete,
    Owner,
    Contributor,
    Reader,
    #[serde(rename = "Container Registry Repository Reader")]
    RepositoryReader,
    #[serde(rename = "Container Registry Repository Writer")]
    RepositoryWriter,
    #[serde(rename = "Container Registry Repository Contributor")]
    RepositoryContributor,
    #[serde(rename = "Container Registry Repository Catalog Lister")]
    CatalogLister,
}

impl RegistryRole {
    /// Whether the role honours ABAC repository conditions (the repository-scoped roles).
    pub fn takes_repository_condition(self) -> bool {
        matches!(
            self,
            RegistryRole::RepositoryReader
                | RegistryRole::RepositoryWriter
                | RegistryRole::RepositoryContributor
        )
    }
}

/// An action of a repository-scoped token's scope map, as Azure names it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
pub enum TokenAction {
    #[serde(rename = "content/read")]
    ContentRead,
    #[serde(rename = "content/write")]
    ContentWrite,
    #[serde(rename = "content/delete")]
    ContentDelete,
    #[serde(rename = "metadata/read")]
    MetadataRead,
    #[serde(rename = "metadata/write")]
    MetadataWrite,
}

/// How a cluster is provided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// The embedded API-server emulator (no Docker).
    #[default]
    Embedded,
    /// A kind cluster wired to the harness's issuer key (needs Docker and kind).
    Kind,
    /// An existing cluster, by kubeconfig.
    Kubeconfig,
}

impl Backend {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Where a controller permission applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TokenScope {
    /// Every project namespace of the cluster.
    #[default]
    Projects,
    /// Every namespace (a ClusterRoleBinding).
    Cluster,
    /// The namespaces listed.
    Namespaces,
}

impl TokenScope {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Which fake a fault applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FaultTarget {
    #[default]
    Entra,
    Imds,
    Acr,
    Cluster,
}

impl FaultTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultTarget::Entra => "entra",
            FaultTarget::Imds => "imds",
            FaultTarget::Acr => "acr",
            FaultTarget::Cluster => "cluster",
        }
    }
}

/// A check of the real services that a scenario relaxes, explicitly and by name. Each one is
/// logged in the run's transcript.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Leniency {
    /// Federated credentials added by steps work at once (the real service, and credsim by
    /// default, answer AADSTS70021 until the change has propagated).
    InstantFederatedCredentialPropagation,
    /// Entra accepts client assertions up to one hour outside their validity window (the real
    /// service tolerates five minutes of clock skew).
    TolerateClockSkew,
}

/// A certificate a fault presents on purpose, which the implementation must refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateFault {
    /// Signed by a certificate authority the implementation was never told to trust.
    UntrustedIssuer,
    /// Signed by the run's CA, for another host name.
    WrongHost,
    /// Signed by the run's CA for the right host, and expired.
    Expired,
}

impl CertificateFault {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateFault::UntrustedIssuer => "untrusted-issuer",
            CertificateFault::WrongHost => "wrong-host",
            CertificateFault::Expired => "expired",
        }
    }
}
