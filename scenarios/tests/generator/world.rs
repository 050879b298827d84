//! The world, in dependency order: clusters first (federated credentials refer to their
//! ServiceAccounts), then tenants, nodes and registries, then controllers (they refer to
//! identities and nodes), then faults (they refer to everything).

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use scenarios::model::*;

use super::{clusters, faults, maybe, registries, secs, tenants};

pub fn world(rng: &mut StdRng) -> World {
    let mut clusters = clusters::clusters(rng);
    let tenants = tenants::tenants(rng, &clusters);
    let identities = tenants::identities(&tenants);
    let nodes = nodes(rng, &tenants, &clusters, &identities);
    let registries = registries::registries(rng, &tenants, &identities);
    clusters::add_controllers(
        rng,
        &mut clusters,
        &identities,
        &nodes,
        &tenants::apps_with_secrets(&tenants),
    );
    let mut world = World {
        tenants,
        registries,
        clusters,
        nodes,
        faults: Vec::new(),
        leniency: Vec::new(),
        options: Options::default(),
    };
    world.faults = faults::faults(rng, &world, &identities);
    world.leniency = [
        Leniency::InstantFederatedCredentialPropagation,
        Leniency::TolerateClockSkew,
    ]
    .into_iter()
    .filter(|_| rng.gen_bool(0.3))
    .collect();
    world.options = options(rng);
    world
}

/// Nodes, each in a tenant (perhaps in a cluster) with some of the tenant's managed identities.
fn nodes(
    rng: &mut StdRng,
    tenants: &[Tenant],
    clusters: &[Cluster],
    identities: &[(IdentityRef, bool)],
) -> Vec<Node> {
    (0..rng.gen_range(0..3))
        .map(|n| {
            let tenant = tenants.choose(rng).unwrap();
            Node {
                name: format!("node-{n}"),
                tenant: tenant.name.clone(),
                cluster: clusters.choose(rng).map(|c| c.name.clone()),
                system_assigned: rng.gen_bool(0.5),
                user_assigned: identities
                    .iter()
                    .filter(|(i, _)| {
                        i.tenant == tenant.name && i.kind == IdentityKind::ManagedIdentity
                    })
                    .filter(|_| rng.gen_bool(0.5))
                    .map(|(i, _)| i.clone())
                    .collect(),
            }
        })
        .collect()
}

fn options(rng: &mut StdRng) -> Options {
    Options {
        start_time: maybe(rng, |rng| {
            jiff::Timestamp::from_second(rng.gen_range(1_700_000_000..1_900_000_000)).unwrap()
        }),
        entra_token_lifetime: maybe(rng, secs),
        federated_credential_propagation: secs(rng),
        acr_refresh_token_lifetime: secs(rng),
        acr_access_token_lifetime: secs(rng),
    }
}
