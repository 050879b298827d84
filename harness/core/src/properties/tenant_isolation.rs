//! `tenant-isolation`: tokens of tenant T are only presented to endpoints of tenant T, and no
//! credential crosses tenants unless the world grants it.
//!
//! Threat: a missing or wrong tenant silently replaced by the controller's tenant; `/common`
//! misuse. Evidence: the Entra journal (the tenant segment of each token request the
//! implementation made) and the egress record (which registry accepted each Entra token, against
//! the registry's tenant).

use scenarios::model::PropertyId;

use super::{PropertyResult, at, iut_egress};
use crate::evidence::Evidence;

pub fn judge(e: &Evidence<'_>) -> PropertyResult {
    let mut examined = 0;
    let mut result = PropertyResult::new(PropertyId::TenantIsolation, String::new());
    for r in &e.requests {
        for t in r.entra_events(e.world) {
            examined += 1;
            let seg = t.tenant_segment.to_ascii_lowercase();
            if matches!(seg.as_str(), "common" | "organizations" | "consumers") {
                result.fail(
                    format!(
                        "the implementation asked Entra's `/{seg}` endpoint instead of a tenant"
                    ),
                    format!(
                        "{}: token request to /{seg} for client {}",
                        at(r),
                        t.client_id.unwrap_or_default()
                    ),
                );
            }
        }
    }
    let world = &e.scenario.world;
    for (shard, rec) in iut_egress(e) {
        let Some(registry) = world
            .registries
            .iter()
            .find(|r| r.login_server.eq_ignore_ascii_case(&rec.host))
        else {
            continue;
        };
        for s in rec
            .secrets
            .iter()
            .filter(|s| s.kind == mock_kit::SecretKind::EntraAccessToken)
        {
            examined += 1;
            // Labels read `<tenant>/<identity> for <audience>`.
            let Some((tenant, rest)) = s.label.split_once('/') else {
                continue;
            };
            let identity = rest.split(' ').next().unwrap_or_default();
            let multi = world
                .tenant(tenant)
                .and_then(|t| t.apps.iter().find(|a| a.name == identity))
                .is_some_and(|a| a.multi_tenant);
            // Presenting a token to another tenant's registry, which refuses it, is how an
            // implementation that cannot know a registry's tenant finds out; the token crossed
            // tenants only if the registry accepted it.
            if tenant != registry.tenant && !multi && rec.status == 200 {
                result.fail(
                    format!(
                        "a token of tenant {tenant} was presented to {}, a registry of tenant {}",
                        registry.name, registry.tenant
                    ),
                    format!(
                        "{shard}: {} https://{}{} carried entra-access-token {} ({})",
                        rec.method,
                        rec.host,
                        rec.path,
                        s.fingerprint.as_str(),
                        s.label
                    ),
                );
            }
        }
    }
    if examined == 0 {
        return PropertyResult::not_applicable(
            PropertyId::TenantIsolation,
            "the implementation neither asked Entra for tokens nor presented any",
        );
    }
    result.examined = format!("{examined} Entra token request(s) and presentation(s)");
    result
}
