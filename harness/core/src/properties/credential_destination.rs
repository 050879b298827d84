//! `credential-destination`: every secret is presented only to the host it was minted for (Entra
//! tokens to Entra or a registry's exchange, registry tokens to that registry, ServiceAccount
//! tokens to their cluster or Entra), over TLS.
//!
//! Threat: URL patterns not anchored to the host (`attacker.example/x.azurecr.io`), a realm taken
//! from a hostile challenge, a plain-HTTP downgrade. Evidence: the front door's egress record of
//! the implementation's requests, with the secrets each one carried.

use mock_kit::SecretKind;
use mock_kit::site::Scheme;
use scenarios::model::PropertyId;

use super::{PropertyResult, iut_egress};
use crate::evidence::Evidence;

const ENTRA: &str = "login.microsoftonline.com";
const IMDS: &str = "169.254.169.254";

/// The registry a registry-minted secret belongs to: its label starts with the login server
/// (`<login server> for <principal>`, `<login server>/<repository>@<digest>`).
fn registry_of(label: &str) -> &str {
    label.split([' ', '/']).next().unwrap_or_default()
}

/// Whether a secret of `kind` labelled `label` may be sent to `host` (over `scheme`). Every kind
/// is matched: a new kind does not compile until its destinations are written here.
fn allowed(e: &Evidence<'_>, kind: SecretKind, label: &str, host: &str, scheme: Scheme) -> bool {
    let host = host.to_ascii_lowercase();
    let tls = scheme == Scheme::Https;
    let registry_hosts: Vec<String> = e
        .scenario
        .world
        .registries
        .iter()
        .map(|r| r.login_server.to_ascii_lowercase())
        .collect();
    let api_servers: Vec<String> = e
        .world
        .cloud
        .all_clusters()
        .iter()
        .map(|c| c.api_host().to_ascii_lowercase())
        .collect();
    let loopback = host.starts_with("127.0.0.1");
    match kind {
        // To Entra, or as the exchange's input to a registry of the world.
        SecretKind::EntraAccessToken => tls && (host == ENTRA || registry_hosts.contains(&host)),
        SecretKind::EntraClientSecret => tls && host == ENTRA,
        // Only to the registry that minted it.
        SecretKind::AcrRefreshToken
        | SecretKind::AcrAccessToken
        | SecretKind::AcrAdminPassword
        | SecretKind::AcrTokenPassword => tls && registry_of(label).eq_ignore_ascii_case(&host),
        // A SAS signature goes to that registry's blob storage only.
        SecretKind::AcrBlobSas => {
            let name = registry_of(label).split('.').next().unwrap_or_default();
            tls && host.eq_ignore_ascii_case(&format!("{name}.blob.core.windows.net"))
        }
        // To its cluster's API server (by name or direct listener) or, as an assertion, to Entra.
        SecretKind::K8sServiceAccountToken => {
            tls && (host == ENTRA || api_servers.contains(&host) || loopback)
        }
        SecretKind::K8sAdminToken => tls && (api_servers.contains(&host) || loopback),
        // App Service's managed-identity endpoint is plain HTTP on the node itself.
        SecretKind::ImdsIdentityHeader => host == IMDS || loopback,
        SecretKind::Canary => false,
    }
}

/// The host an OCI client presents a credential to for a registry as the user wrote it: the
/// reference's first component (`attacker.example` in `attacker.example/x.azurecr.io`), without
/// a port.
fn consumer_host(registry: &str) -> String {
    let first = registry.split('/').next().unwrap_or_default();
    let host = match first.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => first,
    };
    host.to_ascii_lowercase()
}

/// The secret a returned credential carries, when it is one a registry login may legitimately
/// carry (a registry's own secret, or an Entra access token it exchanges). A long-lived secret
/// handed out (an app's client secret) is `short-lived`'s diagnosis, not this one's.
fn returned_secret(
    e: &Evidence<'_>,
    r: &crate::evidence::RequestRecord,
) -> Option<mock_kit::secret::SecretInfo> {
    let info = e.world.cloud.secrets.identify(&r.credential()?.password)?;
    (info.kind.is_registry_secret() && info.kind != SecretKind::AcrBlobSas
        || info.kind == SecretKind::EntraAccessToken)
        .then_some(info)
}

/// Whether the credential returned at `r` is a secret its consumer presents to a host it was not
/// minted for. That is this property's diagnosis, which `cache-partitioning` leaves to it.
pub(super) fn presented_elsewhere(e: &Evidence<'_>, r: &crate::evidence::RequestRecord) -> bool {
    returned_secret(e, r).is_some_and(|info| {
        !allowed(
            e,
            info.kind,
            &info.label,
            &consumer_host(&r.request.registry),
            Scheme::Https,
        )
    })
}

pub fn judge(e: &Evidence<'_>) -> PropertyResult {
    let carrying: Vec<_> = iut_egress(e)
        .into_iter()
        .filter(|(_, r)| !r.secrets.is_empty())
        .collect();
    // Every returned credential that is a secret of the run, with the host its consumer uses.
    let returned: Vec<_> = e
        .requests
        .iter()
        .filter_map(|r| Some((r, returned_secret(e, r)?)))
        .collect();
    if carrying.is_empty() && returned.is_empty() {
        return PropertyResult::not_applicable(
            PropertyId::CredentialDestination,
            "the implementation sent no secret anywhere and returned none",
        );
    }
    let mut result = PropertyResult::new(
        PropertyId::CredentialDestination,
        format!(
            "{} request(s) of the implementation carried secrets; {} returned credential(s) \
             judged by the host their consumer presents them to",
            carrying.len(),
            returned.len()
        ),
    );
    for (shard, r) in carrying {
        for s in &r.secrets {
            let plain = r.scheme == Scheme::Http;
            if r.refused() || !allowed(e, s.kind, &s.label, &r.host, r.scheme) {
                let why = if r.refused() {
                    "to a host no service owns"
                } else if plain {
                    "over plain HTTP"
                } else {
                    "to a host it was not minted for"
                };
                let form = if s.form.is_raw() {
                    String::new()
                } else {
                    format!(" {}", s.form)
                };
                let direct = if r.via == mock_kit::site::Via::Intercepted {
                    "; connected straight to the host, ignoring the proxy"
                } else {
                    ""
                };
                result.fail(
                    format!("{shard} sent a {} {why}", s.kind),
                    format!(
                        "{shard}: {} {}://{}{} carried {} {}{form} in {} ({why}{direct})",
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
    for (r, info) in returned {
        let host = consumer_host(&r.request.registry);
        if allowed(e, info.kind, &info.label, &host, Scheme::Https) {
            continue;
        }
        let minted_for = if info.kind.is_registry_secret() {
            registry_of(&info.label).to_owned()
        } else {
            info.label.clone()
        };
        result.fail_at(
            r,
            format!(
                "{} returned a credential its OCI client will present to {host}, minted for {minted_for}",
                r.shard
            ),
            format!(
                "step {} (line {}): {} for {} asked for registry {:?}; the {} {} it returned was \
                 minted for {minted_for}, and an OCI client presents it to {host}",
                r.step + 1,
                r.line,
                r.shard,
                r.request.project,
                r.request.registry,
                info.kind,
                info.fingerprint.as_str()
            ),
        );
    }
    result
}
