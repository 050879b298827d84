//! `least-privilege`: registry access tokens the implementation requests cover only the
//! repository it was asked about and the actions it needs (`pull`, `metadata_read`), and every
//! token it asks Entra or IMDS for is for what pulling needs (`https://containerregistry.azure.net`)
//! or for a resource the policy allows that identity (`policy.tokenResources`).
//!
//! Threat: `registry:catalog:*`, `push`, wildcard repositories; an Azure Resource Manager or Graph
//! token obtained with a project's identity (an ARM token that reaches the wrong host is
//! subscription-wide, which is why several projects narrowed their token audiences). Evidence: the
//! registry token journal (requested scopes) and the Entra journal (requested scope or resource,
//! and for which identity; IMDS mints are journalled there too) during each request.

use scenarios::model::{self, PropertyId};

use super::{PropertyResult, at};
use crate::evidence::Evidence;

/// OpenID Connect scopes that ask for no resource.
const OIDC_SCOPES: &[&str] = &["openid", "profile", "offline_access", "email"];

pub fn judge(e: &Evidence<'_>) -> PropertyResult {
    let mut examined = 0;
    let mut entra_examined = 0;
    let mut result = PropertyResult::new(PropertyId::LeastPrivilege, String::new());
    for r in &e.requests {
        for ev in r.entra_events(e.world) {
            let Some(requested) = ev.scope.as_deref() else {
                continue;
            };
            entra_examined += 1;
            let identity = ev.identity.as_deref().unwrap_or("an unknown client");
            let allowed = e
                .scenario
                .policy
                .token_resources
                .get(identity)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for scope in requested.split_whitespace() {
                if OIDC_SCOPES.contains(&scope) {
                    continue;
                }
                let resource = model::token_resource(scope);
                if resource == model::ACR_RESOURCE || allowed.contains(&resource) {
                    continue;
                }
                let how = match ev.credential {
                    mock_entra::journal::CredentialKind::ManagedIdentity => "IMDS",
                    _ => "Entra",
                };
                result.fail_at(
                    r,
                    format!(
                        "asked about {}, the implementation asked {how} for a {resource} token as {identity}",
                        r.request.repository
                    ),
                    format!(
                        "{}: {how} {} token request by {identity} (client {}) for `{scope}`: pulling needs only {}{}",
                        at(r),
                        ev.endpoint,
                        ev.client_id.as_deref().unwrap_or("none"),
                        model::ACR_RESOURCE,
                        if allowed.is_empty() {
                            String::new()
                        } else {
                            format!(", and the policy allows {identity} also {}", allowed.join(", "))
                        }
                    ),
                );
            }
        }
        for ev in r
            .acr_events(e.world)
            .into_iter()
            .filter(|ev| ev.endpoint == "token")
        {
            examined += 1;
            // In a `concurrently` step the window is shared: a scope for the repository of a
            // request asked for at the same time, on this shard, is that request's.
            let repositories: Vec<&str> = std::iter::once(r.request.repository.as_str())
                .chain(r.concurrent_on_shard().map(|c| c.repository.as_str()))
                .collect();
            for scope in &ev.requested {
                let ok = repositories.iter().any(|repo| {
                    scope
                        .strip_prefix(&format!("repository:{repo}:"))
                        .is_some_and(|actions| {
                            actions
                                .split(',')
                                .all(|a| a == "pull" || a == "metadata_read")
                        })
                });
                if !ok {
                    result.fail_at(
                        r,
                        format!(
                            "asked about {}, the implementation requested the scope `{scope}`",
                            r.request.repository
                        ),
                        format!(
                            "{}: {} token request for `{scope}` (granted [{}])",
                            at(r),
                            ev.registry,
                            ev.granted.join(" ")
                        ),
                    );
                }
            }
        }
    }
    if examined + entra_examined == 0 {
        return PropertyResult::not_applicable(
            PropertyId::LeastPrivilege,
            "the implementation asked for no token: neither Entra, IMDS nor a registry token endpoint",
        );
    }
    result.examined = format!(
        "{entra_examined} Entra or IMDS token request(s), {examined} registry token request(s)"
    );
    result
}
