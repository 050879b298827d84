//! Steps of every kind, on objects of the world, with now and then a request joined to the one
//! before it in a `concurrently` step.

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use scenarios::model::*;

use super::{maybe, secs, text};

pub fn steps(rng: &mut StdRng, world: &World, identities: &[(IdentityRef, bool)]) -> Vec<Step> {
    let mut generator = StepGenerator::new(world, identities);
    let mut out = Vec::new();
    for i in 0..rng.gen_range(0..8) {
        let action = generator.action(rng, i);
        if let Some(action) = join_previous(rng, &mut out, action) {
            out.push(Step {
                at: scenarios::located::Pos::UNKNOWN,
                action,
            });
        }
    }
    out
}

/// Now and then, a request joins the one before it in a `concurrently` step; `None` when it
/// did, the action to add as a step of its own otherwise.
fn join_previous(rng: &mut StdRng, out: &mut [Step], action: Action) -> Option<Action> {
    match (out.last_mut(), action) {
        (
            Some(Step {
                action: prev @ (Action::Request(_) | Action::Concurrently(_)),
                ..
            }),
            Action::Request(r),
        ) if rng.gen_bool(0.3) => {
            *prev = match std::mem::replace(prev, Action::Advance(secs(rng))) {
                Action::Request(p) => Action::Concurrently(vec![p, r]),
                Action::Concurrently(mut rs) => {
                    rs.push(r);
                    Action::Concurrently(rs)
                }
                other => other,
            };
            None
        }
        (_, action) => Some(action),
    }
}

/// What steps can act on.
struct StepGenerator<'w> {
    world: &'w World,
    identities: &'w [(IdentityRef, bool)],
    /// Clusters with a controller and a project to ask for.
    shards: Vec<&'w Cluster>,
    repos: Vec<RepositoryRef>,
    /// Federated credentials that exist, to delete each at most once.
    deletable: Vec<(IdentityRef, String)>,
}

impl<'w> StepGenerator<'w> {
    fn new(world: &'w World, identities: &'w [(IdentityRef, bool)]) -> Self {
        let shards = world
            .clusters
            .iter()
            .filter(|c| c.controller.is_some() && !c.projects.is_empty())
            .collect();
        let repos = world
            .registries
            .iter()
            .flat_map(|r| {
                r.repositories.iter().map(|x| RepositoryRef {
                    registry: r.name.clone(),
                    repository: x.name.clone(),
                })
            })
            .collect();
        let deletable = world
            .tenants
            .iter()
            .flat_map(|t| {
                t.managed_identities.iter().flat_map(move |m| {
                    m.federated_credentials.iter().map(move |f| {
                        (
                            IdentityRef {
                                tenant: t.name.clone(),
                                name: m.name.clone(),
                                kind: IdentityKind::ManagedIdentity,
                                client_id: m.client_id,
                            },
                            f.name.clone(),
                        )
                    })
                })
            })
            .collect();
        Self {
            world,
            identities,
            shards,
            repos,
            deletable,
        }
    }

    /// The action of step `i`: a kind drawn at random, or another when the world has nothing
    /// that kind can act on.
    fn action(&mut self, rng: &mut StdRng, i: i32) -> Action {
        let world = self.world;
        match rng.gen_range(0..10) {
            0 | 1 if !self.shards.is_empty() => self.request(rng),
            8 if !world.clusters.is_empty() => Action::AddProject {
                cluster: world.clusters.choose(rng).unwrap().name.clone(),
                project: Namespace {
                    name: format!("added-{i}"),
                    service_accounts: vec![ServiceAccount {
                        name: "puller".into(),
                        annotations: [("k".to_owned(), text(rng))].into(),
                        labels: Default::default(),
                    }],
                    pod_service_account: "default".into(),
                },
            },
            9 => self.addition(rng, i),
            2 => Action::Advance(secs(rng)),
            3 if !world.registries.is_empty() && !self.identities.is_empty() => {
                self.role_assignment_change(rng)
            }
            4 if !self.deletable.is_empty() => {
                let k = rng.gen_range(0..self.deletable.len());
                let (identity, name) = self.deletable.swap_remove(k);
                Action::DeleteFederatedCredential { identity, name }
            }
            5 if !self.identities.is_empty() => Action::AddFederatedCredential {
                identity: self.identities.choose(rng).unwrap().0.clone(),
                credential: FederatedCredential {
                    name: format!("added-{i}"),
                    issuer: "https://added.example/".into(),
                    subject: format!("added-{i}"),
                    audiences: vec![EXCHANGE_AUDIENCE.into()],
                    cluster: None,
                    service_account: None,
                    subject_matches_nothing: false,
                },
            },
            6 => self.annotate(rng),
            7 if !world.faults.is_empty() => Action::Fault {
                name: world.faults.choose(rng).unwrap().name.clone(),
                active: rng.gen_bool(0.5),
            },
            _ => match world.clusters.choose(rng) {
                Some(c) => Action::RotateKeys(KeyOwner::Cluster(c.name.clone())),
                None => Action::Advance(secs(rng)),
            },
        }
    }

