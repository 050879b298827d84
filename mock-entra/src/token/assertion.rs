//! What certificate and federated client assertions share: the summary the journal keeps, the
//! audiences, which kind an assertion is, and the validity window.

use jiff::Timestamp;
use mock_kit::Fingerprint;
use mock_kit::jwt::DecodedJwt;
use serde_json::Value;

use crate::Inner;
use crate::errors::{Aadsts, description_time};
use crate::journal::AssertionSummary;

/// What the journal keeps of an assertion: its fingerprint and its claims, never the value.
pub(super) fn summarise(assertion: &str, d: &DecodedJwt) -> AssertionSummary {
    AssertionSummary {
        fingerprint: Fingerprint::of(assertion),
        iss: d.claim_str("iss").map(str::to_owned),
        sub: d.claim_str("sub").map(str::to_owned),
        aud: audiences(d),
        iat: d.claim_i64("iat"),
        nbf: d.claim_i64("nbf"),
        exp: d.claim_i64("exp"),
        kid: d.header_str("kid").map(str::to_owned),
    }
}

/// `aud`, a string or an array of them.
pub(super) fn audiences(d: &DecodedJwt) -> Vec<String> {
    match d.claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// A certificate assertion names the app as its own issuer and carries a certificate thumbprint.
pub(super) fn is_certificate_assertion(d: &DecodedJwt, client_id: &str) -> bool {
    let thumbprint = d.header_str("x5t").is_some() || d.header_str("x5t#S256").is_some();
    thumbprint
        && d.claim_str("iss")
            .is_some_and(|i| i.eq_ignore_ascii_case(client_id))
}

/// `nbf <= now <= exp`, with the configured skew.
pub(super) fn check_window(inner: &Inner, d: &DecodedJwt) -> Result<(), Aadsts> {
    let now = inner.clock.now();
    let skew = inner.options.clock_skew.as_secs() as i64;
    let t = now.as_second();
    let nbf = d.claim_i64("nbf");
    let exp = d.claim_i64("exp");
    let too_early = nbf.is_some_and(|n| t + skew < n);
    let too_late = exp.is_none_or(|e| t - skew >= e);
    if too_early || too_late {
        let ts = |s: Option<i64>| {
            description_time(
                s.and_then(|s| Timestamp::from_second(s).ok())
                    .unwrap_or(Timestamp::UNIX_EPOCH),
            )
        };
        return Err(Aadsts::AssertionOutsideValidity {
            now: description_time(now),
            nbf: ts(nbf),
            exp: ts(exp),
        });
    }
    Ok(())
}
