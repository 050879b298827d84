//! Federated assertions: a token from an external issuer (a cluster's ServiceAccount token)
//! matched against the identity's federated credentials, verified with the issuer's keys fetched
//! over the network, in the reference's order (§2.2).

use jiff::Timestamp;
use mock_kit::Jwks;
use mock_kit::jwt::{self, Algorithm, DecodedJwt, JwtError};

use super::assertion::{audiences, check_window};
use crate::Inner;
use crate::directory::{FederatedCredential, Identity};
use crate::errors::{Aadsts, description_time};
use crate::federation::Fetcher;
use crate::journal::EntraEvent;

/// External tokens may live at most 1.01:00:00.
const MAX_EXTERNAL_LIFETIME: i64 = 25 * 3600;

/// A federated credential matches, the issuer's key signed the assertion, it is within its
/// validity window and lives at most 25 hours.
pub(super) async fn check_federated_assertion(
    inner: &Inner,
    identity: &Identity,
    assertion: &str,
    d: &DecodedJwt,
) -> Result<(), Aadsts> {
    let presented = Presented {
        iss: d.claim_str("iss").unwrap_or_default().to_owned(),
        sub: d.claim_str("sub").unwrap_or_default().to_owned(),
        aud: audiences(d),
    };
    if let Err(e) = match_federated(inner, identity, &presented) {
        // A credential that would match but has not propagated yet: the legacy answer.
        if presented.pending_on(inner, identity) {
            return Err(Aadsts::NoMatchingRecordLegacy {
                issuer: presented.iss,
                subject: presented.sub,
                audience: presented.aud.join(","),
            });
        }
        return Err(e);
    }
    verify_signature(inner, assertion, &presented.iss, d).await?;
    check_window(inner, d)?;
    check_lifetime(d)
}

/// What a federated credential is matched on: the assertion's `iss`, `sub` and `aud`.
struct Presented {
    iss: String,
    sub: String,
    aud: Vec<String>,
}

impl Presented {
    /// Whether `credential` names this issuer, subject (exactly) and one of these audiences.
    fn matches(&self, credential: &FederatedCredential) -> bool {
        credential.issuer == self.iss
            && credential.subject == self.sub
            && credential.audiences.iter().any(|a| self.aud.contains(a))
    }

    /// Whether a credential of `identity` that has not propagated yet would match.
    fn pending_on(&self, inner: &Inner, identity: &Identity) -> bool {
        let now = inner.clock.now();
        let delay = inner.options.fic_propagation_delay;
        identity
            .federated
            .iter()
            .any(|f| !f.propagated(now, delay) && self.matches(f))
    }
}

/// Matches issuer, subject and audience against the identity's propagated federated credentials,
/// in Entra's order (reference §2.2 steps 3 to 6).
fn match_federated(
    inner: &Inner,
    identity: &Identity,
    presented: &Presented,
) -> Result<(), Aadsts> {
    let Presented { iss, sub, aud } = presented;
    let now = inner.clock.now();
    let delay = inner.options.fic_propagation_delay;
    let visible: Vec<_> = identity
        .federated
        .iter()
        .filter(|f| f.propagated(now, delay))
        .collect();
    if visible.is_empty() {
        return Err(Aadsts::NoFederatedCredentials {
            client_id: identity.client_id.to_string(),
            display_name: identity.display_name.clone(),
        });
    }
    let by_issuer: Vec<_> = visible.into_iter().filter(|f| &f.issuer == iss).collect();
    if by_issuer.is_empty() {
        if iss.starts_with("https://login.microsoftonline.com/")
            || iss.starts_with("https://sts.windows.net/")
        {
            return Err(Aadsts::EntraIssuedAssertion);
        }
        return Err(Aadsts::NoMatchingIssuer {
            issuer: iss.to_owned(),
        });
    }
    let by_subject: Vec<_> = by_issuer.iter().filter(|f| &f.subject == sub).collect();
    if by_subject.is_empty() {
        if by_issuer
            .iter()
            .any(|f| f.subject.eq_ignore_ascii_case(sub))
        {
            return Err(Aadsts::SubjectCaseMismatch {
                subject: sub.to_owned(),
            });
        }
        return Err(Aadsts::NoMatchingSubject {
            subject: sub.to_owned(),
        });
    }
    if !by_subject
        .iter()
        .any(|f| f.audiences.iter().any(|fa| aud.contains(fa)))
    {
        return Err(Aadsts::NoMatchingAudience {
            audience: aud.join(","),
        });
    }
    Ok(())
}

/// The assertion's `kid` is among the issuer's keys, and that key signed it (RS256).
async fn verify_signature(
    inner: &Inner,
    assertion: &str,
    issuer: &str,
    d: &DecodedJwt,
) -> Result<(), Aadsts> {
    let kid = d.header_str("kid").unwrap_or_default().to_owned();
    let jwks = issuer_keys(inner, issuer, &kid).await?;
    match jwt::verify(assertion, &jwks, &[Algorithm::RS256]) {
        Ok(_) => Ok(()),
        Err(JwtError::UnknownKid(_)) | Err(JwtError::MissingKid) => {
            Err(Aadsts::FederatedKeyNotFound {
                kid,
                issuer: issuer.to_owned(),
            })
        }
        Err(e) => Err(Aadsts::MalformedJwt {
            detail: format!("The token could not be verified with the issuer's key: {e}."),
        }),
    }
}

/// `exp - iat` is at most [`MAX_EXTERNAL_LIFETIME`].
fn check_lifetime(d: &DecodedJwt) -> Result<(), Aadsts> {
    if let (Some(iat), Some(exp)) = (d.claim_i64("iat"), d.claim_i64("exp"))
        && exp - iat > MAX_EXTERNAL_LIFETIME
    {
        return Err(Aadsts::ExternalTokenTooLong {
            iat: description_time(Timestamp::from_second(iat).unwrap_or(Timestamp::UNIX_EPOCH)),
            exp: description_time(Timestamp::from_second(exp).unwrap_or(Timestamp::UNIX_EPOCH)),
        });
    }
    Ok(())
}

/// The issuer's keys, from the cache or the network; refetched once when `kid` is not in a cached
/// set (the issuer may have rotated).
async fn issuer_keys(inner: &Inner, issuer: &str, kid: &str) -> Result<Jwks, Aadsts> {
    let now = inner.clock.now();
    let cached =
        inner
            .cache
            .lock()
            .expect("metadata cache")
            .get(issuer, now, inner.options.metadata_ttl);
    if let Some(jwks) = cached
        && jwks.get(kid).is_some()
    {
        return Ok(jwks);
    }
    let url = Fetcher::discovery_url(issuer);
    let result = inner.fetcher.fetch(issuer).await;
    inner.journal.push(EntraEvent::IssuerFetch {
        at: now,
        issuer: issuer.to_owned(),
        url: url.clone(),
        error: result
            .as_ref()
            .err()
            .map(|e| format!("{}: {}", e.url, e.problem)),
    });
    match result {
        Ok(jwks) => {
            inner
                .cache
                .lock()
                .expect("metadata cache")
                .put(issuer, now, jwks.clone());
            Ok(jwks)
        }
        Err(e) => Err(Aadsts::ExternalOidcEndpointFailed {
            detail: format!("Reason: {} ({})", e.problem, e.url),
        }),
    }
}
