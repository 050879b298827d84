//! The built-in demo world that `credsim up` serves without `--world`.
//!
//! The CLI contract's demo world is two tenants, two registries, two shards and two projects. It
//! grows as the fakes land: today it holds the Entra side (tenant `contoso` with the `ci-app`
//! app and its client secret, and one user-assigned managed identity per project; tenant
//! `fabrikam`). The registries, clusters, the node identity and the federated credentials that
//! tie each project's identity to its ServiceAccount on `shard-a` arrive with mock-acr, mock-imds
//! and mock-k8s.

use mock_entra::{Identity, Tenant};

use crate::cloud::WorldSpec;

/// The demo world.
pub fn world() -> WorldSpec {
    WorldSpec {
        tenants: vec![
            Tenant::new("contoso")
                .identity(Identity::app("ci-app").minted_secret(None))
                .identity(Identity::user_assigned("project-a-mi"))
                .identity(Identity::user_assigned("project-b-mi")),
            Tenant::new("fabrikam").identity(Identity::app("fabrikam-ci-app").minted_secret(None)),
        ],
    }
}
