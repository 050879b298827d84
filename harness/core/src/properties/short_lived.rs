//! `short-lived`: returned credentials expire within the policy's limit, and no long-lived secret
//! (an app's client secret, the registry admin password, a repository token's password) is handed
//! out.
//!
//! Threat: returning an app secret or the admin password as the registry credential. Evidence:
//! each returned password identified among the run's secrets (by kind), and the expiry in the
//! token itself (never the implementation's `expiresAt` alone).

use mock_kit::SecretKind;
use scenarios::model::PropertyId;

use super::{PropertyResult, at};
use crate::evidence::Evidence;

/// Secrets that live until someone rotates them: never a credential to hand out.
fn long_lived(kind: SecretKind) -> bool {
    match kind {
        SecretKind::EntraClientSecret
        | SecretKind::AcrAdminPassword
        | SecretKind::AcrTokenPassword => true,
        SecretKind::EntraAccessToken
        | SecretKind::AcrRefreshToken
        | SecretKind::AcrAccessToken
        | SecretKind::AcrBlobSas
        | SecretKind::K8sServiceAccountToken
        | SecretKind::K8sAdminToken
        | SecretKind::ImdsIdentityHeader
        | SecretKind::Canary => false,
    }
}

pub fn judge(e: &Evidence<'_>) -> PropertyResult {
    let returned: Vec<_> = e
        .requests
        .iter()
        .filter(|r| r.credential().is_some())
        .collect();
    if returned.is_empty() {
        return PropertyResult::not_applicable(
            PropertyId::ShortLived,
            "no credential was returned",
        );
    }
    let max = e.scenario.policy.max_credential_lifetime.as_secs() as i64;
    let mut result = PropertyResult::new(
        PropertyId::ShortLived,
        format!("{} returned credential(s)", returned.len()),
    );
    for r in returned {
        let c = r.credential().expect("filtered");
        let kind = e.world.cloud.secrets.identify(&c.password).map(|i| i.kind);
        if let Some(k) = kind.filter(|k| long_lived(*k)) {
            result.fail_at(
                r,
                format!("the implementation handed out a long-lived {k}"),
                format!(
                    "{}: {} for {} returned a {k}",
                    at(r),
                    r.shard,
                    r.request.project
                ),
            );
            continue;
        }
        let exp = mock_kit::jwt::decode_unverified(&c.password)
            .ok()
            .and_then(|d| d.claim_i64("exp"));
        let lifetime = exp
            .map(|x| x - r.at.as_second())
            .or_else(|| c.expires_at.map(|t| t.as_second() - r.at.as_second()));
        match lifetime {
            Some(l) if l > max => result.fail_at(
                r,
                format!("a returned credential lives {l} s (the policy allows {max} s)"),
                format!(
                    "{}: {} for {}: expires {l} s after it was handed out",
                    at(r),
                    r.shard,
                    r.request.project
                ),
            ),
            Some(_) => {}
            None => result.fail_at(
                r,
                "a returned credential has no expiry at all",
                format!(
                    "{}: {} for {}: {} without `exp` or `expiresAt`",
                    at(r),
                    r.shard,
                    r.request.project,
                    kind.map_or("an unregistered secret", SecretKind::as_str)
                ),
            ),
        }
    }
    result
}
