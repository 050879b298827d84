//! `credential-destination`: every secret is presented only to the host it was minted for (Entra
//! tokens to Entra or a registry's exchange, registry tokens to that registry, ServiceAccount
//! tokens to their cluster or Entra), over TLS.
//!
//! Threat: URL patterns not anchored to the host (`attacker.example/x.azurecr.io`), a realm taken
//! from a hostile challenge, a plain-HTTP downgrade. Evidence: the front door's egress record of
//! the implementation's requests, with the secrets each one carried.

use mock_kit::site::Scheme;
use scenarios::model::PropertyId;

use super::{PropertyResult, iut_egress};
use crate::run::Evidence;

const ENTRA: &str = "login.microsoftonline.com";

/// Whether a secret of `kind` labelled `label` may be sent to `host`.
fn allowed(e: &Evidence<'_>, kind: &str, label: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let registry_hosts: Vec<String> = e
        .scenario
        .world
        .registries
        .iter()
        .map(|r| r.login_server.clone())
        .collect();
    let api_servers: Vec<String> = e
        .world
        .cloud
        .all_clusters()
        .iter()
        .map(|c| c.api_host().to_ascii_lowercase())
        .collect();
    match kind {
        "entra-access-token" => host == ENTRA || registry_hosts.contains(&host),
        "entra-client-secret" => host == ENTRA,
        // `<login server> for <principal>`: only that registry.
        k if k.starts_with("acr-") => label
            .split(' ')
            .next()
            .is_some_and(|h| h.eq_ignore_ascii_case(&host)),
        "k8s-service-account-token" => {
            host == ENTRA || api_servers.contains(&host) || host.starts_with("127.0.0.1")
        }
        _ => true,
    }
}

pub fn judge(e: &Evidence<'_>) -> PropertyResult {
    let carrying: Vec<_> = iut_egress(e)
        .into_iter()
        .filter(|(_, r)| !r.secrets.is_empty())
        .collect();
    if carrying.is_empty() {
        return PropertyResult::not_applicable(
            PropertyId::CredentialDestination,
            "the implementation sent no secret anywhere",
        );
    }
    let mut result = PropertyResult::new(
        PropertyId::CredentialDestination,
        format!(
            "{} request(s) of the implementation carried secrets",
            carrying.len()
        ),
    );
    for (shard, r) in carrying {
        for s in &r.secrets {
            let plain = r.scheme == Scheme::Http;
            if plain || r.refused() || !allowed(e, &s.kind, &s.label, &r.host) {
                let why = if plain {
                    "over plain HTTP"
                } else if r.refused() {
                    "to a host no service owns"
                } else {
                    "to a host it was not minted for"
                };
                result.fail(
                    format!("{shard} sent a {} {why}", s.kind),
                    format!(
                        "{shard}: {} {}://{}{} carried {} {} in {} ({why})",
                        r.method,
                        if plain { "http" } else { "https" },
                        r.host,
                        r.path,
                        s.kind,
                        s.fingerprint.as_str(),
                        s.location
                    ),
                );
            }
        }
    }
    result
}
