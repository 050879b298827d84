//! The built-in demo world that `credsim up` serves without `--world`.
//!
//! The CLI contract's demo world: two tenants; in the first, an app with a client secret, a
//! registry (`contosoacr`, ABAC mode) with one repository per project, and one user-assigned
//! managed identity per project federated to that project's dedicated ServiceAccount
//! (`credentials`) on `shard-a` and granted pull on that project's repository only; a second
//! registry (`fabrikamacr`) in the second tenant; two shards with distinct issuers; a node on
//! `shard-a` with a managed identity (for IMDS). The clusters behind the `shard-a`/`shard-b`
//! issuers (which mint the ServiceAccount tokens) arrive with mock-k8s; until then the issuers
//! publish their discovery documents and keys only.

use mock_acr::RegistrySpec;
use mock_acr::model::{ArtifactKind, RepositorySpec};
use mock_acr::policy::{RepoCondition, Role};
use mock_entra::{FederatedCredential, Identity, Tenant};
use mock_imds::Node;

use crate::cloud::WorldSpec;

/// The issuer URL of a demo shard.
pub fn issuer_url(shard: &str) -> String {
    format!("https://oidc.{shard}.credsim.test/")
}

fn project_repo(project: &str) -> RepositorySpec {
    RepositorySpec::new(&format!("{project}/app"))
        .artifact("1.0.0", ArtifactKind::Image)
        .artifact("1.1.0", ArtifactKind::Image)
}

/// The demo world.
pub fn world() -> WorldSpec {
    let project_mi = |project: &str| {
        Identity::user_assigned(&format!("{project}-mi")).federated(FederatedCredential::new(
            &format!("{project}-shard-a"),
            &issuer_url("shard-a"),
            &format!("system:serviceaccount:{project}:credentials"),
        ))
    };
    WorldSpec {
        tenants: vec![
            Tenant::new("contoso")
                .identity(Identity::app("ci-app").minted_secret(None))
                .identity(project_mi("project-a"))
                .identity(project_mi("project-b"))
                .identity(Identity::user_assigned("shard-a-kubelet")),
            Tenant::new("fabrikam").identity(Identity::app("fabrikam-ci-app").minted_secret(None)),
        ],
        nodes: vec![Node::new("shard-a-node", "contoso").user_assigned("shard-a-kubelet")],
        registries: vec![
            RegistrySpec::new("contosoacr", "contoso")
                .abac()
                .repository(project_repo("project-a"))
                .repository(project_repo("project-b"))
                .assign(
                    "contoso",
                    "project-a-mi",
                    Role::RepositoryReader,
                    Some(RepoCondition::Name("project-a/app".into())),
                )
                .assign(
                    "contoso",
                    "project-b-mi",
                    Role::RepositoryReader,
                    Some(RepoCondition::Name("project-b/app".into())),
                )
                .assign("contoso", "ci-app", Role::RepositoryReader, None)
                .assign("contoso", "ci-app", Role::CatalogLister, None),
            RegistrySpec::new("fabrikamacr", "fabrikam")
                .repository(
                    RepositorySpec::new("shared/base").artifact("1.0.0", ArtifactKind::Image),
                )
                .assign("fabrikam", "fabrikam-ci-app", Role::AcrPull, None),
        ],
        issuers: vec![
            ("shard-a".into(), issuer_url("shard-a")),
            ("shard-b".into(), issuer_url("shard-b")),
        ],
    }
}
