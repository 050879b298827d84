//! From the model back to a v1alpha1 file, with every default written out.
//!
//! Used by the round-trip property (`load(render(m)) == m`) and by tools that generate
//! scenarios. References are written in their qualified form (`tenant/name`) so they resolve the
//! same way whatever else the world holds.

use crate::duration::Span;
use crate::located::Located;
use crate::model::{self, IdentityRef};
use crate::v1alpha1 as doc;
use crate::{API_VERSION, KIND};

/// The scenario as a file.
pub fn to_yaml(scenario: &model::Scenario) -> Result<String, serde_saphyr::SerializeError> {
    serde_saphyr::to_string(&to_document(scenario))
}

/// The scenario as a document.
pub fn to_document(s: &model::Scenario) -> doc::Document {
    doc::Document {
        api_version: l(API_VERSION),
        kind: l(KIND),
        metadata: doc::Metadata {
            name: l(&s.name),
            description: s.description.clone(),
            tags: s.tags.clone(),
            references: s.references.clone(),
        },
        world: world(&s.world),
        steps: s.steps.iter().map(|x| Located::new(step(x))).collect(),
        properties: s
            .properties
            .as_ref()
            .map(|p| p.iter().copied().map(Located::new).collect()),
        policy: policy(&s.policy),
    }
}

fn l(s: &str) -> Located<String> {
    Located::new(s.to_owned())
}

fn span(d: std::time::Duration) -> Located<Span> {
    Located::new(Span(d))
}

fn identity(r: &IdentityRef) -> Located<String> {
    Located::new(format!("{}/{}", r.tenant, r.name))
}

fn world(w: &model::World) -> doc::WorldDoc {
    doc::WorldDoc {
        tenants: w.tenants.iter().map(tenant).collect(),
        registries: w.registries.iter().map(registry).collect(),
        clusters: w.clusters.iter().map(cluster).collect(),
        nodes: w
            .nodes
            .iter()
            .map(|n| doc::Node {
                name: l(&n.name),
                tenant: l(&n.tenant),
                cluster: n.cluster.as_deref().map(l),
                system_assigned: n.system_assigned,
                user_assigned: n.user_assigned.iter().map(identity).collect(),
            })
            .collect(),
        faults: w.faults.iter().map(fault).collect(),
        leniency: w.leniency.iter().copied().map(Located::new).collect(),
        options: doc::Options {
            start_time: w.options.start_time.map(|t| Located::new(t.to_string())),
            entra_token_lifetime: w.options.entra_token_lifetime.map(span),
            federated_credential_propagation: Some(span(
                w.options.federated_credential_propagation,
            )),
            acr_refresh_token_lifetime: Some(span(w.options.acr_refresh_token_lifetime)),
            acr_access_token_lifetime: Some(span(w.options.acr_access_token_lifetime)),
        },
    }
}

fn tenant(t: &model::Tenant) -> doc::Tenant {
    doc::Tenant {
        name: l(&t.name),
        id: Some(l(&t.id.to_string())),
        domains: t.domains.clone(),
        apps: t.apps.iter().map(app).collect(),
        managed_identities: t.managed_identities.iter().map(managed_identity).collect(),
        resources: t
            .resources
            .iter()
            .map(|r| doc::Resource {
                uri: l(&r.uri),
                v2: r.v2,
            })
            .collect(),
    }
}

fn app(a: &model::App) -> doc::App {
    doc::App {
        name: l(&a.name),
        client_id: Some(l(&a.client_id.to_string())),
        secrets: a
            .secrets
            .iter()
            .map(|s| doc::AppSecret {
                name: l(&s.name),
                expires_after: s.expires_after.map(span),
            })
            .collect(),
        certificates: a
            .certificates
            .iter()
            .map(|c| doc::AppCertificate { name: l(c) })
            .collect(),
        multi_tenant: a.multi_tenant,
        federated_credentials: a.federated_credentials.iter().map(fic).collect(),
    }
}

fn managed_identity(m: &model::ManagedIdentity) -> doc::ManagedIdentity {
    doc::ManagedIdentity {
        name: l(&m.name),
        client_id: Some(l(&m.client_id.to_string())),
        principal_id: Some(l(&m.principal_id.to_string())),
        federated_credentials: m.federated_credentials.iter().map(fic).collect(),
    }
}

fn fic(f: &model::FederatedCredential) -> doc::FederatedCredential {
    let (issuer, cluster) = match &f.cluster {
        Some(c) => (None, Some(l(c))),
        None => (Some(l(&f.issuer)), None),
    };
    let (subject, service_account) = match &f.service_account {
        Some(sa) => (None, Some(l(&sa.to_string()))),
        None => (Some(l(&f.subject)), None),
    };
    doc::FederatedCredential {
        name: l(&f.name),
        issuer,
        cluster,
        subject,
        service_account,
        audiences: f.audiences.iter().map(|a| l(a)).collect(),
        subject_matches_nothing: f.subject_matches_nothing,
    }
}

