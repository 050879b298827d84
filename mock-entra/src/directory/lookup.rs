//! Finding things in the directory: a token-endpoint path segment's tenant (GUID, verified domain
//! or alias), tenants by name, identities by name or client ID.

use uuid::Uuid;

use super::{Directory, Identity, Tenant};

/// How a token-endpoint path segment resolved.
#[derive(Clone, Copy, Debug)]
pub enum TenantRef<'a> {
    Tenant(&'a Tenant),
    /// `common`, `organizations` or `consumers`.
    Alias(&'static str),
}

impl Directory {
    /// Resolves a path segment: GUID, verified domain, or `common`/`organizations`/`consumers`.
    pub fn resolve(&self, segment: &str) -> Option<TenantRef<'_>> {
        let lower = segment.to_ascii_lowercase();
        for alias in ["common", "organizations", "consumers"] {
            if lower == alias {
                return Some(TenantRef::Alias(alias));
            }
        }
        if let Ok(id) = Uuid::parse_str(segment) {
            return self
                .tenants
                .iter()
                .find(|t| t.id == id)
                .map(TenantRef::Tenant);
        }
        self.tenants
            .iter()
            .find(|t| t.domains.contains(&lower))
            .map(TenantRef::Tenant)
    }

    /// The tenant named `name`.
    pub fn tenant_named(&self, name: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.name == name)
    }

    /// The tenant named `name`, mutably.
    pub fn tenant_named_mut(&mut self, name: &str) -> Option<&mut Tenant> {
        self.tenants.iter_mut().find(|t| t.name == name)
    }

    /// The identity with this client ID in any tenant, with its tenant.
    pub fn find_client(&self, client_id: &str) -> Option<(&Tenant, &Identity)> {
        self.tenants
            .iter()
            .find_map(|t| t.identity_by_client_id(client_id).map(|i| (t, i)))
    }
}

impl Tenant {
    /// The identity named `name`.
    pub fn identity_named(&self, name: &str) -> Option<&Identity> {
        self.identities.iter().find(|i| i.name == name)
    }

    /// The identity with client ID `id`.
    pub fn identity_by_client_id(&self, id: &str) -> Option<&Identity> {
        let id = Uuid::parse_str(id).ok()?;
        self.identities.iter().find(|i| i.client_id == id)
    }
}

/// Whether a tenant segment is at least a plausible DNS name or GUID (else AADSTS900023).
pub(crate) fn plausible_tenant_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment.len() <= 253
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
}
