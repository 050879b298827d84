//! The built-in demo world that `credsim up` serves without `--world`.
//!
//! The CLI contract's demo world: two tenants; in the first, an app with a client secret, a
//! registry (`contosoacr`, ABAC mode) with one repository per project, and one user-assigned
//! managed identity per project federated to that project's dedicated ServiceAccount
//! (`credentials`) on `shard-a` and granted pull on that project's repository only; a second
//! registry (`fabrikamacr`) in the second tenant; two embedded clusters (`shard-a`, `shard-b`)
//! with distinct issuers, each running a Kargo-like controller (`kargo/kargo-controller`) that may
//! mint tokens only for the dedicated `credentials` ServiceAccount of the project namespaces on
//! its shard; a node on `shard-a` with a managed identity (for IMDS).

use mock_acr::RegistrySpec;
use mock_acr::model::{ArtifactKind, RepositorySpec};
use mock_acr::policy::{RepoCondition, Role};
use mock_entra::{FederatedCredential, Identity, Tenant};
use mock_imds::Node;
use mock_k8s::ClusterSpec;
use serde_json::json;

use crate::cloud::WorldSpec;

/// The issuer URL of a demo shard.
pub fn issuer_url(shard: &str) -> String {
    format!("https://oidc.{shard}.credsim.test/")
}

/// A shard: the controller's namespace and ServiceAccount, and per project a namespace, the
/// dedicated ServiceAccount annotated with the project's identity, and a RoleBinding that lets
/// the controller mint tokens for that ServiceAccount only.
fn shard(name: &str, projects: &[&str]) -> ClusterSpec {
    let mut spec = ClusterSpec::new(name)
        .issuer(&issuer_url(name))
        .namespace("kargo")
        .service_account("kargo", "kargo-controller", &[])
        .object(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "credsim-credentials-token-minter"},
            "rules": [{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"],
                       "resourceNames": ["credentials"]},
                      {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get", "list"]}]}));
    for project in projects {
        let client_id =
            mock_entra::directory::default_client_id("contoso", &format!("{project}-mi"))
                .to_string();
        spec = spec
            .namespace(project)
            .service_account(project, "credentials", &[("azure.workload.identity/client-id", client_id.as_str())])
            .object(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "kargo-controller-credentials", "namespace": project},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "credsim-credentials-token-minter"},
                "subjects": [{"kind": "ServiceAccount", "name": "kargo-controller", "namespace": "kargo"}]}));
    }
    spec
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
        clusters: vec![
            shard("shard-a", &["project-a", "project-b"]),
            shard("shard-b", &[]),
        ],
        issuers: Vec::new(),
        node_clusters: [("shard-a-node".to_owned(), "shard-a".to_owned())].into(),
        ..WorldSpec::default()
    }
}
