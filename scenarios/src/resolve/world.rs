//! The world as a whole: names unique per kind of object, client IDs unique across tenants,
//! leniency and options; each kind of object is resolved by its own part.

use std::collections::HashMap;

use uuid::Uuid;

use crate::located::{Located, Pos};
use crate::model;
use crate::v1alpha1 as doc;

use super::context::Cx;

impl Cx<'_> {
    pub(super) fn world(&mut self) -> model::World {
        let w = &self.doc.world;
        self.unique_world_names(w);
        let tenants = w
            .tenants
            .iter()
            .enumerate()
            .map(|(i, t)| self.tenant(&format!("world.tenants[{i}]"), t))
            .collect();
        self.unique_client_ids();
        self.unique_tenant_ids(w);
        let registries = w
            .registries
            .iter()
            .enumerate()
            .map(|(i, r)| self.registry(i, r))
            .collect();
        let clusters = w
            .clusters
            .iter()
            .enumerate()
            .map(|(i, c)| self.cluster(i, c))
            .collect();
        let nodes = w
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| self.node(i, n))
            .collect();
        let faults = w
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| self.fault(i, f))
            .collect();
        let leniency = self.leniency(&w.leniency);
        let options = self.options(&w.options);
        model::World {
            tenants,
            registries,
            clusters,
            nodes,
            faults,
            leniency,
            options,
        }
    }

    /// Tenants, registries, clusters, nodes and faults: each name once per kind.
    fn unique_world_names(&mut self, w: &doc::WorldDoc) {
        self.unique(
            "tenant",
            w.tenants
                .iter()
                .enumerate()
                .map(|(i, t)| (&t.name, format!("world.tenants[{i}].name"))),
        );
        self.unique(
            "registry",
            w.registries
                .iter()
                .enumerate()
                .map(|(i, r)| (&r.name, format!("world.registries[{i}].name"))),
        );
        self.unique(
            "cluster",
            w.clusters
                .iter()
                .enumerate()
                .map(|(i, c)| (&c.name, format!("world.clusters[{i}].name"))),
        );
        self.unique(
            "node",
            w.nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (&n.name, format!("world.nodes[{i}].name"))),
        );
        self.unique(
            "fault",
            w.faults
                .iter()
                .enumerate()
                .map(|(i, f)| (&f.name, format!("world.faults[{i}].name"))),
        );
    }

    /// Client IDs, given or derived, belong to one identity each.
    fn unique_client_ids(&mut self) {
        let mut seen: HashMap<Uuid, (String, String)> = HashMap::new();
        let mut clashes = Vec::new();
        for e in &self.identities {
            if let Some((t, n)) = seen.get(&e.client_id) {
                if *t == e.tenant && *n == e.name {
                    continue; // a duplicate name, reported as such
                }
                clashes.push((e.tenant.clone(), e.name.clone(), t.clone(), n.clone()));
            } else {
                seen.insert(e.client_id, (e.tenant.clone(), e.name.clone()));
            }
        }
        for (tenant, name, t, n) in clashes {
            let at = self.identity_pos(&tenant, &name);
            self.error(
                at,
                format!("identity {tenant}/{name}"),
                format!("client ID of `{tenant}/{name}` is also the client ID of `{t}/{n}`"),
            );
        }
    }

    /// Tenant IDs, given or derived, belong to one tenant each (Entra's are unique, and a fake
    /// with two would answer `/{tenant-id}/` for either).
    fn unique_tenant_ids(&mut self, w: &doc::WorldDoc) {
        let mut clashes = Vec::new();
        for (i, (e, t)) in self.tenants.iter().zip(&w.tenants).enumerate() {
            let first = self.tenants[..i]
                .iter()
                .find(|o| o.id == e.id && o.name != e.name);
            if let Some(first) = first {
                let at = t.id.as_ref().map_or(t.name.at, |x| x.at);
                clashes.push((
                    at,
                    format!("world.tenants[{i}].id"),
                    format!("the tenant ID {} is tenant `{}`'s", e.id, first.name),
                ));
            }
        }
        for (at, path, message) in clashes {
            self.error(at, path, message);
        }
    }

    /// Where the identity `tenant/name` is named.
    fn identity_pos(&self, tenant: &str, name: &str) -> Pos {
        self.doc
            .world
            .tenants
            .iter()
            .filter(|t| t.name.value == tenant)
            .flat_map(|t| {
                t.apps
                    .iter()
                    .map(|a| &a.name)
                    .chain(t.managed_identities.iter().map(|m| &m.name))
            })
            .find(|n| n.value == name)
            .map_or(Pos::UNKNOWN, |n| n.at)
    }

    fn leniency(&mut self, given: &[Located<model::Leniency>]) -> Vec<model::Leniency> {
        let mut leniency = Vec::new();
        for (i, l) in given.iter().enumerate() {
            if leniency.contains(&l.value) {
                self.error(
                    l.at,
                    format!("world.leniency[{i}]"),
                    "this leniency is listed twice",
                );
            } else {
                leniency.push(l.value);
            }
        }
        leniency
    }

    fn options(&mut self, o: &doc::Options) -> model::Options {
        let defaults = model::Options::default();
        let start_time = o
            .start_time
            .as_ref()
            .and_then(|s| match s.parse::<jiff::Timestamp>() {
                Ok(t) => Some(t),
                Err(_) => {
                    self.error(
                        s.at,
                        "world.options.startTime",
                        format!(
                            "`{}` is not an RFC 3339 time (e.g. `2026-11-29T20:00:00Z`)",
                            s.value
                        ),
                    );
                    None
                }
            });
        let span =
            |v: &Option<Located<crate::duration::Span>>, d| v.as_ref().map_or(d, |s| s.value.0);
        model::Options {
            start_time,
            entra_token_lifetime: o.entra_token_lifetime.as_ref().map(|s| s.value.0),
            federated_credential_propagation: span(
                &o.federated_credential_propagation,
                defaults.federated_credential_propagation,
            ),
            acr_refresh_token_lifetime: span(
                &o.acr_refresh_token_lifetime,
                defaults.acr_refresh_token_lifetime,
            ),
            acr_access_token_lifetime: span(
                &o.acr_access_token_lifetime,
                defaults.acr_access_token_lifetime,
            ),
        }
    }
}
