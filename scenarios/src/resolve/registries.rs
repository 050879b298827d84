//! Registries: names Azure accepts, repositories and their artifacts, role assignments (of the
//! world, and added by steps) with ABAC conditions only where Azure honours them, and tokens.

use crate::located::Located;
use crate::model;
use crate::v1alpha1 as doc;

use super::context::Cx;
use super::names::is_repository_name;

/// A role assignment as written, in the world or in an `addRoleAssignment` step.
pub(super) struct Assignment<'d> {
    pub(super) principal: &'d Located<String>,
    pub(super) role: &'d Located<model::RegistryRole>,
    pub(super) repository: Option<&'d Located<String>>,
    pub(super) prefix: Option<&'d Located<String>>,
}

impl<'d> From<&'d doc::RoleAssignment> for Assignment<'d> {
    fn from(a: &'d doc::RoleAssignment) -> Self {
        Self {
            principal: &a.principal,
            role: &a.role,
            repository: a.repository.as_ref(),
            prefix: a.repository_prefix.as_ref(),
        }
    }
}

impl<'d> From<&'d doc::RoleAssignmentChange> for Assignment<'d> {
    fn from(a: &'d doc::RoleAssignmentChange) -> Self {
        Self {
            principal: &a.principal,
            role: &a.role,
            repository: a.repository.as_ref(),
            prefix: a.repository_prefix.as_ref(),
        }
    }
}

