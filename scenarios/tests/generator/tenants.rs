//! Tenants with apps, managed identities (IDs random or derived) and federated credentials,
//! literal or for the clusters' ServiceAccounts; and the identities other objects refer to.

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use scenarios::model::*;

use super::{guid_or_derived, maybe, secs, text};

pub fn tenants(rng: &mut StdRng, clusters: &[Cluster]) -> Vec<Tenant> {
    let mut credentials = Credentials::new(clusters);
    (0..rng.gen_range(1..4))
        .map(|t| tenant(rng, t, &mut credentials))
        .collect()
}

/// Every app and managed identity, each with whether it is multi-tenant. Random GUIDs can
/// collide with nothing, derived ones are unique by name: their client IDs are all distinct.
pub fn identities(tenants: &[Tenant]) -> Vec<(IdentityRef, bool)> {
    tenants
        .iter()
        .flat_map(|t| {
            t.apps
                .iter()
                .map(|a| {
                    (
                        IdentityRef {
                            tenant: t.name.clone(),
                            name: a.name.clone(),
                            kind: IdentityKind::App,
                            client_id: a.client_id,
                        },
                        a.multi_tenant,
                    )
                })
                .chain(t.managed_identities.iter().map(|m| {
                    (
                        IdentityRef {
                            tenant: t.name.clone(),
                            name: m.name.clone(),
                            kind: IdentityKind::ManagedIdentity,
                            client_id: m.client_id,
                        },
                        false,
                    )
                }))
        })
        .collect()
}

/// The apps a controller can be installed with (those with a client secret).
pub fn apps_with_secrets(tenants: &[Tenant]) -> Vec<IdentityRef> {
    tenants
        .iter()
        .flat_map(|t| {
            t.apps
                .iter()
                .filter(|a| !a.secrets.is_empty())
                .map(|a| IdentityRef {
                    tenant: t.name.clone(),
                    name: a.name.clone(),
                    kind: IdentityKind::App,
                    client_id: a.client_id,
                })
        })
        .collect()
}

fn tenant(rng: &mut StdRng, t: i32, credentials: &mut Credentials<'_>) -> Tenant {
    let name = format!("tenant-{t}");
    Tenant {
        id: guid_or_derived(rng, guid::tenant_id(&name)),
        domains: if rng.gen_bool(0.5) {
            vec![format!("{name}.onmicrosoft.com")]
        } else {
            vec![format!("{name}.example"), format!("{name}.test")]
        },
        apps: (0..rng.gen_range(0..3))
            .map(|a| app(rng, &name, a, credentials))
            .collect(),
        managed_identities: (0..rng.gen_range(0..4))
            .map(|m| managed_identity(rng, &name, m, credentials))
            .collect(),
        resources: (0..rng.gen_range(0..2))
            .map(|r| Resource {
                uri: format!("api://resource-{r}"),
                v2: rng.gen_bool(0.5),
            })
            .collect(),
        name,
    }
}

fn app(rng: &mut StdRng, tenant: &str, a: i32, credentials: &mut Credentials<'_>) -> App {
    let app = format!("app-{a}");
    App {
        client_id: guid_or_derived(rng, guid::client_id(tenant, &app)),
        secrets: (0..rng.gen_range(0..3))
            .map(|s| AppSecret {
                name: format!("secret-{s}"),
                expires_after: maybe(rng, secs),
            })
            .collect(),
        certificates: (0..rng.gen_range(0..2))
            .map(|c| format!("cert-{c}"))
            .collect(),
        multi_tenant: rng.gen_bool(0.3),
        federated_credentials: credentials.some(rng),
        name: app,
    }
}

fn managed_identity(
    rng: &mut StdRng,
    tenant: &str,
    m: i32,
    credentials: &mut Credentials<'_>,
) -> ManagedIdentity {
    let mi = format!("mi-{m}");
    ManagedIdentity {
        client_id: guid_or_derived(rng, guid::client_id(tenant, &mi)),
        principal_id: guid_or_derived(rng, guid::principal_id(tenant, &mi)),
        federated_credentials: credentials.some(rng),
        name: mi,
    }
}

/// Federated credentials, numbered across the world so that no two share a name.
struct Credentials<'c> {
    clusters: &'c [Cluster],
    /// Every ServiceAccount of the clusters, with its cluster's name.
    service_accounts: Vec<(String, ServiceAccountRef)>,
    count: usize,
}

impl<'c> Credentials<'c> {
    fn new(clusters: &'c [Cluster]) -> Self {
        let service_accounts = clusters
            .iter()
            .flat_map(|c| {
                c.all_namespaces().flat_map(move |n| {
                    n.service_accounts.iter().map(move |s| {
                        (
                            c.name.clone(),
                            ServiceAccountRef {
                                namespace: n.name.clone(),
                                name: s.name.clone(),
                            },
                        )
                    })
                })
            })
            .collect();
        Self {
            clusters,
            service_accounts,
            count: 0,
        }
    }

    /// Up to three credentials of one identity, none trusting one ServiceAccount twice.
    fn some(&mut self, rng: &mut StdRng) -> Vec<FederatedCredential> {
        let mut out = Vec::new();
        for _ in 0..rng.gen_range(0..4) {
            self.count += 1;
            let name = format!("fic-{}", self.count);
            let audiences = vec![if rng.gen_bool(0.8) {
                EXCHANGE_AUDIENCE.to_owned()
            } else {
                "api://custom".to_owned()
            }];
            if !self.service_accounts.is_empty() && rng.gen_bool(0.6) {
                let (cluster, sa) = self.service_accounts.choose(rng).unwrap().clone();
                if out.iter().any(|f: &FederatedCredential| {
                    f.subject == sa.subject() && f.cluster.as_deref() == Some(&cluster)
                }) {
                    continue;
                }
                out.push(FederatedCredential {
                    name,
                    issuer: self.issuer_of(&cluster),
                    subject: sa.subject(),
                    audiences,
                    cluster: Some(cluster),
                    service_account: Some(sa),
                    subject_matches_nothing: false,
                });
            } else {
                out.push(FederatedCredential {
                    name,
                    issuer: format!("https://token.{}.example/", self.count),
                    subject: format!("repo:org/{}:ref", text(rng)),
                    audiences,
                    cluster: None,
                    service_account: None,
                    subject_matches_nothing: false,
                });
            }
        }
        out
    }

    fn issuer_of(&self, name: &str) -> String {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .issuer
            .clone()
    }
}
