//! Round trip: for random valid scenarios, `load(render(model)) == model`.
//!
//! Scenarios are generated from a seed (proptest draws the seeds), with every kind of world
//! object and step, references that resolve, and free text full of what YAML likes to
//! reinterpret (`null`, `true`, `1.0`, `#`, `: `, quotes, leading spaces, unicode). A failure
//! prints the seed and the rendered file.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use scenarios::model::*;
use uuid::Uuid;

const TRICKY: &[&str] = &[
    "plain",
    "null",
    "~",
    "true",
    "no",
    "1.0",
    "0x1F",
    "  leading and trailing  ",
    "a: b",
    "# not a comment",
    "quote \" and ' both",
    "multi\nline\ntext",
    "tab\there",
    "ünïcödé ✓",
    "",
    "- dash",
    "[brackets]",
    "{braces}",
    "*alias",
    "&anchor",
    "!tag",
    "%percent",
    "@at",
    "`backtick`",
    "2026-11-29T20:00:00Z",
];

fn text(rng: &mut StdRng) -> String {
    TRICKY.choose(rng).unwrap().to_string()
}

fn maybe<T>(rng: &mut StdRng, f: impl FnOnce(&mut StdRng) -> T) -> Option<T> {
    rng.gen_bool(0.5).then(|| f(rng))
}

fn secs(rng: &mut StdRng) -> Duration {
    // Whole seconds, sometimes whole units, never zero.
    let unit = [1, 60, 3600, 86_400].choose(rng).copied().unwrap();
    Duration::from_secs(rng.gen_range(1..100) * unit + rng.gen_range(0..3))
}

