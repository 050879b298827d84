//! World lints: legal worlds that are probably wrong, reported as warnings and never fixed.
//!
//! - two clusters with the same issuer URL (their ServiceAccount subjects collide, so a
//!   federated credential for one trusts the other);
//! - one identity federated to the ServiceAccounts of several projects (whoever holds any of
//!   them acts as that identity: "holding it wrong");
//! - a federated credential that trusts a controller's own ServiceAccount, other than the
//!   controller's declared workload identity (the controller could act as that identity for
//!   every project).
//!
//! What Entra refuses (more than 20 federated credentials on one identity among it) is an error,
//! not a lint: see [`crate::resolve`], which also warns of the one refusal a step may mean (a
//! 21st credential added at run time).

use std::collections::BTreeSet;

use crate::diagnostic::Diagnostic;
use crate::located::{Located, Pos};
use crate::model;
use crate::v1alpha1 as doc;

/// The warnings for a resolved scenario (`doc` supplies the positions).
pub fn lint(file: &str, doc: &doc::Document, scenario: &model::Scenario) -> Vec<Diagnostic> {
    let mut out = shared_issuers(file, doc, &scenario.world);
    for identity in federated_identities(doc, &scenario.world) {
        if let Some(d) = federated_to_several_projects(file, &scenario.world, &identity) {
            out.push(d);
        }
        out.extend(trusts_a_controller(file, scenario, &identity));
    }
    out
}

/// An app or managed identity with its federated credentials, as resolved and as written.
struct Identity<'a> {
    tenant: &'a str,
    name: &'a str,
    fics: &'a [model::FederatedCredential],
    doc_name: &'a Located<String>,
    doc_fics: &'a [doc::FederatedCredential],
    /// Its field path (`world.tenants[0].apps[1]`).
    path: String,
}

/// Two clusters with the same issuer, at the second.
fn shared_issuers(file: &str, doc: &doc::Document, world: &model::World) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (i, c) in world.clusters.iter().enumerate() {
        if let Some(first) = world.clusters[..i].iter().find(|o| o.issuer == c.issuer) {
            let d = &doc.world.clusters[i];
            let at = d.issuer.as_ref().map_or(d.name.at, |x| x.at);
            out.push(
                Diagnostic::warning(
                    file,
                    at,
                    format!(
                        "clusters `{}` and `{}` share the issuer `{}`: a ServiceAccount subject of one is the same subject on the other, so federated credentials trust both",
                        first.name, c.name, c.issuer
                    ),
                )
                .path(format!("world.clusters[{i}].issuer")),
            );
        }
    }
    out
}

/// Every app and managed identity of the world, tenant by tenant.
fn federated_identities<'a>(
    doc: &'a doc::Document,
    world: &'a model::World,
) -> impl Iterator<Item = Identity<'a>> {
    world.tenants.iter().enumerate().flat_map(move |(ti, t)| {
        let dt = &doc.world.tenants[ti];
        let apps = t.apps.iter().enumerate().map(move |(j, a)| Identity {
            tenant: &t.name,
            name: &a.name,
            fics: &a.federated_credentials,
            doc_name: &dt.apps[j].name,
            doc_fics: &dt.apps[j].federated_credentials,
            path: format!("world.tenants[{ti}].apps[{j}]"),
        });
        let managed = t
            .managed_identities
            .iter()
            .enumerate()
            .map(move |(j, m)| Identity {
                tenant: &t.name,
                name: &m.name,
                fics: &m.federated_credentials,
                doc_name: &dt.managed_identities[j].name,
                doc_fics: &dt.managed_identities[j].federated_credentials,
                path: format!("world.tenants[{ti}].managedIdentities[{j}]"),
            });
        apps.chain(managed)
    })
}

/// An identity federated to the ServiceAccounts of several projects ("holding it wrong").
fn federated_to_several_projects(
    file: &str,
    world: &model::World,
    identity: &Identity<'_>,
) -> Option<Diagnostic> {
    let projects = federated_projects(world, identity.fics);
    // The same project on several shards is one project.
    let distinct: BTreeSet<&String> = projects.iter().map(|(_, ns, _)| ns).collect();
    if distinct.len() <= 1 {
        return None;
    }
    let list: Vec<String> = projects
        .iter()
        .map(|(c, ns, sa)| format!("{c}:{ns}/{sa}"))
        .collect();
    Some(
        Diagnostic::warning(
            file,
            identity.doc_name.at,
            format!(
                "`{}/{}` is federated to the ServiceAccounts of {} projects ({}): each of them can act as it, so it isolates none of them",
                identity.tenant,
                identity.name,
                distinct.len(),
                list.join(", ")
            ),
        )
        .path(identity.path.clone()),
    )
}

/// Each credential of the identity that trusts a shard's controller ServiceAccount, unless the
/// identity is that controller's own workload identity.
fn trusts_a_controller(
    file: &str,
    scenario: &model::Scenario,
    identity: &Identity<'_>,
) -> Vec<Diagnostic> {
    let (tenant, name) = (identity.tenant, identity.name);
    let mut out = Vec::new();
    for (k, f) in identity.fics.iter().enumerate() {
        for (cluster, ctl) in scenario.shards() {
            let own = ctl
                .workload_identity
                .as_ref()
                .is_some_and(|w| w.tenant == tenant && w.name == name);
            if f.issuer == cluster.issuer
                && f.subject == ctl.service_account_ref().subject()
                && !own
            {
                out.push(
                    Diagnostic::warning(
                        file,
                        identity.doc_fics.get(k).map_or(Pos::UNKNOWN, |f| f.name.at),
                        format!(
                            "federated credential `{}` of `{tenant}/{name}` trusts the controller ServiceAccount `{}` of shard `{}`: the controller can act as `{name}` for every project",
                            f.name,
                            ctl.service_account_ref(),
                            cluster.name
                        ),
                    )
                    .path(format!("{}.federatedCredentials[{k}]", identity.path)),
                );
            }
        }
    }
    out
}

/// The (cluster, project, ServiceAccount) triples a set of federated credentials trusts.
fn federated_projects(
    world: &model::World,
    fics: &[model::FederatedCredential],
) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for f in fics {
        let Some((ns, sa)) = f
            .subject
            .strip_prefix("system:serviceaccount:")
            .and_then(|r| r.split_once(':'))
        else {
            continue;
        };
        for c in world.clusters.iter().filter(|c| c.issuer == f.issuer) {
            if c.project(ns).is_some() {
                out.insert((c.name.clone(), ns.to_owned(), sa.to_owned()));
            }
        }
    }
    out
}
