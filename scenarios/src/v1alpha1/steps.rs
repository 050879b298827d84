//! The steps of a scenario file, as authors write them (part of [`super`]: the same rules).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{App, FederatedCredential, ManagedIdentity, ServiceAccount, Tenant};
use crate::duration::Span;
use crate::located::Located;
use crate::vocab::{ArtifactKind, Outcome, RegistryRole};

/// One step. Each is a single-key mapping, e.g. `- advance: 3h`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum Step {
    /// Ask the implementation for a credential on behalf of a project.
    Request(Request),
    /// Send two or more requests at once (to one shard or several) before any answer is read,
    /// as a controller reconciling many projects does; each is judged on its own.
    Concurrently(Vec<Request>),
    /// Move the virtual clock forward.
    Advance(Located<Span>),
    /// Assign a role on a registry.
    AddRoleAssignment(RoleAssignmentChange),
    /// Remove role assignments of a principal on a registry (all of its roles there, or one).
    RemoveRoleAssignment(RoleAssignmentRemoval),
    /// Add a federated credential to an app or managed identity.
    AddFederatedCredential(FederatedCredentialChange),
    /// Delete a federated credential by name.
    DeleteFederatedCredential(FederatedCredentialRemoval),
    /// Set (or, with `null`, remove) annotations of a ServiceAccount.
    Annotate(Annotate),
    /// Rotate signing keys: a tenant's token-signing key or a cluster's issuer key.
    RotateKeys(RotateKeys),
    /// Switch a fault of the world on or off.
    Fault(FaultToggle),
    /// Create a tenant, with its apps, managed identities and resources, as the world's tenants
    /// are written. Later steps may name it and what it holds.
    AddTenant(Tenant),
    /// Create an app registration or a user-assigned managed identity in a tenant. Later steps
    /// may name it.
    AddIdentity(IdentityAddition),
    /// Create a project namespace with its ServiceAccounts on a cluster, and bind the cluster's
    /// controller to it where its RBAC is granted per project. Later steps may name it.
    AddProject(ProjectAddition),
}

/// A credential request and what must come of it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Request {
    /// The shard (a cluster with a controller) whose implementation is asked.
    pub shard: Located<String>,
    /// The project (namespace) the request is on behalf of.
    pub project: Located<String>,
    /// The registry of the world to ask about (its login server is sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<Located<String>>,
    /// Instead of `registry`: the registry host exactly as a user wrote it, possibly hostile
    /// (`attacker.example/x.azurecr.io`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Located<String>>,
    pub repository: Located<String>,
    #[serde(default, skip_serializing_if = "ArtifactKind::is_default")]
    pub artifact: ArtifactKind,
    pub expect: Expect,
}

/// What a request must lead to.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expect {
    pub outcome: Located<Outcome>,
    /// For `granted`: `<registry>/<repository>` the credential must unlock (pull).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unlocks: Vec<Located<String>>,
    /// For `granted`: `<registry>/<repository>` it must not unlock.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub must_not_unlock: Vec<Located<String>>,
    /// The Entra (`AADSTS700213`) or ACR (`UNAUTHORIZED`) error the cloud must have answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Located<String>>,
}

/// A role assignment added by a step: the registry and the assignment's fields.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RoleAssignmentChange {
    pub registry: Located<String>,
    pub principal: Located<String>,
    pub role: Located<RegistryRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<Located<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_prefix: Option<Located<String>>,
}

/// Role assignments removed by a step.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RoleAssignmentRemoval {
    pub registry: Located<String>,
    pub principal: Located<String>,
    /// Only this role; every role of the principal on the registry when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Located<RegistryRole>>,
}

/// A federated credential added by a step.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FederatedCredentialChange {
    /// The app or managed identity: `name` or `tenant/name`.
    pub identity: Located<String>,
    pub credential: FederatedCredential,
}

/// A federated credential deleted by a step.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FederatedCredentialRemoval {
    pub identity: Located<String>,
    pub name: Located<String>,
}

/// Annotations changed by a step.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Annotate {
    pub cluster: Located<String>,
    /// `<namespace>/<name>`.
    pub service_account: Located<String>,
    /// New values; `null` removes the annotation.
    pub annotations: BTreeMap<String, Option<String>>,
}

/// Keys rotated by a step: exactly one of `tenant` and `cluster`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RotateKeys {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Located<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Located<String>>,
}

/// An identity created by a step: exactly one of `app` and `managedIdentity`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IdentityAddition {
    /// The tenant it is created in (one of the world's, or one a step added).
    pub tenant: Located<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<App>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_identity: Option<ManagedIdentity>,
}

/// A project namespace created by a step on `cluster`, as a cluster's `projects` are written.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProjectAddition {
    pub cluster: Located<String>,
    /// The namespace; one the cluster does not have yet.
    pub name: Located<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<ServiceAccount>,
    /// The ServiceAccount the project's pods run as; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_service_account: Option<Located<String>>,
}

/// A fault switched by a step.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultToggle {
    pub name: Located<String>,
    pub active: bool,
}