fn guid_or_derived(rng: &mut StdRng, derived: Uuid) -> Uuid {
    if rng.gen_bool(0.3) {
        Uuid::from_u128(rng.r#gen())
    } else {
        derived
    }
}

fn map(rng: &mut StdRng, prefix: &str) -> BTreeMap<String, String> {
    (0..rng.gen_range(0..3))
        .map(|i| (format!("{prefix}/k{i}"), text(rng)))
        .collect()
}

/// A random valid scenario.
fn scenario(seed: u64) -> Scenario {
    let rng = &mut StdRng::seed_from_u64(seed);
    // Clusters first: federated credentials refer to their ServiceAccounts.
    let mut clusters: Vec<Cluster> = (0..rng.gen_range(0..3))
        .map(|c| {
            let name = format!("cluster-{c}");
            let ns = |rng: &mut StdRng, n: String| Namespace {
                name: n,
                service_accounts: (0..rng.gen_range(0..3))
                    .map(|s| ServiceAccount {
                        name: format!("sa-{s}"),
                        annotations: map(rng, "azure.workload.identity"),
                        labels: map(rng, "example.com"),
                    })
                    .collect(),
                pod_service_account: if rng.gen_bool(0.5) {
                    "default".into()
                } else {
                    "runner".into()
                },
            };
            Cluster {
                issuer: if rng.gen_bool(0.7) {
                    format!("https://oidc.{name}.credsim.test/")
                } else {
                    format!("https://issuer-{c}.example/")
                },
                backend: *[Backend::Embedded, Backend::Kind, Backend::Kubeconfig]
                    .choose(rng)
                    .unwrap(),
                kubeconfig: None,
                max_token_expiration: secs(rng),
                projects: (0..rng.gen_range(0..3))
                    .map(|p| ns(rng, format!("project-{p}")))
                    .collect(),
                namespaces: (0..rng.gen_range(0..2))
                    .map(|p| ns(rng, format!("other-{p}")))
                    .collect(),
                controller: None,
                objects: if rng.gen_bool(0.3) {
                    vec![serde_json::json!({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": "s", "namespace": "other-0"}, "stringData": {"k": text(rng)}})]
                } else {
                    vec![]
                },
                name,
            }
        })
        .collect();
    for c in &mut clusters {
        if c.backend == Backend::Kubeconfig {
            c.kubeconfig = Some(format!("{}.kubeconfig", c.name));
        }
    }
    let sas: Vec<(String, ServiceAccountRef)> = clusters
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
    let issuer_of = |clusters: &[Cluster], name: &str| {
        clusters
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .issuer
            .clone()
    };
    let mut fic_counter = 0;
    let mut fics = |rng: &mut StdRng| -> Vec<FederatedCredential> {
        let mut out = Vec::new();
        for _ in 0..rng.gen_range(0..4) {
            fic_counter += 1;
            let name = format!("fic-{fic_counter}");
            let audiences = vec![if rng.gen_bool(0.8) {
                EXCHANGE_AUDIENCE.to_owned()
            } else {
                "api://custom".to_owned()
            }];
            if !sas.is_empty() && rng.gen_bool(0.6) {
                let (cluster, sa) = sas.choose(rng).unwrap().clone();
                if out.iter().any(|f: &FederatedCredential| {
                    f.subject == sa.subject() && f.cluster.as_deref() == Some(&cluster)
                }) {
                    continue;
                }
                out.push(FederatedCredential {
                    name,
                    issuer: issuer_of(&clusters, &cluster),
                    subject: sa.subject(),
                    audiences,
                    cluster: Some(cluster),
                    service_account: Some(sa),
                    subject_matches_nothing: false,
                });
            } else {
                out.push(FederatedCredential {
                    name,
                    issuer: format!("https://token.{fic_counter}.example/"),
                    subject: format!("repo:org/{}:ref", text(rng)),
                    audiences,
                    cluster: None,
                    service_account: None,
                    subject_matches_nothing: false,
                });
            }
        }
        out
    };
    let tenants: Vec<Tenant> = (0..rng.gen_range(1..4))
        .map(|t| {
            let name = format!("tenant-{t}");
            Tenant {
                id: guid_or_derived(rng, guid::tenant_id(&name)),
                domains: if rng.gen_bool(0.5) {
                    vec![format!("{name}.onmicrosoft.com")]
                } else {
                    vec![format!("{name}.example"), format!("{name}.test")]
                },
                apps: (0..rng.gen_range(0..3))
                    .map(|a| {
                        let app = format!("app-{a}");
                        App {
                            client_id: guid_or_derived(rng, guid::client_id(&name, &app)),
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
                            federated_credentials: fics(rng),
                            name: app,
                        }
                    })
                    .collect(),
                managed_identities: (0..rng.gen_range(0..4))
                    .map(|m| {
                        let mi = format!("mi-{m}");
                        ManagedIdentity {
                            client_id: guid_or_derived(rng, guid::client_id(&name, &mi)),
                            principal_id: guid_or_derived(rng, guid::principal_id(&name, &mi)),
                            federated_credentials: fics(rng),
                            name: mi,
                        }
                    })
                    .collect(),
                resources: (0..rng.gen_range(0..2))
                    .map(|r| Resource {
                        uri: format!("api://resource-{r}"),
                        v2: rng.gen_bool(0.5),
                    })
                    .collect(),
                name,
            }
        })
        .collect();
    let apps_with_secrets: Vec<IdentityRef> = tenants
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
        .collect();
    let identities: Vec<(IdentityRef, bool)> = tenants
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
        .collect();
    // Random GUIDs can collide with nothing, derived ones are unique by name: all distinct.
    let nodes: Vec<Node> = (0..rng.gen_range(0..3))
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
        .collect();
    let roles = [
        RegistryRole::AcrPull,
        RegistryRole::AcrPush,
        RegistryRole::Reader,
        RegistryRole::RepositoryReader,
        RegistryRole::RepositoryWriter,
        RegistryRole::CatalogLister,
    ];
    let assignment = |rng: &mut StdRng, tenant: &str, mode: AuthMode| {
        let candidates: Vec<&IdentityRef> = identities
            .iter()
            .filter(|(i, multi)| i.tenant == tenant || *multi)
            .map(|(i, _)| i)
            .collect();
        let principal = (*candidates.choose(rng)?).clone();
        let role = *roles.choose(rng).unwrap();
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
    };
    let registries: Vec<Registry> = (0..rng.gen_range(0..3))
        .map(|r| {
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
                    .map(|i| Repository {
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
                    })
                    .collect(),
                role_assignments: (0..rng.gen_range(0..3))
                    .filter_map(|_| assignment(rng, &tenant, auth_mode))
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
        })
        .collect();
    // Controllers last: they refer to identities and nodes.
    for c in &mut clusters {
        if rng.gen_bool(0.7) {
            // `scope: namespaces` may name only namespaces the cluster has (the controller's own
            // always exists).
            let existing: Vec<String> = c
                .all_namespaces()
                .map(|n| n.name.clone())
                .chain(["controller".to_owned()])
                .collect();
            let grant = |rng: &mut StdRng| match rng.gen_range(0..3) {
                0 => Grant::default(),
                1 => Grant {
                    scope: TokenScope::Cluster,
                    namespaces: vec![],
                    service_accounts: vec!["credentials".into()],
                },
                _ => Grant {
                    scope: TokenScope::Namespaces,
                    namespaces: existing
                        .iter()
                        .filter(|_| rng.gen_bool(0.7))
                        .cloned()
                        .chain(["controller".to_owned()])
                        .collect(),
                    service_accounts: vec![],
                },
            };
            let mut controller = Controller {
                namespace: "controller".into(),
                service_account: "controller".into(),
                rbac: ControllerRbac {
                    token_request: grant(rng),
                    read_service_accounts: grant(rng),
                },
                workload_identity: identities.choose(rng).map(|(i, _)| i.clone()),
                client_secret: None,
                node: nodes.choose(rng).map(|n| n.name.clone()),
                env: (0..rng.gen_range(0..3))
                    .map(|i| (format!("SETTING_{i}"), text(rng)))
                    .collect(),
                token_attributes: maybe(rng, |rng| TokenAttributes {
                    audience: EXCHANGE_AUDIENCE.into(),
                    required_annotation_keys: vec!["azure.workload.identity/client-id".into()],
                    optional_annotation_keys: if rng.gen_bool(0.5) {
                        vec!["azure.workload.identity/tenant-id".into()]
                    } else {
                        vec![]
                    },
                }),
                token_file: TokenFile {
                    expiration: Duration::from_secs(600 + rng.gen_range(0..100_000)),
                    rotate: rng.gen_bool(0.7),
                },
            };
            // A token file exists only with a workload identity; without one, the controller
            // may be installed with an app's client secret.
            if controller.workload_identity.is_none() {
                controller.token_file = TokenFile::default();
                controller.client_secret = apps_with_secrets.choose(rng).cloned();
            }
            c.controller = Some(controller);
        }
    }
    let faults: Vec<Fault> = (0..rng.gen_range(0..3))
        .map(|f| {
            let target = *[
                FaultTarget::Entra,
                FaultTarget::Imds,
                FaultTarget::Acr,
                FaultTarget::Cluster,
            ]
            .choose(rng)
            .unwrap();
            let mut matches = FaultMatch {
                method: maybe(rng, |_| "POST".to_owned()),
                path_prefix: maybe(rng, |_| "/oauth2".to_owned()),
                ..FaultMatch::default()
            };
            match target {
                FaultTarget::Entra => {
                    matches.tenant = maybe(rng, |rng| tenants.choose(rng).unwrap().name.clone());
                    matches.identity = identities.choose(rng).map(|(i, _)| i.clone());
                    matches.endpoint = maybe(rng, |_| "token".to_owned());
                }
                FaultTarget::Imds => {
                    matches.node = nodes.choose(rng).map(|n| n.name.clone());
                    matches.endpoint = maybe(rng, |_| "instance".to_owned());
                }
                FaultTarget::Acr => {
                    matches.registry = registries.choose(rng).map(|r| r.name.clone())
                }
                FaultTarget::Cluster => {
                    matches.cluster = clusters.choose(rng).map(|c| c.name.clone())
                }
            }
            Fault {
                name: format!("fault-{f}"),
                target,
                matches,
                answer: match rng.gen_range(0..5) {
                    0 => Answer::Throttle {
                        retry_after: secs(rng),
                    },
                    1 => Answer::Unavailable {
                        status: rng.gen_range(500..600),
                    },
                    2 => Answer::Respond {
                        status: rng.gen_range(100..600),
                        headers: map(rng, "x-header"),
                        body: text(rng),
                    },
                    3 => Answer::Delay(secs(rng)),
                    _ => Answer::Drop,
                },
                times: maybe(rng, |rng| rng.gen_range(1..10)),
                active: rng.gen_bool(0.5),
            }
        })
        .collect();
    let world = World {
        tenants,
        registries,
        clusters,
        nodes,
        faults,
        leniency: [
            Leniency::InstantFederatedCredentialPropagation,
            Leniency::TolerateClockSkew,
        ]
        .into_iter()
        .filter(|_| rng.gen_bool(0.3))
        .collect(),
        options: Options {
            start_time: maybe(rng, |rng| {
                jiff::Timestamp::from_second(rng.gen_range(1_700_000_000..1_900_000_000)).unwrap()
            }),
            entra_token_lifetime: maybe(rng, secs),
            federated_credential_propagation: secs(rng),
            acr_refresh_token_lifetime: secs(rng),
            acr_access_token_lifetime: secs(rng),
        },
    };
    let steps = steps(rng, &world, &identities);
    let outcomes = [
        Outcome::Denied,
        Outcome::NotConfigured,
        Outcome::Unavailable,
    ];
    let allowed = rng.gen_bool(0.5);
    Scenario {
        name: format!("generated-{seed}"),
        name_at: scenarios::located::Pos::UNKNOWN,
        description: maybe(rng, text),
        tags: (0..rng.gen_range(0..3)).map(|_| text(rng)).collect(),
        references: (0..rng.gen_range(0..2)).map(|_| text(rng)).collect(),
        file: "generated.yaml".into(),
        steps,
        properties: maybe(rng, |rng| {
            let mut p: Vec<PropertyId> = PropertyId::ALL
                .into_iter()
                .filter(|_| rng.gen_bool(0.5))
                .collect();
            p.shuffle(rng);
            p
        }),
        policy: Policy {
            service_account: maybe(rng, |_| "credentials".to_owned()),
            fallback: Fallback {
                allowed,
                triggers: if allowed {
                    vec![*outcomes.choose(rng).unwrap()]
                } else {
                    vec![]
                },
            },
            max_credential_lifetime: secs(rng),
            max_service_account_token_lifetime: secs(rng),
            revocation_staleness: Duration::from_secs(rng.gen_range(0..600)),
            token_resources: identities
                .iter()
                .filter(|_| rng.gen_bool(0.3))
                .map(|(id, _)| {
                    (
                        id.name.clone(),
                        vec!["https://management.azure.com".to_owned()],
                    )
                })
                .collect(),
        },
        world,
    }
}

fn steps(rng: &mut StdRng, world: &World, identities: &[(IdentityRef, bool)]) -> Vec<Step> {
    let shards: Vec<&Cluster> = world
        .clusters
        .iter()
        .filter(|c| c.controller.is_some() && !c.projects.is_empty())
        .collect();
    let repos: Vec<RepositoryRef> = world
        .registries
        .iter()
        .flat_map(|r| {
            r.repositories.iter().map(|x| RepositoryRef {
                registry: r.name.clone(),
                repository: x.name.clone(),
            })
        })
        .collect();
    // Federated credentials that exist, to delete each at most once.
    let mut deletable: Vec<(IdentityRef, String)> = world
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
    let mut out = Vec::new();
    for i in 0..rng.gen_range(0..8) {
        let action = match rng.gen_range(0..8) {
            0 | 1 if !shards.is_empty() => {
                let shard = shards.choose(rng).unwrap();
                let target = match world.registries.choose(rng) {
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
                let (unlocks, must_not_unlock) = if outcome == Outcome::Granted && !repos.is_empty()
                {
                    let mut shuffled = repos.clone();
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
            2 => Action::Advance(secs(rng)),
            3 if !world.registries.is_empty() && !identities.is_empty() => {
                let r = world.registries.choose(rng).unwrap();
                let candidates: Vec<&IdentityRef> = identities
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
            4 if !deletable.is_empty() => {
                let k = rng.gen_range(0..deletable.len());
                let (identity, name) = deletable.swap_remove(k);
                Action::DeleteFederatedCredential { identity, name }
            }
            5 if !identities.is_empty() => Action::AddFederatedCredential {
                identity: identities.choose(rng).unwrap().0.clone(),
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
            6 => {
                let with_sa: Vec<(&Cluster, &Namespace, &ServiceAccount)> = world
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
                    None => Action::RotateKeys(KeyOwner::Tenant(world.tenants[0].name.clone())),
                }
            }
            7 if !world.faults.is_empty() => Action::Fault {
                name: world.faults.choose(rng).unwrap().name.clone(),
                active: rng.gen_bool(0.5),
            },
            _ => match world.clusters.choose(rng) {
                Some(c) => Action::RotateKeys(KeyOwner::Cluster(c.name.clone())),
                None => Action::Advance(secs(rng)),
            },
        };
        // Now and then, a request joins the one before it in a `concurrently` step.
        let action = match (out.last_mut(), action) {
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
                continue;
            }
            (_, action) => action,
        };
        out.push(Step {
            at: scenarios::located::Pos::UNKNOWN,
            action,
        });
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn render_then_load_is_the_identity(seed in any::<u64>()) {
        let model = scenario(seed);
        let yaml = scenarios::render::to_yaml(&model).expect("renders");
        let loaded = match scenarios::load_str("generated.yaml", &yaml) {
            Ok(l) => l.scenario,
            Err(e) => panic!("seed {seed}: the rendered file does not load:\n{e}\n---\n{yaml}"),
        };
        prop_assert_eq!(&loaded, &model, "seed {}:\n{}", seed, yaml);
    }
}

#[test]
fn the_generator_covers_every_step_kind_and_world_object() {
    // Guards the round trip against a generator that quietly stopped producing something.
    let mut kinds = std::collections::HashSet::new();
    let (mut faults, mut nodes, mut tokens, mut fics, mut conditions) = (0, 0, 0, 0, 0);
    for seed in 0..300 {
        let s = scenario(seed);
        for step in &s.steps {
            kinds.insert(std::mem::discriminant(&step.action));
        }
        faults += s.world.faults.len();
        nodes += s.world.nodes.len();
        tokens += s
            .world
            .registries
            .iter()
            .map(|r| r.tokens.len())
            .sum::<usize>();
        conditions += s
            .world
            .registries
            .iter()
            .flat_map(|r| &r.role_assignments)
            .filter(|a| a.condition.is_some())
            .count();
        fics += s
            .world
            .tenants
            .iter()
            .flat_map(|t| &t.managed_identities)
            .filter(|m| {
                m.federated_credentials
                    .iter()
                    .any(|f| f.service_account.is_some())
            })
            .count();
    }
    assert_eq!(kinds.len(), 10, "every step kind is generated");
    assert!(faults > 0 && nodes > 0 && tokens > 0 && fics > 0 && conditions > 0);
}