fn registry(r: &model::Registry) -> doc::Registry {
    doc::Registry {
        name: l(&r.name),
        tenant: l(&r.tenant),
        auth_mode: r.auth_mode,
        anonymous_pull: r.anonymous_pull,
        admin_user: r.admin_user,
        repositories: r
            .repositories
            .iter()
            .map(|repo| doc::Repository {
                name: l(&repo.name),
                artifacts: repo
                    .artifacts
                    .iter()
                    .map(|a| doc::Artifact {
                        tag: l(&a.tag),
                        kind: a.kind,
                    })
                    .collect(),
            })
            .collect(),
        role_assignments: r
            .role_assignments
            .iter()
            .map(|a| {
                let (repository, repository_prefix) = condition(a);
                doc::RoleAssignment {
                    principal: identity(&a.principal),
                    role: Located::new(a.role),
                    repository,
                    repository_prefix,
                }
            })
            .collect(),
        tokens: r
            .tokens
            .iter()
            .map(|t| doc::RegistryToken {
                name: l(&t.name),
                scope_map: t
                    .scope_map
                    .iter()
                    .map(|(repo, actions)| doc::ScopeMapEntry {
                        repository: l(repo),
                        actions: actions.iter().copied().map(Located::new).collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

type Condition = (Option<Located<String>>, Option<Located<String>>);

fn condition(a: &model::RoleAssignment) -> Condition {
    match &a.condition {
        Some(model::RepoCondition::Name(n)) => (Some(l(n)), None),
        Some(model::RepoCondition::Prefix(p)) => (None, Some(l(p))),
        None => (None, None),
    }
}

fn namespace(n: &model::Namespace) -> doc::Namespace {
    doc::Namespace {
        name: l(&n.name),
        service_accounts: n
            .service_accounts
            .iter()
            .map(|s| doc::ServiceAccount {
                name: l(&s.name),
                annotations: s.annotations.clone(),
                labels: s.labels.clone(),
            })
            .collect(),
        pod_service_account: Some(l(&n.pod_service_account)),
    }
}

fn grant(g: &model::Grant) -> doc::Grant {
    doc::Grant {
        scope: g.scope,
        namespaces: g.namespaces.iter().map(|n| l(n)).collect(),
        service_accounts: g.service_accounts.iter().map(|n| l(n)).collect(),
    }
}

fn cluster(c: &model::Cluster) -> doc::Cluster {
    doc::Cluster {
        name: l(&c.name),
        backend: c.backend,
        kubeconfig: c.kubeconfig.as_deref().map(l),
        issuer: Some(l(&c.issuer)),
        max_token_expiration: Some(span(c.max_token_expiration)),
        projects: c.projects.iter().map(namespace).collect(),
        namespaces: c.namespaces.iter().map(namespace).collect(),
        controller: c.controller.as_ref().map(|ctl| doc::Controller {
            namespace: l(&ctl.namespace),
            service_account: l(&ctl.service_account),
            rbac: doc::ControllerRbac {
                token_request: grant(&ctl.rbac.token_request),
                read_service_accounts: grant(&ctl.rbac.read_service_accounts),
            },
            workload_identity: ctl.workload_identity.as_ref().map(identity),
            client_secret: ctl.client_secret.as_ref().map(identity),
            node: ctl.node.as_deref().map(l),
            env: ctl.env.clone(),
            token_attributes: ctl.token_attributes.as_ref().map(|t| doc::TokenAttributes {
                audience: Some(l(&t.audience)),
                required_annotation_keys: t.required_annotation_keys.clone(),
                optional_annotation_keys: t.optional_annotation_keys.clone(),
            }),
            // A token file exists only with a workload identity.
            token_file: if ctl.workload_identity.is_some() {
                doc::TokenFile {
                    expiration: Some(span(ctl.token_file.expiration)),
                    rotate: Some(Located::new(ctl.token_file.rotate)),
                }
            } else {
                doc::TokenFile::default()
            },
        }),
        objects: c.objects.clone(),
    }
}

fn fault(f: &model::Fault) -> doc::Fault {
    let m = &f.matches;
    let o = |v: &Option<String>| v.as_deref().map(l);
    doc::Fault {
        name: l(&f.name),
        target: Located::new(f.target),
        matches: doc::FaultMatch {
            tenant: o(&m.tenant),
            identity: m.identity.as_ref().map(identity),
            endpoint: o(&m.endpoint),
            registry: o(&m.registry),
            node: o(&m.node),
            cluster: o(&m.cluster),
            method: o(&m.method),
            path_prefix: o(&m.path_prefix),
        },
        answer: match &f.answer {
            model::Answer::Throttle { retry_after } => doc::Answer::Throttle {
                retry_after: span(*retry_after),
            },
            model::Answer::Unavailable { status } => doc::Answer::Unavailable {
                status: Located::new(*status),
            },
            model::Answer::Respond {
                status,
                headers,
                body,
            } => doc::Answer::Respond {
                status: Located::new(*status),
                headers: headers.clone(),
                body: body.clone(),
            },
            model::Answer::Delay(d) => doc::Answer::Delay(span(*d)),
            model::Answer::Drop => doc::Answer::Drop,
            model::Answer::BadCertificate(c) => doc::Answer::BadCertificate(Located::new(*c)),
        },
        times: f.times.map(Located::new),
        active: f.active,
    }
}

fn request(r: &model::Request) -> doc::Request {
    let (registry, host) = match &r.target {
        model::RegistryTarget::Named { name, .. } => (Some(l(name)), None),
        model::RegistryTarget::Host(h) => (None, Some(l(h))),
    };
    let repos = |v: &[model::RepositoryRef]| v.iter().map(|x| l(&x.to_string())).collect();
    doc::Request {
        shard: l(&r.shard),
        project: l(&r.project),
        registry,
        host,
        repository: l(&r.repository),
        artifact: r.artifact,
        expect: doc::Expect {
            outcome: Located::new(r.expect.outcome),
            unlocks: repos(&r.expect.unlocks),
            must_not_unlock: repos(&r.expect.must_not_unlock),
            error: r.expect.error.as_deref().map(l),
        },
    }
}

fn step(s: &model::Step) -> doc::Step {
    match &s.action {
        model::Action::Request(r) => doc::Step::Request(request(r)),
        model::Action::Concurrently(rs) => {
            doc::Step::Concurrently(rs.iter().map(request).collect())
        }
        model::Action::Advance(d) => doc::Step::Advance(span(*d)),
        model::Action::AddRoleAssignment {
            registry,
            assignment,
        } => {
            let (repository, repository_prefix) = condition(assignment);
            doc::Step::AddRoleAssignment(doc::RoleAssignmentChange {
                registry: l(registry),
                principal: identity(&assignment.principal),
                role: Located::new(assignment.role),
                repository,
                repository_prefix,
            })
        }
        model::Action::RemoveRoleAssignment {
            registry,
            principal,
            role,
        } => doc::Step::RemoveRoleAssignment(doc::RoleAssignmentRemoval {
            registry: l(registry),
            principal: identity(principal),
            role: role.map(Located::new),
        }),
        model::Action::AddFederatedCredential {
            identity: who,
            credential,
        } => doc::Step::AddFederatedCredential(doc::FederatedCredentialChange {
            identity: identity(who),
            credential: fic(credential),
        }),
        model::Action::DeleteFederatedCredential {
            identity: who,
            name,
        } => doc::Step::DeleteFederatedCredential(doc::FederatedCredentialRemoval {
            identity: identity(who),
            name: l(name),
        }),
        model::Action::Annotate {
            cluster,
            service_account,
            annotations,
        } => doc::Step::Annotate(doc::Annotate {
            cluster: l(cluster),
            service_account: l(&service_account.to_string()),
            annotations: annotations.clone(),
        }),
        model::Action::RotateKeys(owner) => doc::Step::RotateKeys(match owner {
            model::KeyOwner::Tenant(t) => doc::RotateKeys {
                tenant: Some(l(t)),
                cluster: None,
            },
            model::KeyOwner::Cluster(c) => doc::RotateKeys {
                tenant: None,
                cluster: Some(l(c)),
            },
        }),
        model::Action::Fault { name, active } => doc::Step::Fault(doc::FaultToggle {
            name: l(name),
            active: *active,
        }),
        model::Action::AddTenant(t) => doc::Step::AddTenant(tenant(t)),
        model::Action::AddIdentity {
            tenant,
            identity: who,
        } => doc::Step::AddIdentity(match who {
            model::NewIdentity::App(a) => doc::IdentityAddition {
                tenant: l(tenant),
                app: Some(app(a)),
                managed_identity: None,
            },
            model::NewIdentity::ManagedIdentity(m) => doc::IdentityAddition {
                tenant: l(tenant),
                app: None,
                managed_identity: Some(managed_identity(m)),
            },
        }),
        model::Action::AddProject { cluster, project } => {
            let n = namespace(project);
            doc::Step::AddProject(doc::ProjectAddition {
                cluster: l(cluster),
                name: n.name,
                service_accounts: n.service_accounts,
                pod_service_account: n.pod_service_account,
            })
        }
    }
}

fn policy(p: &model::Policy) -> doc::Policy {
    doc::Policy {
        service_account: p.service_account.as_deref().map(l),
        fallback: doc::Fallback {
            allowed: Located::new(p.fallback.allowed),
            triggers: p
                .fallback
                .triggers
                .iter()
                .copied()
                .map(Located::new)
                .collect(),
        },
        max_credential_lifetime: Some(span(p.max_credential_lifetime)),
        max_service_account_token_lifetime: Some(span(p.max_service_account_token_lifetime)),
        revocation_staleness: Some(span(p.revocation_staleness)),
        token_resources: p
            .token_resources
            .iter()
            .map(|(identity, resources)| doc::TokenResources {
                identity: l(identity),
                resources: resources.iter().map(|r| l(r)).collect(),
            })
            .collect(),
    }
}
