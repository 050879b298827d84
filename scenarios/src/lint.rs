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
use crate::located::Pos;
use crate::model;
use crate::v1alpha1 as doc;

/// The warnings for a resolved scenario (`doc` supplies the positions).
pub fn lint(file: &str, doc: &doc::Document, scenario: &model::Scenario) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let world = &scenario.world;
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
    for (ti, t) in world.tenants.iter().enumerate() {
        let dt = &doc.world.tenants[ti];
        let identities = t
            .apps
            .iter()
            .enumerate()
            .map(|(j, a)| {
                (
                    &a.name,
                    &a.federated_credentials,
                    &dt.apps[j].name,
                    &dt.apps[j].federated_credentials,
                    format!("world.tenants[{ti}].apps[{j}]"),
                )
            })
            .chain(t.managed_identities.iter().enumerate().map(|(j, m)| {
                (
                    &m.name,
                    &m.federated_credentials,
                    &dt.managed_identities[j].name,
                    &dt.managed_identities[j].federated_credentials,
                    format!("world.tenants[{ti}].managedIdentities[{j}]"),
                )
            }));
        for (name, fics, doc_name, doc_fics, path) in identities {
            let projects = federated_projects(world, fics);
            // The same project on several shards is one project.
            let distinct: BTreeSet<&String> = projects.iter().map(|(_, ns, _)| ns).collect();
            if distinct.len() > 1 {
                let list: Vec<String> = projects
                    .iter()
                    .map(|(c, ns, sa)| format!("{c}:{ns}/{sa}"))
                    .collect();
                out.push(
                    Diagnostic::warning(
                        file,
                        doc_name.at,
                        format!(
                            "`{}/{name}` is federated to the ServiceAccounts of {} projects ({}): each of them can act as it, so it isolates none of them",
                            t.name,
                            distinct.len(),
                            list.join(", ")
                        ),
                    )
                    .path(path.clone()),
                );
            }
            for (k, f) in fics.iter().enumerate() {
                for (cluster, ctl) in scenario.shards() {
                    let own = ctl
                        .workload_identity
                        .as_ref()
                        .is_some_and(|w| w.tenant == t.name && &w.name == name);
                    if f.issuer == cluster.issuer
                        && f.subject == ctl.service_account_ref().subject()
                        && !own
                    {
                        out.push(
                            Diagnostic::warning(
                                file,
                                doc_fics.get(k).map_or(Pos::UNKNOWN, |f| f.name.at),
                                format!(
                                    "federated credential `{}` of `{}/{name}` trusts the controller ServiceAccount `{}` of shard `{}`: the controller can act as `{name}` for every project",
                                    f.name,
                                    t.name,
                                    ctl.service_account_ref(),
                                    cluster.name
                                ),
                            )
                            .path(format!("{path}.federatedCredentials[{k}]")),
                        );
                    }
                }
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
