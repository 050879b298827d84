//! The scope rules (reference §1.3): a v2 `scope` is exactly one resource's `/.default` (OpenID
//! scopes aside), a v1 `resource` is the resource itself; either names a resource of the tenant or
//! an app (`api://{client-id}` or its client ID).

use uuid::Uuid;

use super::Endpoint;
use crate::directory::{Identity, IdentityKind, Resource, Tenant};
use crate::errors::Aadsts;

/// Scopes a client may ask for next to `/.default`, which name no resource.
const OIDC_SCOPES: &[&str] = &["openid", "offline_access", "profile", "email"];

/// Applies the scope rules; returns the resource and the audience as the client named it.
pub(crate) fn resolve_scope(
    tenant: &Tenant,
    identity: &Identity,
    requested: &str,
    endpoint: Endpoint,
) -> Result<(Resource, String), Aadsts> {
    let name = requested_resource(requested, endpoint)?;
    match find_resource(tenant, identity, &name) {
        Some(r) => Ok((r, name)),
        None => Err(Aadsts::ResourceNotFound {
            resource: name,
            tenant: tenant.id.to_string(),
        }),
    }
}

/// The resource a `resource` (v1) or `scope` (v2) names, as the client spelled it.
fn requested_resource(requested: &str, endpoint: Endpoint) -> Result<String, Aadsts> {
    match endpoint {
        Endpoint::V1 => Ok(requested.trim().to_owned()),
        Endpoint::V2 => {
            let scopes: Vec<&str> = requested
                .split_whitespace()
                .filter(|s| !OIDC_SCOPES.contains(&s.to_ascii_lowercase().as_str()))
                .collect();
            if scopes.is_empty() {
                return Err(Aadsts::ScopeNotDefault {
                    scope: requested.to_owned(),
                });
            }
            let mut resources: Vec<&str> = Vec::new();
            for s in &scopes {
                let Some(r) = s.strip_suffix("/.default") else {
                    return Err(Aadsts::ScopeNotDefault {
                        scope: (*s).to_owned(),
                    });
                };
                if !resources.contains(&r) {
                    resources.push(r);
                }
            }
            // At least one: every scope named a resource or was refused above.
            match resources.as_slice() {
                [one] => Ok((*one).to_owned()),
                _ => Err(Aadsts::MultipleResources {
                    scope: requested.to_owned(),
                }),
            }
        }
    }
}

/// The tenant's resource named by app ID or URI; else an app of the tenant (or the requesting
/// identity itself) as a v2 resource.
fn find_resource(tenant: &Tenant, identity: &Identity, name: &str) -> Option<Resource> {
    if let Ok(id) = Uuid::parse_str(name)
        && let Some(r) = tenant.resources.iter().find(|r| r.app_id == id)
    {
        return Some(r.clone());
    }
    if let Some(r) = tenant
        .resources
        .iter()
        .find(|r| r.uris.iter().any(|u| u == name))
    {
        return Some(r.clone());
    }
    // Apps are resources too: `api://{client-id}` or their client ID.
    let app_uri = |id: Uuid| [id.to_string(), format!("api://{id}")];
    tenant
        .identities
        .iter()
        .chain(std::iter::once(identity))
        .find(|i| {
            matches!(i.kind, IdentityKind::App { .. })
                && app_uri(i.client_id).iter().any(|u| u == name)
        })
        .map(|app| Resource {
            uris: app_uri(app.client_id).to_vec(),
            app_id: app.client_id,
            token_version: 2,
        })
}
