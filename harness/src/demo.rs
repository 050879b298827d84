//! The built-in demo world that `credsim up` serves without `--world`.
//!
//! The CLI contract's demo world: two tenants; in the first, an app with a client secret and one
//! user-assigned managed identity per project federated to that project's dedicated
//! ServiceAccount (`credentials`) on `shard-a`; a second tenant; two shards with distinct issuers;
//! a node on `shard-a` with a managed identity (for IMDS). It grows as the fakes land: the
//! registries arrive with mock-acr, and the clusters behind the `shard-a`/`shard-b` issuers (which
//! mint the ServiceAccount tokens) with mock-k8s; until then the issuers publish their discovery
//! documents and keys only.

use mock_entra::{FederatedCredential, Identity, Tenant};
use mock_imds::Node;

use crate::cloud::WorldSpec;

/// The issuer URL of a demo shard.
pub fn issuer_url(shard: &str) -> String {
    format!("https://oidc.{shard}.credsim.test/")
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
        issuers: vec![
            ("shard-a".into(), issuer_url("shard-a")),
            ("shard-b".into(), issuer_url("shard-b")),
        ],
    }
}
