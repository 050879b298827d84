//! Federated identity credentials, and Entra's creation-time check of an identity's list of them
//! (the rules are [`entra_rules::federated`]'s; the answers are the ones the fake has always
//! given).

use entra_rules::federated::{self as rules, FederatedCredentialRef};
use jiff::Timestamp;

use super::{DirectoryError, Identity, MAX_FEDERATED_CREDENTIALS};

/// A federated identity credential: trust tokens from `issuer` about `subject` for `audience`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FederatedCredential {
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
    /// When it was created at run time (virtual time); `None` for credentials of the initial
    /// world, which count as long propagated.
    pub created_at: Option<Timestamp>,
}

impl FederatedCredential {
    /// A credential with the standard audience `api://AzureADTokenExchange`.
    pub fn new(name: &str, issuer: &str, subject: &str) -> Self {
        Self {
            name: name.to_owned(),
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
            audiences: vec![entra_rules::EXCHANGE_AUDIENCE.to_owned()],
            created_at: None,
        }
    }

    /// Whether Entra's replicas all know it at `now`, given the propagation delay.
    pub fn propagated(&self, now: Timestamp, delay: std::time::Duration) -> bool {
        match self.created_at {
            None => true,
            Some(t) => now.duration_since(t).as_secs() >= delay.as_secs() as i64,
        }
    }

    /// Replaces the audiences (Entra insists on exactly one; validation says so).
    pub fn audiences(mut self, audiences: &[&str]) -> Self {
        self.audiences = audiences.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    /// The credential as Entra's rules see it.
    fn rules_view(&self) -> FederatedCredentialRef<'_> {
        FederatedCredentialRef {
            name: &self.name,
            issuer: &self.issuer,
            subject: &self.subject,
            audiences: &self.audiences,
        }
    }
}

impl Identity {
    /// Entra's creation-time rules over the identity's federated credentials (the limit first,
    /// then each credential in turn), answered as the fake always has.
    pub(crate) fn check_federated(&self) -> Result<(), DirectoryError> {
        let views: Vec<FederatedCredentialRef<'_>> = self
            .federated
            .iter()
            .map(FederatedCredential::rules_view)
            .collect();
        let Err(refused) = rules::validate_federated_credentials(&views) else {
            return Ok(());
        };
        // No credential is named only when the list is too long.
        Err(match refused.index.and_then(|i| self.federated.get(i)) {
            Some(fic) => DirectoryError::InvalidFederatedCredential {
                identity: self.name.clone(),
                name: fic.name.clone(),
                problem: refused.error.entra_message(),
            },
            None => DirectoryError::TooManyFederatedCredentials {
                identity: self.name.clone(),
                count: self.federated.len(),
                max: MAX_FEDERATED_CREDENTIALS,
            },
        })
    }
}
