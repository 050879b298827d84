//! The world's grants and federated credentials as the steps change them: the oracle for what
//! a project's own identities may pull.

use std::collections::BTreeSet;

use credsim_world::world::role;
use mock_acr::policy::{Action as AcrAction, AuthMode, Grants, RepoCondition};
use scenarios::model::{self, Action, RepositoryRef, Scenario};

/// The world's grants and federated credentials as the steps change them: the oracle for what a
/// project's own identities may pull, computed with mock-acr's own permission rules.
pub(super) struct Mirror {
    pub(super) world: model::World,
}

impl Mirror {
    pub(super) fn new(s: &Scenario) -> Self {
        Self {
            world: s.world.clone(),
        }
    }

    pub(super) fn apply(&mut self, action: &Action) {
        match action {
            Action::AddRoleAssignment {
                registry,
                assignment,
            } => {
                if let Some(r) = self
                    .world
                    .registries
                    .iter_mut()
                    .find(|r| &r.name == registry)
                {
                    r.role_assignments.push(assignment.clone());
                }
            }
            Action::RemoveRoleAssignment {
                registry,
                principal,
                role,
            } => {
                if let Some(r) = self
                    .world
                    .registries
                    .iter_mut()
                    .find(|r| &r.name == registry)
                {
                    r.role_assignments.retain(|a| {
                        !(a.principal.tenant == principal.tenant
                            && a.principal.name == principal.name
                            && role.is_none_or(|x| x == a.role))
                    });
                }
            }
            Action::AddFederatedCredential {
                identity,
                credential,
            } => {
                if let Some(f) = self.fics_mut(identity) {
                    f.push(credential.clone());
                }
            }
            Action::DeleteFederatedCredential { identity, name } => {
                if let Some(f) = self.fics_mut(identity) {
                    f.retain(|c| &c.name != name);
                }
            }
            // The tenants, identities and projects steps add.
            other => self.world.add(other),
        }
    }

    pub(super) fn fics_mut(
        &mut self,
        who: &model::IdentityRef,
    ) -> Option<&mut Vec<model::FederatedCredential>> {
        let t = self
            .world
            .tenants
            .iter_mut()
            .find(|t| t.name == who.tenant)?;
        if let Some(a) = t.apps.iter_mut().find(|a| a.name == who.name) {
            return Some(&mut a.federated_credentials);
        }
        t.managed_identities
            .iter_mut()
            .find(|m| m.name == who.name)
            .map(|m| &mut m.federated_credentials)
    }

    /// Identities federated to a ServiceAccount of `project` under `issuer`.
    pub(super) fn project_identities(
        &self,
        issuer: &str,
        project: &str,
    ) -> Vec<(String, String, bool)> {
        let prefix = format!("system:serviceaccount:{project}:");
        let mut out = Vec::new();
        for t in &self.world.tenants {
            for (name, fics, multi) in t
                .apps
                .iter()
                .map(|a| (&a.name, &a.federated_credentials, a.multi_tenant))
                .chain(
                    t.managed_identities
                        .iter()
                        .map(|m| (&m.name, &m.federated_credentials, false)),
                )
            {
                if fics
                    .iter()
                    .any(|f| f.issuer == issuer && f.subject.starts_with(&prefix))
                {
                    out.push((t.name.clone(), name.clone(), multi));
                }
            }
        }
        out
    }

    pub(super) fn project_client_ids(&self, issuer: &str, project: &str) -> Vec<String> {
        let who = self.project_identities(issuer, project);
        self.world
            .tenants
            .iter()
            .flat_map(|t| {
                t.apps
                    .iter()
                    .map(move |a| (&t.name, &a.name, a.client_id))
                    .chain(
                        t.managed_identities
                            .iter()
                            .map(move |m| (&t.name, &m.name, m.client_id)),
                    )
            })
            .filter(|(t, n, _)| who.iter().any(|(wt, wn, _)| wt == *t && wn == *n))
            .map(|(_, _, id)| id.to_string())
            .collect()
    }

    pub(super) fn project_access(&self, issuer: &str, project: &str) -> BTreeSet<RepositoryRef> {
        let who = self.project_identities(issuer, project);
        let mut out = BTreeSet::new();
        for r in &self.world.registries {
            let mode = match r.auth_mode {
                model::AuthMode::Abac => AuthMode::Abac,
                model::AuthMode::Legacy => AuthMode::Legacy,
            };
            let mut grants = Grants::default();
            for a in &r.role_assignments {
                let ours = who.iter().any(|(t, n, multi)| {
                    *t == a.principal.tenant && *n == a.principal.name && (*t == r.tenant || *multi)
                });
                if ours {
                    let cond = a.condition.as_ref().map(|c| match c {
                        model::RepoCondition::Name(n) => RepoCondition::Name(n.clone()),
                        model::RepoCondition::Prefix(p) => RepoCondition::Prefix(p.clone()),
                    });
                    grants.add_role(mode, role(a.role), cond.as_ref());
                }
            }
            for repo in &r.repositories {
                if grants.allows(&repo.name, AcrAction::Pull) || r.anonymous_pull {
                    out.insert(RepositoryRef {
                        registry: r.name.clone(),
                        repository: repo.name.clone(),
                    });
                }
            }
        }
        out
    }

    pub(super) fn anonymous_access(&self) -> BTreeSet<RepositoryRef> {
        self.world
            .registries
            .iter()
            .filter(|r| r.anonymous_pull)
            .flat_map(|r| {
                r.repositories.iter().map(move |x| RepositoryRef {
                    registry: r.name.clone(),
                    repository: x.name.clone(),
                })
            })
            .collect()
    }
}