impl Cx<'_> {
    pub(super) fn registry(&mut self, i: usize, r: &doc::Registry) -> model::Registry {
        let base = format!("world.registries[{i}]");
        let valid_name =
            (5..=50).contains(&r.name.len()) && r.name.chars().all(|c| c.is_ascii_alphanumeric());
        if !valid_name {
            self.error(
                r.name.at,
                format!("{base}.name"),
                format!(
                    "`{}` is not a valid registry name: Azure allows 5 to 50 letters and digits",
                    r.name.value
                ),
            );
        }
        self.tenant_ref(&r.tenant, &format!("{base}.tenant"));
        self.unique(
            "repository",
            r.repositories
                .iter()
                .enumerate()
                .map(|(j, x)| (&x.name, format!("{base}.repositories[{j}].name"))),
        );
        let repositories = r
            .repositories
            .iter()
            .enumerate()
            .map(|(j, repo)| self.repository(&format!("{base}.repositories[{j}]"), repo))
            .collect();
        let role_assignments = r
            .role_assignments
            .iter()
            .enumerate()
            .filter_map(|(j, a)| {
                self.role_assignment(r, &format!("{base}.roleAssignments[{j}]"), a.into())
            })
            .collect();
        self.unique(
            "token",
            r.tokens
                .iter()
                .enumerate()
                .map(|(j, t)| (&t.name, format!("{base}.tokens[{j}].name"))),
        );
        let tokens = r
            .tokens
            .iter()
            .enumerate()
            .map(|(j, t)| self.token(&format!("{base}.tokens[{j}]"), t))
            .collect();
        model::Registry {
            name: r.name.value.clone(),
            login_server: format!("{}.azurecr.io", r.name.value.to_ascii_lowercase()),
            tenant: r.tenant.value.clone(),
            auth_mode: r.auth_mode,
            anonymous_pull: r.anonymous_pull,
            admin_user: r.admin_user,
            repositories,
            role_assignments,
            tokens,
        }
    }

    /// Assignment `a` at `path` on `registry`: its principal resolved (and able to hold a role
    /// in the registry's tenant), its condition checked against the registry's role model.
    pub(super) fn role_assignment(
        &mut self,
        registry: &doc::Registry,
        path: &str,
        a: Assignment<'_>,
    ) -> Option<model::RoleAssignment> {
        let who = self.identity_ref(a.principal, &format!("{path}.principal"))?;
        if who.tenant != registry.tenant.value {
            self.check_cross_tenant_principal(registry, path, a.principal, &who);
        }
        let condition = match (a.repository, a.prefix) {
            (Some(_), Some(p)) => {
                self.error(
                    p.at,
                    format!("{path}.repositoryPrefix"),
                    "give either `repository` or `repositoryPrefix`, not both",
                );
                None
            }
            (Some(r), None) => Some((r, model::RepoCondition::Name(r.value.clone()))),
            (None, Some(p)) => Some((p, model::RepoCondition::Prefix(p.value.clone()))),
            (None, None) => None,
        };
        if let Some((at, _)) = &condition {
            self.check_condition(registry, path, at, a.role);
        }
        Some(model::RoleAssignment {
            principal: who,
            role: a.role.value,
            condition: condition.map(|(_, c)| c),
        })
    }

    /// A principal of another tenant has a service principal in the registry's only when it is
    /// a multi-tenant app.
    fn check_cross_tenant_principal(
        &mut self,
        registry: &doc::Registry,
        path: &str,
        principal: &Located<String>,
        who: &model::IdentityRef,
    ) {
        let multi = self
            .identities
            .iter()
            .any(|e| e.tenant == who.tenant && e.name == who.name && e.multi_tenant);
        if !multi {
            self.error(
                principal.at,
                format!("{path}.principal"),
                format!(
                    "`{}/{}` lives in tenant `{}` and has no service principal in `{}`, the registry's tenant (only a multi-tenant app can be granted there)",
                    who.tenant, who.name, who.tenant, registry.tenant.value
                ),
            );
        }
    }

    /// A repository condition (written at `at`) needs ABAC and a role that takes one.
    fn check_condition(
        &mut self,
        registry: &doc::Registry,
        path: &str,
        at: &Located<String>,
        role: &Located<model::RegistryRole>,
    ) {
        if registry.auth_mode != model::AuthMode::Abac {
            self.error(
                at.at,
                path.to_owned(),
                format!(
                    "repository conditions need `authMode: abac` on registry `{}` (Azure ignores them otherwise)",
                    registry.name.value
                ),
            );
        } else if !role.takes_repository_condition() {
            self.error(
                at.at,
                path.to_owned(),
                format!(
                    "role `{:?}` takes no repository condition; use a `Container Registry Repository ...` role",
                    role.value
                ),
            );
        }
    }

    /// The repository at `path`; without artifacts, it holds one image tagged `1.0.0`.
    fn repository(&mut self, path: &str, repo: &doc::Repository) -> model::Repository {
        if !is_repository_name(&repo.name) {
            self.error(
                repo.name.at,
                format!("{path}.name"),
                format!(
                    "`{}` is not a valid repository name: lowercase path components of letters and digits separated by `.`, `_`, `-`",
                    repo.name.value
                ),
            );
        }
        self.unique(
            "tag",
            repo.artifacts
                .iter()
                .enumerate()
                .map(|(k, a)| (&a.tag, format!("{path}.artifacts[{k}].tag"))),
        );
        let artifacts = if repo.artifacts.is_empty() {
            vec![model::Artifact {
                tag: "1.0.0".into(),
                kind: model::ArtifactKind::Image,
            }]
        } else {
            repo.artifacts
                .iter()
                .map(|a| model::Artifact {
                    tag: a.tag.value.clone(),
                    kind: a.kind,
                })
                .collect()
        };
        model::Repository {
            name: repo.name.value.clone(),
            artifacts,
        }
    }

    /// The token at `path`: a scope map of at least one entry, each with at least one action.
    fn token(&mut self, path: &str, t: &doc::RegistryToken) -> model::RegistryToken {
        if t.scope_map.is_empty() {
            self.error(
                t.name.at,
                format!("{path}.scopeMap"),
                "a token needs at least one scope-map entry",
            );
        }
        for (k, e) in t.scope_map.iter().enumerate() {
            if e.actions.is_empty() {
                self.error(
                    e.repository.at,
                    format!("{path}.scopeMap[{k}].actions"),
                    "a scope-map entry needs at least one action",
                );
            }
        }
        model::RegistryToken {
            name: t.name.value.clone(),
            scope_map: t
                .scope_map
                .iter()
                .map(|e| {
                    (
                        e.repository.value.clone(),
                        e.actions.iter().map(|a| a.value).collect(),
                    )
                })
                .collect(),
        }
    }
}
