//! `shard-isolation`: a controller on shard X only uses shard X's cluster, issuer and client-ID
//! mapping.
//!
//! Threat: the per-shard mapping ignored (another shard's client ID used); one issuer URL shared
//! by two clusters so their subjects collide. Evidence: the Entra journal (the issuer of every
//! assertion the implementation presented during shard X's requests) and the clusters' audit
//! journals (which cluster each controller talked to).

use scenarios::model::PropertyId;

use super::{PropertyResult, at};
use crate::evidence::Evidence;

pub fn judge(e: &Evidence<'_>) -> PropertyResult {
    let mut examined = 0;
    let mut result = PropertyResult::new(PropertyId::ShardIsolation, String::new());
    for r in &e.requests {
        let Some(cluster) = e.scenario.world.cluster(&r.shard) else {
            continue;
        };
        for t in r.entra_events(e.world) {
            examined += 1;
            if let Some(a) = &t.assertion
                && let Some(iss) = &a.iss
                && iss != &cluster.issuer
                && e.scenario.world.clusters.iter().any(|c| &c.issuer == iss)
            {
                result.fail_at(
                    r,
                    format!(
                        "{}'s implementation presented another cluster's token ({iss})",
                        r.shard
                    ),
                    format!(
                        "{}: assertion from {iss} (sub {}) for client {}",
                        at(r),
                        a.sub.clone().unwrap_or_default(),
                        t.client_id.clone().unwrap_or_default()
                    ),
                );
            }
            // The client ID must be mapped for *this* shard: an identity federated to another
            // shard's issuer and not to this one's belongs to that shard's mapping.
            let federated_on = |client: &str, issuer: &str| {
                e.scenario.world.tenants.iter().any(|tn| {
                    tn.apps
                        .iter()
                        .map(|a| (a.client_id, &a.federated_credentials))
                        .chain(
                            tn.managed_identities
                                .iter()
                                .map(|m| (m.client_id, &m.federated_credentials)),
                        )
                        .any(|(id, fics)| {
                            id.to_string() == client && fics.iter().any(|f| f.issuer == issuer)
                        })
                })
            };
            if let Some(client) = &t.client_id
                && !r.own_client_ids.contains(client)
                && !federated_on(client, &cluster.issuer)
                && let Some(other) = e
                    .scenario
                    .world
                    .clusters
                    .iter()
                    .find(|c| c.name != r.shard && federated_on(client, &c.issuer))
            {
                result.fail_at(
                    r,
                    format!(
                        "{}'s implementation used the client ID mapped for {}",
                        r.shard, other.name
                    ),
                    format!(
                        "{}: client {client} is federated on {}, not {}",
                        at(r),
                        other.name,
                        r.shard
                    ),
                );
            }
        }
    }
    // Which API servers each shard's implementation reached (through the front door, which
    // names the site that answered).
    for (shard, rec) in super::iut_egress(e) {
        if let mock_kit::egress::Outcome::Served { site } = &rec.outcome
            && let Some(other) = site.strip_prefix("k8s/")
        {
            examined += 1;
            if other != shard {
                result.fail(
                    format!("{shard}'s implementation called the API server of {other}"),
                    format!(
                        "{shard}: {} {}{} answered by {site}",
                        rec.method, rec.host, rec.path
                    ),
                );
            }
        }
    }
    if examined == 0 {
        return PropertyResult::not_applicable(
            PropertyId::ShardIsolation,
            "the implementation presented no assertion to Entra and called no API server",
        );
    }
    result.examined = format!("{examined} assertion(s) and API-server call(s)");
    result
}
