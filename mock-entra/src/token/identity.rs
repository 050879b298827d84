//! The identity a token request's client ID names, in the tenant its path names (or, on
//! `/common` and `/organizations`, the app's home tenant; see the module docs).

use super::TokenRequest;
use crate::Inner;
use crate::directory::{Identity, Tenant};
use crate::errors::Aadsts;
use crate::journal::TokenEvent;

impl TokenRequest<'_> {
    /// The tenant and the enabled identity `client_id` names there; the event notes each as it is
    /// found. `named` is the tenant the path names (`None` for an alias).
    pub(super) fn identity(
        &self,
        named: Option<Tenant>,
        client_id: &str,
        event: &mut TokenEvent,
    ) -> Result<(Tenant, Identity), Aadsts> {
        let tenant = match named {
            Some(t) => t,
            None => self.home_tenant(client_id)?,
        };
        event.tenant_id = Some(tenant.id);
        let identity =
            find_identity(self.inner, &tenant, client_id).ok_or_else(|| Aadsts::AppNotFound {
                client_id: client_id.to_owned(),
                tenant: tenant.display_name.clone(),
            })?;
        event.identity = Some(identity.name.clone());
        if identity.disabled {
            return Err(Aadsts::AppDisabled {
                client_id: client_id.to_owned(),
            });
        }
        Ok((tenant, identity))
    }

    /// `/common`, `/organizations`: a multi-tenant app's home tenant; anything else is refused.
    fn home_tenant(&self, client_id: &str) -> Result<Tenant, Aadsts> {
        let dir = self.inner.directory.read().expect("directory lock");
        match dir.find_client(client_id) {
            Some((home, identity)) if identity.is_multi_tenant() => Ok(home.clone()),
            Some(_) => Err(Aadsts::SingleTenantAppOnCommon {
                client_id: client_id.to_owned(),
            }),
            None => Err(Aadsts::AppNotFound {
                client_id: client_id.to_owned(),
                tenant: self.segment.to_owned(),
            }),
        }
    }
}

fn find_identity(inner: &Inner, tenant: &Tenant, client_id: &str) -> Option<Identity> {
    if let Some(i) = tenant.identity_by_client_id(client_id) {
        return Some(i.clone());
    }
    // A multi-tenant app from another tenant has a service principal everywhere.
    let dir = inner.directory.read().expect("directory lock");
    dir.find_client(client_id)
        .filter(|(_, i)| i.is_multi_tenant())
        .map(|(_, i)| i.clone())
}
