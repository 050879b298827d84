//! Entra's rules, written once: what mock-entra refuses at run time and the scenario loader
//! refuses at load time come from here, so `credsim check` cannot accept a file whose world the
//! fake then refuses. A crate of rules with no workspace dependency (neither the format nor a
//! fake), so both `scenarios` and the mocks may depend on it.
//!
//! - [`federated`]: the federated identity credential rules Entra applies when a credential is
//!   created (name, issuer, subject, audiences, the 20-per-identity limit, uniqueness per
//!   identity), one function per rule, each refusing with a [`FederatedCredentialError`] that
//!   also knows what mock-entra answers for it ([`FederatedCredentialError::entra_message`]).
//! - [`guid`]: the GUIDs derived from names (UUIDv5 in one namespace) that tenants, apps,
//!   identities and resources get when none is given, so a world described by names has the same
//!   IDs on every run and in every crate.

pub mod federated;
pub mod guid;

pub use federated::{
    EXCHANGE_AUDIENCE, FederatedCredentialError, FederatedCredentialRef, MAX_FEDERATED_CREDENTIALS,
    Refused, validate_federated_credential, validate_federated_credentials,
};
