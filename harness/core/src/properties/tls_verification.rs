//! `tls-verification`: no secret is sent over, and no credential returned after, a TLS
//! connection whose certificate the implementation should have refused.
//!
//! Threat: certificate verification turned off (`verify=False`, `InsecureSkipVerify`,
//! `danger_accept_invalid_certs`), which hands every token to whoever sits on the path. Modelled
//! on the OpenID conformance suite's "wrong key" modules: a scenario's certificate fault makes the
//! front door present, on the implementation's next connection(s) to Entra or a registry, a
//! certificate signed by an untrusted issuer, for another host, or expired; the valid path must
//! still work in the same scenario. Evidence: the egress record, which marks every connection
//! served with a flawed certificate: refused by the client (a failed handshake), or accepted,
//! with every request sent over it and the secrets it carried.

use mock_kit::egress::{Outcome, Refusal};
use scenarios::model::PropertyId;

use super::{PropertyResult, at};
use crate::evidence::Evidence;

pub fn judge(e: &Evidence<'_>) -> PropertyResult {
    let records = e.world.cloud.door.egress().snapshot();
    let trapped: Vec<(usize, &mock_kit::EgressRecord)> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.certificate.is_some()
                && r.client
                    .label
                    .as_deref()
                    .is_some_and(|l| l.starts_with("iut/"))
        })
        .collect();
    if trapped.is_empty() {
        return PropertyResult::not_applicable(
            PropertyId::TlsVerification,
            "no connection of the implementation was served a flawed certificate (no certificate fault, or it was never reached)",
        );
    }
    let refused = |r: &mock_kit::EgressRecord| {
        matches!(
            r.outcome,
            Outcome::Refused {
                reason: Refusal::TlsHandshakeFailed
            }
        )
    };
    let accepted: Vec<_> = trapped.iter().filter(|(_, r)| !refused(r)).collect();
    let mut result = PropertyResult::new(
        PropertyId::TlsVerification,
        format!(
            "{} connection(s) presented a flawed certificate: {} refused by the implementation, {} request(s) sent over accepted ones",
            trapped.iter().filter(|(_, r)| refused(r)).count() + accepted_connections(&accepted),
            trapped.iter().filter(|(_, r)| refused(r)).count(),
            accepted.len()
        ),
    );
    for (_, r) in &accepted {
        let flaw = r.certificate.map_or("", |c| c.describe());
        let shard = r
            .client
            .label
            .as_deref()
            .and_then(|l| l.strip_prefix("iut/"))
            .unwrap_or("?");
        let carried: Vec<String> = r
            .secrets
            .iter()
            .map(|s| format!("{} {}", s.kind, s.fingerprint.as_str()))
            .collect();
        result.fail(
            format!("{shard} accepted a certificate {flaw} and sent requests over it"),
            format!(
                "{shard}: {} https://{}{} over a connection with a certificate {flaw}, carrying [{}]",
                r.method,
                r.host,
                r.path,
                carried.join(", ")
            ),
        );
    }
    for req in &e.requests {
        if req.credential().is_none() {
            continue;
        }
        let (from, to) = req.egress_seq;
        // In a `concurrently` step the window is the whole step's: this shard's connections only.
        let mine = |r: &mock_kit::EgressRecord| {
            req.concurrent.is_empty()
                || r.client
                    .label
                    .as_deref()
                    .is_none_or(|l| l == crate::evidence::shard_label(&req.shard))
        };
        if let Some((_, r)) = accepted
            .iter()
            .find(|(i, r)| (from..to).contains(i) && mine(r))
        {
            result.fail_at(
                req,
                format!(
                    "{} returned a credential after accepting a certificate {}",
                    req.shard,
                    r.certificate.map_or("", |c| c.describe())
                ),
                format!(
                    "{}: {} for {} returned a credential obtained over a connection to {} with a certificate {}",
                    at(req),
                    req.shard,
                    req.request.project,
                    r.host,
                    r.certificate.map_or("", |c| c.describe())
                ),
            );
        }
    }
    result
}

/// Accepted flawed connections, counted by (client, host) runs: each connection carries one or
/// more requests, and the record keeps requests.
fn accepted_connections(accepted: &[&(usize, &mock_kit::EgressRecord)]) -> usize {
    let mut seen: Vec<(Option<&str>, &str, std::net::SocketAddr)> = Vec::new();
    for (_, r) in accepted {
        let key = (r.client.label.as_deref(), r.host.as_str(), r.client.addr);
        if !seen.contains(&key) {
            seen.push(key);
        }
    }
    seen.len()
}
