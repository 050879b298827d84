//! The fakes' builder inputs for a scenario's world: tenants with their apps, managed identities
//! and resources (with the scenario's GUIDs), registries, embedded clusters, nodes, and the
//! fakes' options as the world's options and leniency set them.

use std::time::Duration;

use jiff::Timestamp;
use mock_acr::AcrOptions;
use mock_entra::directory::AppCertificate;
use mock_entra::{EntraOptions, FederatedCredential, Identity, Resource, Tenant};
use mock_imds::Node;
use mock_kit::Clock;
use scenarios::model::{self, Leniency, Scenario};

use super::WorldError;
use super::cluster::cluster;
use super::external_clusters::check_external;
use super::registry::registry;
use crate::cloud::WorldSpec;

/// The clock skew Entra tolerates under `leniency: [tolerate-clock-skew]`.
pub const LENIENT_CLOCK_SKEW: Duration = Duration::from_secs(3600);

/// The fakes' builder inputs for a scenario's world, on `clock`.
pub fn world_spec(s: &Scenario, clock: Clock) -> Result<WorldSpec, WorldError> {
    let w = &s.world;
    check_external(s)?;
    let start = clock.now();
    let tenants = w
        .tenants
        .iter()
        .map(|t| tenant(t, start))
        .collect::<Result<Vec<_>, _>>()?;
    let registries = w.registries.iter().map(registry).collect();
    let clusters = w
        .clusters
        .iter()
        .filter(|c| c.backend == model::Backend::Embedded)
        .map(cluster)
        .collect();
    let nodes = w.nodes.iter().map(node).collect();
    let node_clusters = w
        .nodes
        .iter()
        .filter_map(|n| n.cluster.clone().map(|c| (n.name.clone(), c)))
        .collect();
    Ok(WorldSpec {
        tenants,
        nodes,
        registries,
        clusters,
        issuers: Vec::new(),
        node_clusters,
        entra_options: entra_options(w),
        acr_options: acr_options(w),
        clock: Some(clock),
    })
}

/// A scenario tenant as mock-entra's: domains, apps, managed identities, resources. Secrets'
/// expiries count from `start`.
pub(super) fn tenant(t: &model::Tenant, start: Timestamp) -> Result<Tenant, WorldError> {
    let mut tenant = Tenant::new(&t.name).id(t.id);
    for d in &t.domains {
        tenant = tenant.domain(d);
    }
    for a in &t.apps {
        tenant = tenant.identity(app(a, start)?);
    }
    for m in &t.managed_identities {
        tenant = tenant.identity(managed_identity(m));
    }
    for r in &t.resources {
        let mut res = Resource::new(&r.uri);
        if r.v2 {
            res = res.v2();
        }
        tenant = tenant.resource(res);
    }
    Ok(tenant)
}

/// An app registration with its secrets (minted when mock-entra builds), certificates (generated
/// now) and federated credentials.
pub(super) fn app(a: &model::App, start: Timestamp) -> Result<Identity, WorldError> {
    let mut app = Identity::app(&a.name).client_id(a.client_id);
    if a.multi_tenant {
        app = app.multi_tenant();
    }
    for secret in &a.secrets {
        let expires = secret.expires_after.and_then(|d| add(start, d));
        app = app.minted_secret(expires);
    }
    for c in &a.certificates {
        app.certificates.push(
            AppCertificate::generate(&format!("CN={}/{c}", a.name)).map_err(|source| {
                WorldError::Certificate {
                    app: a.name.clone(),
                    source,
                }
            })?,
        );
    }
    for f in &a.federated_credentials {
        app = app.federated(fic(f));
    }
    Ok(app)
}

/// A user-assigned managed identity with its federated credentials.
pub(super) fn managed_identity(m: &model::ManagedIdentity) -> Identity {
    let mut mi = Identity::user_assigned(&m.name)
        .client_id(m.client_id)
        .object_id(m.principal_id);
    for f in &m.federated_credentials {
        mi = mi.federated(fic(f));
    }
    mi
}

/// A node and the managed identities IMDS hands out on it.
fn node(n: &model::Node) -> Node {
    let mut node = Node::new(&n.name, &n.tenant);
    if n.system_assigned {
        node = node.system_assigned();
    }
    for u in &n.user_assigned {
        node = node.user_assigned(&u.name);
    }
    node
}

/// mock-entra's options: the world's token lifetime and propagation delay, unless leniency waives
/// the delay or widens the clock skew.
fn entra_options(w: &model::World) -> EntraOptions {
    EntraOptions {
        token_lifetime: w.options.entra_token_lifetime,
        fic_propagation_delay: if w.is_lenient(Leniency::InstantFederatedCredentialPropagation) {
            Duration::ZERO
        } else {
            w.options.federated_credential_propagation
        },
        clock_skew: if w.is_lenient(Leniency::TolerateClockSkew) {
            LENIENT_CLOCK_SKEW
        } else {
            EntraOptions::default().clock_skew
        },
        ..EntraOptions::default()
    }
}

/// mock-acr's options: the world's token lifetimes.
fn acr_options(w: &model::World) -> AcrOptions {
    AcrOptions {
        refresh_token_lifetime: w.options.acr_refresh_token_lifetime,
        access_token_lifetime: w.options.acr_access_token_lifetime,
        ..AcrOptions::default()
    }
}

/// `t + d`, if it is a timestamp.
fn add(t: Timestamp, d: Duration) -> Option<Timestamp> {
    t.checked_add(jiff::SignedDuration::try_from(d).ok()?).ok()
}

/// A scenario's federated credential as mock-entra's (for the initial world and for steps that
/// add one).
pub(super) fn fic(f: &model::FederatedCredential) -> FederatedCredential {
    let audiences: Vec<&str> = f.audiences.iter().map(String::as_str).collect();
    FederatedCredential::new(&f.name, &f.issuer, &f.subject).audiences(&audiences)
}
