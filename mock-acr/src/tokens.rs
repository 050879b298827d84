//! ACR's own tokens: JWTs signed with the registry's key, issuer `Azure Container Registry`,
//! audience the login server (reference §1.5). Refresh tokens name the principal (`sub`), its
//! tenant and a snapshot of its permitted actions; access tokens carry the granted `access` list.
//! Both are registered as secrets. Authorization is re-evaluated from the live role assignments
//! whenever an access token is issued (the snapshot in the refresh token is informational), so a
//! revoked role stops working at the next access token: within the access-token lifetime.

use mock_kit::jwt::{self, Algorithm, DecodedJwt};
use mock_kit::{Fingerprint, Jwks};
use serde_json::{Map, Value, json};

use crate::policy::{AccessEntry, Grants};
use crate::{Inner, RegistryState};

pub(crate) const ISSUER: &str = "Azure Container Registry";

/// Who a refresh token speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RefreshSubject {
    pub principal: String,
    pub tenant: Option<String>,
}

fn base_claims(inner: &Inner, reg: &RegistryState, sub: &str, lifetime: i64) -> Map<String, Value> {
    let now = inner.clock.unix_seconds();
    let mut c = Map::new();
    c.insert("jti".into(), uuid::Uuid::new_v4().to_string().into());
    c.insert("sub".into(), sub.into());
    c.insert("nbf".into(), now.into());
    c.insert("exp".into(), (now + lifetime).into());
    c.insert("iat".into(), now.into());
    c.insert("iss".into(), ISSUER.into());
    c.insert("aud".into(), reg.login_server.clone().into());
    c.insert("version".into(), "1.0".into());
    c.insert("roles".into(), json!([]));
    c
}

fn sign(
    inner: &Inner,
    reg: &RegistryState,
    claims: Map<String, Value>,
    kind: mock_kit::SecretKind,
    label: &str,
) -> (String, Fingerprint) {
    let token = reg
        .key
        .sign(Algorithm::RS256, &Map::new(), &Value::Object(claims))
        .expect("signing with the registry key succeeds");
    let (_, fp) = inner
        .secrets
        .register(kind, label, token.clone())
        .expect("tokens are long");
    (token, fp)
}

/// A refresh token for `principal` (an Entra object ID) of `tenant`.
pub(crate) fn refresh_token(
    inner: &Inner,
    reg: &RegistryState,
    principal: &str,
    tenant: &str,
    grants: &Grants,
) -> (String, Fingerprint) {
    let lifetime = inner.options.refresh_token_lifetime.as_secs() as i64;
    let mut c = base_claims(inner, reg, principal, lifetime);
    c.insert("grant_type".into(), "refresh_token".into());
    c.insert("tenant".into(), tenant.into());
    let mut actions: Vec<String> = Vec::new();
    if grants.catalog {
        actions.push("registries/catalog/read".into());
    }
    if !grants.repos.is_empty() {
        actions.push("registries/repositories/content/read".into());
    }
    c.insert(
        "permissions".into(),
        json!({"actions": actions, "notActions": []}),
    );
    sign(
        inner,
        reg,
        c,
        mock_kit::SecretKind::AcrRefreshToken,
        &format!("{} for {principal}", reg.login_server),
    )
}

/// An access token carrying `access`.
pub(crate) fn access_token(
    inner: &Inner,
    reg: &RegistryState,
    principal: &str,
    tenant: Option<&str>,
    access: &[AccessEntry],
) -> (String, Fingerprint) {
    let lifetime = inner.options.access_token_lifetime.as_secs() as i64;
    let mut c = base_claims(inner, reg, principal, lifetime);
    c.insert("grant_type".into(), "access_token".into());
    if let Some(t) = tenant {
        c.insert("tenant".into(), t.into());
    }
    c.insert(
        "access".into(),
        serde_json::to_value(access).expect("access serialises"),
    );
    sign(
        inner,
        reg,
        c,
        mock_kit::SecretKind::AcrAccessToken,
        &format!("{} for {principal}", reg.login_server),
    )
}

/// Why an ACR token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// Not ours, tampered with, or for another registry.
    Invalid,
    Expired,
}

/// Verifies one of this registry's tokens of `grant_type`.
pub(crate) fn verify(
    inner: &Inner,
    reg: &RegistryState,
    token: &str,
    grant_type: &str,
) -> Result<DecodedJwt, Invalid> {
    let jwks = Jwks::of([&reg.key]);
    let d = jwt::verify(token, &jwks, &[Algorithm::RS256]).map_err(|_| Invalid::Invalid)?;
    if d.claim_str("iss") != Some(ISSUER)
        || d.claim_str("aud") != Some(reg.login_server.as_str())
        || d.claim_str("grant_type") != Some(grant_type)
    {
        return Err(Invalid::Invalid);
    }
    let now = inner.clock.unix_seconds();
    if d.claim_i64("exp").is_none_or(|e| now >= e) || d.claim_i64("nbf").is_some_and(|n| now < n) {
        return Err(Invalid::Expired);
    }
    Ok(d)
}

/// The subject of a verified refresh token.
pub(crate) fn refresh_subject(d: &DecodedJwt) -> RefreshSubject {
    RefreshSubject {
        principal: d.claim_str("sub").unwrap_or_default().to_owned(),
        tenant: d.claim_str("tenant").map(str::to_owned),
    }
}

/// The access list of a verified access token.
pub(crate) fn access_of(d: &DecodedJwt) -> Vec<AccessEntry> {
    d.claims
        .get("access")
        .and_then(|a| serde_json::from_value(a.clone()).ok())
        .unwrap_or_default()
}
