//! The directory: tenants and what lives in them.
//!
//! Per tenant: a GUID, verified domains, signing keys (several published, one signing, for
//! rotation), app registrations (client ID, service-principal object ID, secrets with expiry,
//! certificates, federated identity credentials, multi-tenant flag), user-assigned managed
//! identities (client ID, principal ID, ARM resource ID, federated credentials), system-assigned
//! identities of nodes, and the resources tokens can be requested for.
//!
//! GUIDs not given explicitly are derived from names (UUIDv5, [`entra_rules::guid`]), so a world
//! described by names gets the same IDs on every run and reports stay stable.
//!
//! Federated identity credentials are validated as Entra validates them on creation (reference
//! §2.1), by the rules of [`entra_rules::federated`] (the scenario loader applies the same ones):
//! name 3–120 characters of `[A-Za-z0-9_-]` starting alphanumeric, issuer an https URL of at most
//! 600 characters, subject 1 to 600, exactly one audience of 1 to 600, name and issuer+subject
//! unique per identity, and at most 20 per identity.
//!
//! Submodules (private; everything public is re-exported here, so paths are
//! `mock_entra::directory::…`):
//! - `identity`: apps and managed identities, their client secrets and certificates.
//! - `federated`: federated identity credentials and Entra's creation-time check of them.
//! - `tenant`: tenants and the resources tokens can be requested for.
//! - `build`: what building does to a directory: derived IDs, minted secrets and keys, the
//!   uniqueness rules.
//! - `lookup`: finding tenants and identities by name, GUID, domain or client ID.

mod build;
mod federated;
mod identity;
mod lookup;
mod tenant;
#[cfg(test)]
mod tests;

use entra_rules::guid;
use uuid::Uuid;

pub(crate) use build::new_tenant_key;
pub use federated::FederatedCredential;
pub use identity::{AppCertificate, ClientSecret, Identity, IdentityKind};
pub use lookup::TenantRef;
pub(crate) use lookup::plausible_tenant_segment;
pub use tenant::{Resource, Tenant};

/// The most federated identity credentials one app or identity may have.
pub use entra_rules::MAX_FEDERATED_CREDENTIALS;

/// Every tenant.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    pub tenants: Vec<Tenant>,
}

/// Why a directory object was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("tenant {0:?} is defined twice")]
    DuplicateTenant(String),
    #[error("tenant ID {0} is used by two tenants")]
    DuplicateTenantId(Uuid),
    #[error("domain {domain:?} is verified in both {first:?} and {second:?}")]
    DuplicateDomain {
        domain: String,
        first: String,
        second: String,
    },
    #[error("{kind} {name:?} is defined twice in tenant {tenant:?}")]
    DuplicateObject {
        tenant: String,
        kind: &'static str,
        name: String,
    },
    #[error("client ID {0} is used by two objects")]
    DuplicateClientId(Uuid),
    #[error(
        "{identity:?} would have {count} federated identity credentials; Entra allows at most {max}"
    )]
    TooManyFederatedCredentials {
        identity: String,
        count: usize,
        max: usize,
    },
    #[error("federated identity credential {name:?} on {identity:?}: {problem}")]
    InvalidFederatedCredential {
        identity: String,
        name: String,
        problem: String,
    },
    #[error("no tenant named {0:?}")]
    UnknownTenant(String),
    #[error("no app or managed identity named {identity:?} in tenant {tenant:?}")]
    UnknownIdentity { tenant: String, identity: String },
    #[error("generating a key failed: {0}")]
    Key(String),
}

/// A GUID derived from a path of names (stable across runs; [`entra_rules::guid::derive`]).
pub fn guid_for(path: &str) -> Uuid {
    guid::derive(path)
}

/// The client ID an identity named `identity` in tenant `tenant` gets when none is given (so
/// worlds can refer to it before mock-entra is built, e.g. in ServiceAccount annotations).
pub fn default_client_id(tenant: &str, identity: &str) -> Uuid {
    guid::client_id(tenant, identity)
}
