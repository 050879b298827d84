//! What building does to a directory: fills in the IDs derived from names, mints the secrets,
//! certificates and signing keys asked for (registering every secret in the run's registry), and
//! refuses what Entra would (invalid federated credentials, names, tenant IDs, domains and
//! client IDs used twice).

use entra_rules::guid;
use mock_kit::{KidStyle, RsaSigningKey, SecretRegistry};
use uuid::Uuid;

use super::{
    AppCertificate, ClientSecret, Directory, DirectoryError, Identity, IdentityKind, Tenant,
    default_client_id,
};

impl Directory {
    /// Validates the whole directory (cross-tenant rules).
    pub(crate) fn validate(&self) -> Result<(), DirectoryError> {
        for (i, t) in self.tenants.iter().enumerate() {
            if self.tenants[..i].iter().any(|o| o.name == t.name) {
                return Err(DirectoryError::DuplicateTenant(t.name.clone()));
            }
            for d in &t.domains {
                if let Some(other) = self.tenants[..i].iter().find(|o| o.domains.contains(d)) {
                    return Err(DirectoryError::DuplicateDomain {
                        domain: d.clone(),
                        first: other.name.clone(),
                        second: t.name.clone(),
                    });
                }
            }
            if self.tenants[..i].iter().any(|o| o.id == t.id) {
                return Err(DirectoryError::DuplicateTenantId(t.id));
            }
        }
        let mut ids: Vec<Uuid> = Vec::new();
        for t in &self.tenants {
            for i in &t.identities {
                if ids.contains(&i.client_id) {
                    return Err(DirectoryError::DuplicateClientId(i.client_id));
                }
                ids.push(i.client_id);
            }
        }
        Ok(())
    }

    /// Adds a tenant at run time: materialised (with the run's secrets), then the whole
    /// directory validated again; refused and left out when anything fails.
    pub(crate) fn add_tenant(
        &mut self,
        mut tenant: Tenant,
        secrets: &SecretRegistry,
    ) -> Result<(), DirectoryError> {
        tenant.materialise(secrets)?;
        self.tenants.push(tenant);
        if let Err(e) = self.validate() {
            self.tenants.pop();
            return Err(e);
        }
        Ok(())
    }

    /// Adds an app or identity to `tenant` at run time, materialised as on build; refused and
    /// left out when its name or client ID is taken or a credential is invalid. Returns its
    /// client ID.
    pub(crate) fn add_identity(
        &mut self,
        tenant: &str,
        mut identity: Identity,
        secrets: &SecretRegistry,
    ) -> Result<Uuid, DirectoryError> {
        let t = self
            .tenant_named_mut(tenant)
            .ok_or_else(|| DirectoryError::UnknownTenant(tenant.to_owned()))?;
        identity.materialise(tenant, secrets)?;
        let client_id = identity.client_id;
        t.identities.push(identity);
        let unique = t.check_unique_identities();
        let result = unique.and_then(|()| self.validate());
        if let Err(e) = result {
            if let Some(t) = self.tenant_named_mut(tenant) {
                t.identities.pop();
            }
            return Err(e);
        }
        Ok(client_id)
    }
}

impl Tenant {
    /// Fills in derived IDs, mints secrets and keys, validates.
    pub(crate) fn materialise(&mut self, secrets: &SecretRegistry) -> Result<(), DirectoryError> {
        if !self.id_given {
            self.id = guid::tenant_id(&self.name);
        }
        if self.keys.is_empty() {
            self.keys.push(new_tenant_key()?);
            self.signing = 0;
        }
        for identity in &mut self.identities {
            identity.materialise(&self.name, secrets)?;
        }
        self.check_unique_identities()
    }

    /// No two apps or identities of the tenant share a name.
    fn check_unique_identities(&self) -> Result<(), DirectoryError> {
        for (i, a) in self.identities.iter().enumerate() {
            if self.identities[..i].iter().any(|b| b.name == a.name) {
                return Err(DirectoryError::DuplicateObject {
                    tenant: self.name.clone(),
                    kind: "identity",
                    name: a.name.clone(),
                });
            }
        }
        Ok(())
    }
}

impl Identity {
    /// Fills in the identity's derived IDs, mints its credentials, and checks its federated
    /// credentials as Entra would have on creation.
    fn materialise(
        &mut self,
        tenant: &str,
        secrets: &SecretRegistry,
    ) -> Result<(), DirectoryError> {
        self.derive_ids(tenant);
        self.mint_credentials(tenant, secrets)?;
        self.check_federated()
    }

    /// The client ID, object ID and (for a managed identity) ARM resource ID not given, derived
    /// from the names.
    fn derive_ids(&mut self, tenant: &str) {
        if self.client_id.is_nil() {
            self.client_id = default_client_id(tenant, &self.name);
        }
        if !self.object_id_given {
            self.object_id = guid::object_id(tenant, &self.name);
        }
        if self.is_managed() && self.resource_id.is_none() {
            let sub = guid::subscription_id(tenant);
            self.resource_id = Some(match &self.kind {
                IdentityKind::SystemAssigned { node } => format!(
                    "/subscriptions/{sub}/resourceGroups/credsim/providers/Microsoft.Compute/virtualMachines/{node}"
                ),
                _ => format!(
                    "/subscriptions/{sub}/resourceGroups/credsim/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}",
                    self.name
                ),
            });
        }
    }

    /// Mints the client secrets and certificate asked for, and registers every secret (given or
    /// minted) so a leak of it is found.
    fn mint_credentials(
        &mut self,
        tenant: &str,
        secrets: &SecretRegistry,
    ) -> Result<(), DirectoryError> {
        for expires in std::mem::take(&mut self.mint_secrets) {
            // Entra client secrets look like `abc8Q~` followed by 34 characters.
            let value = secrets.mint(
                mock_kit::SecretKind::EntraClientSecret,
                &format!("{tenant}/{}", self.name),
                "cs8Q~",
                35,
            );
            self.secrets.push(ClientSecret {
                id: Uuid::new_v4(),
                value,
                expires,
            });
        }
        for secret in &self.secrets {
            let _ = secrets.register(
                mock_kit::SecretKind::EntraClientSecret,
                &format!("{tenant}/{}", self.name),
                secret.value.expose().clone(),
            );
        }
        if std::mem::take(&mut self.mint_certificate) {
            self.certificates
                .push(AppCertificate::generate(&self.name)?);
        }
        Ok(())
    }
}

/// A fresh Entra-style signing key (certificate thumbprint as `kid`).
pub(crate) fn new_tenant_key() -> Result<RsaSigningKey, DirectoryError> {
    RsaSigningKey::generate(KidStyle::CertificateThumbprint {
        subject: "accounts.accesscontrol.windows.net".into(),
    })
    .map_err(|e| DirectoryError::Key(e.to_string()))
}
