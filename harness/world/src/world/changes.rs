//! The world changes steps make ([`RunningWorld::apply`]): one function per kind of change, each saying
//! what it did for the transcript.

use std::collections::BTreeMap;
use std::time::Duration;

use mock_acr::AssignmentSpec;
use mock_kit::{KidStyle, RsaSigningKey};
use scenarios::model::{self, Action, KeyOwner};
use serde_json::{Value, json};

use super::cluster::project_objects;
use super::faults::set_fault;
use super::registry::condition;
use super::spec::{app, fic, managed_identity, tenant};
use super::{Applied, RunningWorld, WorldError, role};

impl RunningWorld {
    /// Applies a step that changes the world (anything but a request). Returns what happened, for
    /// the transcript; a change the fakes refuse (a 21st federated credential) is reported, not an
    /// error, because showing the refusal may be the scenario's point.
    pub async fn apply(&self, action: &Action) -> Result<Applied, WorldError> {
        match action {
            Action::Request(_) | Action::Concurrently(_) => {
                Err(WorldError::Change("a request is not a world change".into()))
            }
            Action::Advance(d) => Ok(self.advance(*d)),
            Action::AddRoleAssignment {
                registry,
                assignment,
            } => self.add_role_assignment(registry, assignment),
            Action::RemoveRoleAssignment {
                registry,
                principal,
                role: r,
            } => self.remove_role_assignment(registry, principal, *r),
            Action::AddFederatedCredential {
                identity,
                credential,
            } => Ok(self.add_federated_credential(identity, credential)),
            Action::DeleteFederatedCredential { identity, name } => {
                self.delete_federated_credential(identity, name)
            }
            Action::Annotate {
                cluster,
                service_account,
                annotations,
            } => self.annotate(cluster, service_account, annotations).await,
            Action::RotateKeys(KeyOwner::Tenant(t)) => self.rotate_tenant_key(t),
            Action::RotateKeys(KeyOwner::Cluster(c)) => self.rotate_cluster_key(c).await,
            Action::Fault { name, active } => self.switch_fault(name, *active),
            Action::AddTenant(t) => self.add_tenant(t),
            Action::AddIdentity { tenant, identity } => self.add_identity(tenant, identity),
            Action::AddProject { cluster, project } => self.add_project(cluster, project).await,
        }
    }

    /// Creates a tenant with everything it holds. Its apps' secrets expire counting from now,
    /// when it is created (the world's count from the start of the run).
    fn add_tenant(&self, t: &model::Tenant) -> Result<Applied, WorldError> {
        let tenant = tenant(t, self.cloud.clock.now())?;
        Ok(match self.cloud.entra.add_tenant(tenant) {
            Ok(()) => changed(format!("created tenant {} ({})", t.name, t.id)),
            Err(e) => refused(format!("Entra refused tenant {}: {e}", t.name)),
        })
    }

    /// Creates an app registration or a managed identity in a tenant.
    fn add_identity(
        &self,
        tenant: &str,
        identity: &model::NewIdentity,
    ) -> Result<Applied, WorldError> {
        let (what, spec) = match identity {
            model::NewIdentity::App(a) => ("app", app(a, self.cloud.clock.now())?),
            model::NewIdentity::ManagedIdentity(m) => ("managed identity", managed_identity(m)),
        };
        let name = identity.name();
        Ok(match self.cloud.entra.add_identity(tenant, spec) {
            Ok(client_id) => changed(format!(
                "created {what} {tenant}/{name} (client ID {client_id})"
            )),
            Err(e) => refused(format!("Entra refused {what} {tenant}/{name}: {e}")),
        })
    }

    /// Creates a project namespace with its ServiceAccounts, and the controller's RoleBindings
    /// in it where its grants are per project.
    async fn add_project(
        &self,
        cluster: &str,
        project: &model::Namespace,
    ) -> Result<Applied, WorldError> {
        let written = self
            .clusters
            .iter()
            .find(|c| c.name == cluster)
            .ok_or_else(|| WorldError::Missing(format!("cluster {cluster}")))?;
        let k8s = self
            .cloud
            .cluster(cluster)
            .ok_or_else(|| WorldError::Missing(format!("cluster {cluster}")))?;
        let objects = project_objects(written, project);
        k8s.create_objects(&objects).await?;
        Ok(changed(format!(
            "created project {cluster}:{} ({} ServiceAccount(s), {} RoleBinding(s) for the controller)",
            project.name,
            project.service_accounts.len(),
            objects.len() - 1 - project.service_accounts.len()
        )))
    }

    /// Moves the virtual clock on.
    fn advance(&self, d: Duration) -> Applied {
        let now = self.cloud.clock.advance(d);
        changed(format!("clock advanced by {}s to {now}", d.as_secs()))
    }

