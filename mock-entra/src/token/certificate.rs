//! Certificate assertions: a JWT the app signs itself with a registered certificate's key, named by
//! its thumbprint (`x5t` or `x5t#S256`), for this tenant's token endpoint.

use mock_kit::jwt::{self, Algorithm, DecodedJwt};

use super::assertion::{audiences, check_window};
use crate::Inner;
use crate::directory::{AppCertificate, Identity, Tenant};
use crate::discovery::Authority;
use crate::errors::Aadsts;

/// The thumbprint names a registered certificate, whose key signed the assertion (RS256 or PS256),
/// for this tenant's token endpoint, within its validity window.
pub(super) fn check_certificate_assertion(
    inner: &Inner,
    identity: &Identity,
    assertion: &str,
    d: &DecodedJwt,
    tenant: &Tenant,
    authority: &Authority,
) -> Result<(), Aadsts> {
    let cert = registered_certificate(identity, d)?;
    // Verify against the registered certificate's key, whatever `kid` the client put in.
    jwt::verify_with_key(
        assertion,
        &cert.key.jwk(),
        &[Algorithm::RS256, Algorithm::PS256],
    )
    .map_err(|e| Aadsts::ClientAssertionSignatureInvalid {
        detail: e.to_string(),
    })?;
    // The audience is this tenant's token endpoint.
    let accepted = token_endpoints(tenant, authority);
    let aud = audiences(d);
    if !aud
        .iter()
        .any(|a| accepted.iter().any(|x| x.eq_ignore_ascii_case(a)))
    {
        return Err(Aadsts::MalformedJwt {
            detail: format!(
                "The client assertion's audience {aud:?} is not this tenant's token endpoint."
            ),
        });
    }
    check_window(inner, d)
}

/// The identity's certificate the assertion's thumbprint names.
fn registered_certificate<'a>(
    identity: &'a Identity,
    d: &DecodedJwt,
) -> Result<&'a AppCertificate, Aadsts> {
    // Thumbprints are compared without base64 padding: azure-identity sends `x5t` padded.
    let x5t = d.header_str("x5t").map(|t| t.trim_end_matches('='));
    let s256 = d.header_str("x5t#S256").map(|t| t.trim_end_matches('='));
    identity
        .certificates
        .iter()
        .find(|c| Some(c.x5t().as_str()) == x5t || Some(c.x5t_s256().as_str()) == s256)
        .ok_or_else(|| Aadsts::ClientAssertionSignatureInvalid {
            detail: format!(
                "The certificate with identifier used to sign the client assertion is not registered on \
                 application. [Reason - The key was not found., Thumbprint of key used by client: '{}']",
                s256.or(x5t).unwrap_or_default()
            ),
        })
}

/// Every spelling of this tenant's token endpoints (by ID or domain, v1 or v2, at the authority
/// the request came to or the canonical host) a certificate assertion may name as its audience.
fn token_endpoints(tenant: &Tenant, authority: &Authority) -> Vec<String> {
    [tenant.id.to_string()]
        .into_iter()
        .chain(tenant.domains.iter().cloned())
        .flat_map(|t| {
            [
                format!("{}/{t}/oauth2/v2.0/token", authority.base),
                format!("{}/{t}/oauth2/token", authority.base),
                format!("https://login.microsoftonline.com/{t}/oauth2/v2.0/token"),
                format!("https://login.microsoftonline.com/{t}/oauth2/token"),
                format!("https://login.microsoftonline.com/{t}/v2.0"),
            ]
        })
        .collect()
}
