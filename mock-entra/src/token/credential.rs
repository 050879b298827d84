//! The credential a token request presents (a client secret in the body or in HTTP Basic, or a
//! client assertion) and its check, which decides the token's `acr`.

use jiff::Timestamp;
use mock_kit::jwt;

use super::TokenRequest;
use super::assertion::{is_certificate_assertion, summarise};
use super::certificate::check_certificate_assertion;
use super::federated::check_federated_assertion;
use super::request::Form;
use crate::directory::{Identity, Tenant};
use crate::errors::Aadsts;
use crate::journal::{CredentialKind, TokenEvent};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The credential a request presented.
pub(super) enum Credential {
    Secret(String),
    Assertion(String),
}

/// The credential in the form (a secret before an assertion, which must say it is a JWT bearer
/// assertion), else the secret of HTTP Basic.
pub(super) fn presented(
    form: &Form,
    basic: Option<(String, String)>,
) -> Result<Credential, Aadsts> {
    match (form.get("client_secret"), form.get("client_assertion")) {
        (Some(s), _) => Ok(Credential::Secret(s.to_owned())),
        (None, Some(a)) => match form.get("client_assertion_type") {
            Some(JWT_BEARER) => Ok(Credential::Assertion(a.to_owned())),
            Some(_) | None => Err(Aadsts::MissingParameter {
                name: "client_assertion_type".into(),
            }),
        },
        (None, None) => match basic {
            Some((_, secret)) if !secret.is_empty() => Ok(Credential::Secret(secret)),
            _ => Err(Aadsts::MissingClientCredential),
        },
    }
}

impl TokenRequest<'_> {
    /// Checks `credential` for `identity`, noting its kind (and an assertion's summary) in the
    /// event; returns the `acr` it earns: `1` for a secret, `2` for an assertion.
    pub(super) async fn check_credential(
        &self,
        credential: Credential,
        tenant: &Tenant,
        identity: &Identity,
        client_id: &str,
        event: &mut TokenEvent,
    ) -> Result<&'static str, Aadsts> {
        match credential {
            Credential::Secret(secret) => {
                event.credential = CredentialKind::Secret;
                check_secret(identity, &secret, self.inner.clock.now())?;
                Ok("1")
            }
            Credential::Assertion(assertion) => {
                let decoded =
                    jwt::decode_unverified(&assertion).map_err(|e| Aadsts::MalformedJwt {
                        detail: e.to_string(),
                    })?;
                event.assertion = Some(summarise(&assertion, &decoded));
                if is_certificate_assertion(&decoded, client_id) {
                    event.credential = CredentialKind::Certificate;
                    check_certificate_assertion(
                        self.inner,
                        identity,
                        &assertion,
                        &decoded,
                        tenant,
                        self.authority,
                    )?;
                } else {
                    event.credential = CredentialKind::Federated;
                    check_federated_assertion(self.inner, identity, &assertion, &decoded).await?;
                }
                Ok("2")
            }
        }
    }
}

/// The secret is one of the identity's, and has not expired.
fn check_secret(identity: &Identity, secret: &str, now: Timestamp) -> Result<(), Aadsts> {
    let client_id = identity.client_id.to_string();
    let matching = identity
        .secrets
        .iter()
        .find(|s| s.value.expose() == secret)
        .ok_or(Aadsts::InvalidClientSecret {
            client_id: client_id.clone(),
        })?;
    match matching.expires {
        Some(exp) if exp <= now => Err(Aadsts::ExpiredClientSecret { client_id }),
        _ => Ok(()),
    }
}