    /// A tenant with an app, or a managed identity in one of the world's tenants.
    fn addition(&self, rng: &mut StdRng, i: i32) -> Action {
        let name = format!("added-{i}");
        match self.world.tenants.choose(rng) {
            Some(t) if rng.gen_bool(0.5) => Action::AddIdentity {
                tenant: t.name.clone(),
                identity: NewIdentity::ManagedIdentity(ManagedIdentity {
                    client_id: guid::client_id(&t.name, &name),
                    principal_id: guid::principal_id(&t.name, &name),
                    name,
                    federated_credentials: vec![],
                }),
            },
            _ => {
                let tenant = format!("added-tenant-{i}");
                Action::AddTenant(Tenant {
                    id: guid::tenant_id(&tenant),
                    domains: vec![format!("{tenant}.onmicrosoft.com")],
                    apps: vec![App {
                        client_id: guid::client_id(&tenant, "app"),
                        name: "app".into(),
                        secrets: vec![],
                        certificates: vec![],
                        multi_tenant: rng.gen_bool(0.5),
                        federated_credentials: vec![],
                    }],
                    managed_identities: vec![],
                    resources: vec![],
                    name: tenant,
                })
            }
        }
    }

    /// A request on a shard's project, to a registry of the world or a hostile host; a granted
    /// one splits the world's repositories between `unlocks` and `mustNotUnlock`.
    fn request(&self, rng: &mut StdRng) -> Action {
        let shard = self.shards.choose(rng).unwrap();
        let target = match self.world.registries.choose(rng) {
            Some(r) if rng.gen_bool(0.7) => RegistryTarget::Named {
                name: r.name.clone(),
                login_server: r.login_server.clone(),
            },
            _ => RegistryTarget::Host(format!("attacker.example/{}", text(rng))),
        };
        let outcome = *[
            Outcome::Granted,
            Outcome::Anonymous,
            Outcome::Denied,
            Outcome::NotConfigured,
            Outcome::Unavailable,
            Outcome::Unsupported,
        ]
        .choose(rng)
        .unwrap();
        let (unlocks, must_not_unlock) = if outcome == Outcome::Granted && !self.repos.is_empty() {
            let mut shuffled = self.repos.clone();
            shuffled.shuffle(rng);
            let split = rng.gen_range(0..=shuffled.len());
            let rest = shuffled.split_off(split);
            (shuffled, rest)
        } else {
            (vec![], vec![])
        };
        Action::Request(Request {
            shard: shard.name.clone(),
            project: shard.projects.choose(rng).unwrap().name.clone(),
            target,
            repository: "repo-0/app".into(),
            artifact: ArtifactKind::Helm,
            expect: Expect {
                outcome,
                unlocks,
                must_not_unlock,
                error: matches!(outcome, Outcome::Denied).then(|| "AADSTS700213".into()),
            },
        })
    }

    /// A role assignment added or removed on a registry, for a principal that can hold one
    /// there.
    fn role_assignment_change(&self, rng: &mut StdRng) -> Action {
        let r = self.world.registries.choose(rng).unwrap();
        let candidates: Vec<&IdentityRef> = self
            .identities
            .iter()
            .filter(|(id, multi)| id.tenant == r.tenant || *multi)
            .map(|(id, _)| id)
            .collect();
        match candidates.choose(rng) {
            Some(p) if rng.gen_bool(0.5) => Action::AddRoleAssignment {
                registry: r.name.clone(),
                assignment: RoleAssignment {
                    principal: (*p).clone(),
                    role: RegistryRole::AcrPull,
                    condition: None,
                },
            },
            Some(p) => Action::RemoveRoleAssignment {
                registry: r.name.clone(),
                principal: (*p).clone(),
                role: maybe(rng, |_| RegistryRole::AcrPull),
            },
            None => Action::Advance(secs(rng)),
        }
    }

    /// Annotations set and removed on a ServiceAccount; a tenant's keys rotated when there is
    /// no ServiceAccount.
    fn annotate(&self, rng: &mut StdRng) -> Action {
        let with_sa: Vec<(&Cluster, &Namespace, &ServiceAccount)> = self
            .world
            .clusters
            .iter()
            .flat_map(|c| {
                c.all_namespaces()
                    .flat_map(move |n| n.service_accounts.iter().map(move |s| (c, n, s)))
            })
            .collect();
        match with_sa.choose(rng) {
            Some((c, n, s)) => Action::Annotate {
                cluster: c.name.clone(),
                service_account: ServiceAccountRef {
                    namespace: n.name.clone(),
                    name: s.name.clone(),
                },
                annotations: [
                    (
                        "azure.workload.identity/client-id".to_owned(),
                        Some(text(rng)),
                    ),
                    ("removed".to_owned(), None),
                ]
                .into(),
            },
            None => Action::RotateKeys(KeyOwner::Tenant(self.world.tenants[0].name.clone())),
        }
    }
}
