//! mock-acr's builder input for a registry: its auth mode, repositories and artifacts, role
//! assignments and repository-scoped tokens; and the scenario's ACR vocabulary in mock-acr's
//! terms (roles, ABAC conditions, token actions), which role-assignment changes use too.

use mock_acr::RegistrySpec;
use mock_acr::model::{ArtifactKind as AcrArtifact, RepositorySpec};
use mock_acr::policy::{Action as AcrAction, RepoCondition, Role};
use scenarios::model;

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

/// mock-acr's builder input for a registry.
pub(super) fn registry(r: &model::Registry) -> RegistrySpec {
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

/// mock-acr's ABAC condition for a scenario's repository condition.
pub(super) fn condition(c: &Option<model::RepoCondition>) -> Option<RepoCondition> {
    c.as_ref().map(|c| match c {
        model::RepoCondition::Name(n) => RepoCondition::Name(n.clone()),
        model::RepoCondition::Prefix(p) => RepoCondition::Prefix(p.clone()),
    })
}

/// mock-acr's action for a scenario token's scope-map action.
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