    /// Grants a role on a registry.
    fn add_role_assignment(
        &self,
        registry: &str,
        assignment: &model::RoleAssignment,
    ) -> Result<Applied, WorldError> {
        self.acr()?
            .assign(
                registry,
                AssignmentSpec {
                    tenant: assignment.principal.tenant.clone(),
                    identity: assignment.principal.name.clone(),
                    role: role(assignment.role),
                    condition: condition(&assignment.condition),
                },
            )
            .map_err(|e| WorldError::Change(e.to_string()))?;
        Ok(changed(format!(
            "assigned {:?} on {registry} to {}/{}",
            assignment.role, assignment.principal.tenant, assignment.principal.name
        )))
    }

    /// Revokes a principal's role assignments on a registry (one role's, or all).
    fn remove_role_assignment(
        &self,
        registry: &str,
        principal: &model::IdentityRef,
        r: Option<model::RegistryRole>,
    ) -> Result<Applied, WorldError> {
        let n = self
            .acr()?
            .revoke_role(registry, &principal.tenant, &principal.name, r.map(role))
            .map_err(|e| WorldError::Change(e.to_string()))?;
        Ok(changed(format!(
            "removed {n} role assignment(s) of {}/{} on {registry}",
            principal.tenant, principal.name
        )))
    }

    /// Adds a federated credential, or reports Entra's refusal as a change that did not take
    /// effect.
    fn add_federated_credential(
        &self,
        identity: &model::IdentityRef,
        credential: &model::FederatedCredential,
    ) -> Applied {
        match self.cloud.entra.add_federated_credential(
            &identity.tenant,
            &identity.name,
            fic(credential),
        ) {
            Ok(()) => changed(format!(
                "added federated credential {} to {}/{}",
                credential.name, identity.tenant, identity.name
            )),
            Err(e) => refused(format!(
                "Entra refused federated credential {} on {}/{}: {e}",
                credential.name, identity.tenant, identity.name
            )),
        }
    }

    /// Deletes a federated credential by name.
    fn delete_federated_credential(
        &self,
        identity: &model::IdentityRef,
        name: &str,
    ) -> Result<Applied, WorldError> {
        self.cloud
            .entra
            .remove_federated_credential(&identity.tenant, &identity.name, name)
            .map_err(|e| WorldError::Change(e.to_string()))?;
        Ok(changed(format!(
            "deleted federated credential {name} of {}/{}",
            identity.tenant, identity.name
        )))
    }

    /// Sets (or, for `None`, removes) annotations on a ServiceAccount.
    async fn annotate(
        &self,
        cluster: &str,
        service_account: &model::ServiceAccountRef,
        annotations: &BTreeMap<String, Option<String>>,
    ) -> Result<Applied, WorldError> {
        let k8s = self
            .cloud
            .cluster(cluster)
            .ok_or_else(|| WorldError::Missing(format!("cluster {cluster}")))?;
        // A merge patch: `null` removes an annotation.
        let patch: serde_json::Map<String, Value> = annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().map_or(Value::Null, Value::from)))
            .collect();
        k8s.patch_service_account(
            &service_account.namespace,
            &service_account.name,
            &json!({"metadata": {"annotations": patch}}),
        )
        .await?;
        Ok(changed(format!("annotated {cluster}:{service_account}")))
    }

    /// Makes a tenant sign with a new key (the old one stays published).
    fn rotate_tenant_key(&self, tenant: &str) -> Result<Applied, WorldError> {
        let kid = self
            .cloud
            .entra
            .rotate_signing_key(tenant)
            .map_err(|e| WorldError::Change(e.to_string()))?;
        Ok(changed(format!(
            "tenant {tenant} signs with a new key ({kid})"
        )))
    }

    /// Makes an embedded cluster sign ServiceAccount tokens with a new key, and republishes the
    /// issuers' documents.
    async fn rotate_cluster_key(&self, c: &str) -> Result<Applied, WorldError> {
        let k8s = self
            .cloud
            .clusters
            .iter()
            .find(|k| k.name() == c)
            .ok_or_else(|| WorldError::Missing(format!("cluster {c}")))?;
        let key = RsaSigningKey::generate(KidStyle::Kubernetes)
            .map_err(|e| WorldError::Change(e.to_string()))?;
        k8s.issuer().rotate_to(key);
        self.cloud.republish_issuers().await?;
        Ok(changed(format!(
            "cluster {c} signs ServiceAccount tokens with a new key"
        )))
    }

    /// Switches a fault of the world on or off.
    fn switch_fault(&self, name: &str, active: bool) -> Result<Applied, WorldError> {
        set_fault(&mut self.faults.lock().expect("faults"), name, active)?;
        Ok(changed(format!(
            "fault {name} {}",
            if active { "on" } else { "off" }
        )))
    }

    /// The world's registries, for a change to them.
    fn acr(&self) -> Result<&mock_acr::MockAcr, WorldError> {
        self.cloud
            .acr
            .as_ref()
            .ok_or_else(|| WorldError::Missing("registries".into()))
    }
}

/// A change the fake refused, as the real service would: the world did not change.
fn refused(note: String) -> Applied {
    Applied {
        note,
        took_effect: false,
    }
}

/// A change that took effect.
fn changed(note: String) -> Applied {
    Applied {
        note,
        took_effect: true,
    }
}
