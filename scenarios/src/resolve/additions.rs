//! Steps that add to the world: a tenant, an identity, a project. Each is resolved as the
//! world's own tenants, identities and projects are (the same checks, the same defaults), is
//! checked against what exists at that step (no second tenant, identity or namespace of a name,
//! no tenant ID, client ID or verified domain twice), and extends the name indexes so that later steps,
//! and only later steps, may name what it adds.

use crate::located::Pos;
use crate::model::{self, ServiceAccountRef};
use crate::v1alpha1 as doc;

use super::context::{Cx, IdentityEntry, TenantEntry};
use super::steps::Held;

impl Cx<'_> {
    /// `addTenant`: a tenant of a name no tenant has at this step.
    pub(super) fn add_tenant(
        &mut self,
        path: &str,
        t: &doc::Tenant,
        held: &mut Held,
    ) -> Option<model::Action> {
        let taken = self.tenants.iter().any(|e| e.name == t.name.value);
        if taken {
            self.error(
                t.name.at,
                format!("{path}.name"),
                format!("a tenant named `{}` exists at this step", t.name.value),
            );
            return None;
        }
        let tenant = self.tenant(path, t);
        let same_id = self.tenants.iter().find(|e| e.id == tenant.id);
        if let Some(other) = same_id.map(|e| e.name.clone()) {
            let at = t.id.as_ref().map_or(t.name.at, |i| i.at);
            self.error(
                at,
                format!("{path}.id"),
                format!("the tenant ID {} is tenant `{other}`'s", tenant.id),
            );
        }
        for d in &tenant.domains {
            let owner = self
                .tenants
                .iter()
                .find(|e| e.domains.contains(d))
                .map(|e| e.name.clone());
            if let Some(owner) = owner {
                self.error(
                    t.name.at,
                    format!("{path}.domains"),
                    format!("the domain `{d}` is verified in tenant `{owner}` already"),
                );
            }
        }
        let apps = tenant.apps.iter().zip(&t.apps).map(|(a, w)| {
            (
                IdentityEntry::app(&tenant.name, a),
                w.name.at,
                &a.federated_credentials,
            )
        });
        let mis = tenant
            .managed_identities
            .iter()
            .zip(&t.managed_identities)
            .map(|(m, w)| {
                (
                    IdentityEntry::managed_identity(&tenant.name, m),
                    w.name.at,
                    &m.federated_credentials,
                )
            });
        let new: Vec<_> = apps.chain(mis).collect();
        for (entry, at, fics) in new {
            self.hold(entry, at, held, fics.clone(), path);
        }
        self.tenants.push(TenantEntry {
            name: tenant.name.clone(),
            id: tenant.id,
            domains: tenant.domains.clone(),
        });
        Some(model::Action::AddTenant(tenant))
    }

    /// `addIdentity`: an app or managed identity of a name its tenant does not have at this step.
    pub(super) fn add_identity(
        &mut self,
        path: &str,
        a: &doc::IdentityAddition,
        held: &mut Held,
    ) -> Option<model::Action> {
        let tenant_ok = self.tenant_ref(&a.tenant, &format!("{path}.tenant"));
        let tenant = a.tenant.value.as_str();
        let (identity, entry, name) = match (&a.app, &a.managed_identity) {
            (Some(app), None) => {
                let m = self.app(&format!("{path}.app"), tenant, app);
                let e = IdentityEntry::app(tenant, &m);
                (model::NewIdentity::App(m), e, &app.name)
            }
            (None, Some(mi)) => {
                let m = self.managed_identity(&format!("{path}.managedIdentity"), tenant, mi);
                let e = IdentityEntry::managed_identity(tenant, &m);
                (model::NewIdentity::ManagedIdentity(m), e, &mi.name)
            }
            _ => {
                self.error(
                    a.tenant.at,
                    path.to_owned(),
                    "give exactly one of `app` and `managedIdentity`",
                );
                return None;
            }
        };
        let taken = self
            .identities
            .iter()
            .any(|e| e.tenant == tenant && e.name == name.value);
        if taken {
            self.error(
                name.at,
                format!("{path}.{}.name", kind_key(&identity)),
                format!(
                    "tenant `{tenant}` has an app or managed identity named `{}` at this step",
                    name.value
                ),
            );
        }
        if !tenant_ok || taken {
            return None;
        }
        let fics = match &identity {
            model::NewIdentity::App(m) => m.federated_credentials.clone(),
            model::NewIdentity::ManagedIdentity(m) => m.federated_credentials.clone(),
        };
        self.hold(entry, name.at, held, fics, path);
        Some(model::Action::AddIdentity {
            tenant: tenant.to_owned(),
            identity,
        })
    }

    /// `addProject`: a namespace the cluster does not have at this step.
    pub(super) fn add_project(
        &mut self,
        path: &str,
        p: &doc::ProjectAddition,
    ) -> Option<model::Action> {
        let ci = self.cluster_ref(&p.cluster, &format!("{path}.cluster"));
        let written = doc::Namespace {
            name: p.name.clone(),
            service_accounts: p.service_accounts.clone(),
            pod_service_account: p.pod_service_account.clone(),
        };
        let project = self.namespace(path, &written);
        let ci = ci?;
        if self.clusters[ci].namespaces.contains(&project.name) {
            self.error(
                p.name.at,
                format!("{path}.name"),
                format!(
                    "cluster `{}` has a namespace `{}` at this step",
                    p.cluster.value, project.name
                ),
            );
            return None;
        }
        let entry = &mut self.clusters[ci];
        entry.projects.push(project.name.clone());
        entry.namespaces.insert(project.name.clone());
        entry
            .service_accounts
            .extend(project.service_accounts.iter().map(|s| ServiceAccountRef {
                namespace: project.name.clone(),
                name: s.name.clone(),
            }));
        Some(model::Action::AddProject {
            cluster: p.cluster.value.clone(),
            project,
        })
    }

    /// Indexes a new identity (refusing a client ID another identity has) and holds its
    /// federated credentials for the steps after.
    fn hold(
        &mut self,
        entry: IdentityEntry,
        at: Pos,
        held: &mut Held,
        fics: Vec<model::FederatedCredential>,
        path: &str,
    ) {
        if self
            .identities
            .iter()
            .any(|e| e.tenant == entry.tenant && e.name == entry.name)
        {
            return; // a duplicate name, reported as such
        }
        let clash = self
            .identities
            .iter()
            .find(|e| e.client_id == entry.client_id)
            .map(|e| format!("{}/{}", e.tenant, e.name));
        if let Some(other) = clash {
            self.error(
                at,
                path.to_owned(),
                format!(
                    "client ID of `{}/{}` is also the client ID of `{other}`",
                    entry.tenant, entry.name
                ),
            );
            return;
        }
        held.insert(
            (entry.tenant.clone(), entry.name.clone()),
            fics.into_iter().map(|f| (f, at)).collect(),
        );
        self.identities.push(entry);
    }
}

/// The key an added identity is written under.
fn kind_key(i: &model::NewIdentity) -> &'static str {
    match i {
        model::NewIdentity::App(_) => "app",
        model::NewIdentity::ManagedIdentity(_) => "managedIdentity",
    }
}
