//! Registries in either role model, with repositories of every artifact kind, role assignments
//! (with ABAC conditions where they apply) and tokens.

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use scenarios::model::*;

const ROLES: [RegistryRole; 6] = [
    RegistryRole::AcrPull,
    RegistryRole::AcrPush,
    RegistryRole::Reader,
    RegistryRole::RepositoryReader,
    RegistryRole::RepositoryWriter,
    RegistryRole::CatalogLister,
];

pub fn registries(
    rng: &mut StdRng,
    tenants: &[Tenant],
    identities: &[(IdentityRef, bool)],
) -> Vec<Registry> {
    (0..rng.gen_range(0..3))
        .map(|r| registry(rng, r, tenants, identities))
        .collect()
}

fn registry(
    rng: &mut StdRng,
    r: i32,
    tenants: &[Tenant],
    identities: &[(IdentityRef, bool)],
) -> Registry {
    let name = format!("registry{r}");
    let tenant = tenants.choose(rng).unwrap().name.clone();
    let auth_mode = if rng.gen_bool(0.5) {
        AuthMode::Abac
    } else {
        AuthMode::Legacy
    };
    Registry {
        login_server: format!("{name}.azurecr.io"),
        auth_mode,
        anonymous_pull: rng.gen_bool(0.2),
        admin_user: rng.gen_bool(0.2),
        repositories: (0..rng.gen_range(0..3))
            .map(|i| repository(rng, i))
            .collect(),
        role_assignments: (0..rng.gen_range(0..3))
            .filter_map(|_| assignment(rng, identities, &tenant, auth_mode))
            .collect(),
        tokens: (0..rng.gen_range(0..2))
            .map(|t| RegistryToken {
                name: format!("token-{t}"),
                scope_map: vec![(
                    "repo-0/app".into(),
                    vec![TokenAction::ContentRead, TokenAction::MetadataRead],
                )],
            })
            .collect(),
        tenant,
        name,
    }
}

fn repository(rng: &mut StdRng, i: i32) -> Repository {
    Repository {
        name: format!("repo-{i}/app"),
        artifacts: (0..rng.gen_range(1..3))
            .map(|a| Artifact {
                tag: format!("1.{a}.0"),
                kind: *[
                    ArtifactKind::Image,
                    ArtifactKind::DockerImage,
                    ArtifactKind::Helm,
                    ArtifactKind::Index,
                ]
                .choose(rng)
                .unwrap(),
            })
            .collect(),
    }
}

/// An assignment to an identity that can hold a role in `tenant` (its own, or a multi-tenant
/// app); `None` when there is none.
fn assignment(
    rng: &mut StdRng,
    identities: &[(IdentityRef, bool)],
    tenant: &str,
    mode: AuthMode,
) -> Option<RoleAssignment> {
    let candidates: Vec<&IdentityRef> = identities
        .iter()
        .filter(|(i, multi)| i.tenant == tenant || *multi)
        .map(|(i, _)| i)
        .collect();
    let principal = (*candidates.choose(rng)?).clone();
    let role = *ROLES.choose(rng).unwrap();
    let condition = (mode == AuthMode::Abac && role.takes_repository_condition())
        .then(|| {
            if rng.gen_bool(0.5) {
                RepoCondition::Name("repo-0".into())
            } else {
                RepoCondition::Prefix("repo-".into())
            }
        })
        .filter(|_| rng.gen_bool(0.7));
    Some(RoleAssignment {
        principal,
        role,
        condition,
    })
}
