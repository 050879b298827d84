//! Issuing: [`Grant`] (what a token is granted for), minting the signed, registered access token
//! with the claims of the reference's §4, and the endpoint's answer (v2 numbers, v1 strings).

use std::time::Duration;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use mock_kit::Fingerprint;
use mock_kit::jwt::Algorithm;
use mock_kit::secret::random_token;
use rand::Rng as _;
use serde_json::{Map, Value, json};

use super::Endpoint;
use crate::Inner;
use crate::directory::{Identity, Resource, Tenant};
use crate::discovery::{Authority, v1_issuer};
use crate::journal::{TokenEvent, TokenOutcome};

/// A token mock-entra minted.
#[derive(Clone, Debug)]
pub struct Minted {
    pub token: String,
    pub fingerprint: Fingerprint,
    /// The token's unique identifier (`uti` claim).
    pub uti: String,
    /// The `aud` claim.
    pub audience: String,
    pub version: u8,
    pub not_before: i64,
    pub expires_on: i64,
    pub lifetime_seconds: i64,
}

/// What a token is granted: to whom, for what, on which credential, and by which authority.
pub(crate) struct Grant<'a> {
    pub(crate) tenant: &'a Tenant,
    pub(crate) identity: &'a Identity,
    pub(crate) resource: &'a Resource,
    /// The resource as the client named it: a v1 token's `aud`, a v1 answer's `resource`.
    pub(crate) audience_as_requested: &'a str,
    /// `appidacr` (v1) or `azpacr` (v2): `1` for a client secret, `2` for an assertion.
    pub(crate) acr: &'a str,
    /// The host the request came to; v2 issuers name it.
    pub(crate) authority: &'a Authority,
}

impl Grant<'_> {
    /// Signs an access token valid for `lifetime` from now and registers it as a secret.
    pub(crate) fn mint(&self, inner: &Inner, lifetime: Duration) -> Minted {
        let lifetime_s = lifetime.as_secs() as i64;
        let iat = inner.clock.now().as_second();
        let validity = Validity {
            iat,
            nbf: iat,
            exp: iat + lifetime_s,
        };
        let aud = self.audience();
        let uti = random_token(22);
        let claims = self.claims(&aud, &validity, &uti);
        let token = self
            .tenant
            .signing_key()
            .sign(Algorithm::RS256, &self.header(), &Value::Object(claims))
            .expect("signing with a tenant key succeeds");
        let label = format!("{}/{} for {aud}", self.tenant.name, self.identity.name);
        let (_, fingerprint) = inner
            .secrets
            .register(
                mock_kit::SecretKind::EntraAccessToken,
                &label,
                token.clone(),
            )
            .expect("tokens are long");
        Minted {
            token,
            fingerprint,
            uti,
            audience: aud,
            version: self.resource.token_version,
            not_before: validity.nbf,
            expires_on: validity.exp,
            lifetime_seconds: lifetime_s,
        }
    }

    /// Mints a token of the configured lifetime (else a random one between 60 and 90 minutes, as
    /// Entra's vary), notes it in the event, and answers in the endpoint's shape.
    pub(super) fn issue(
        &self,
        inner: &Inner,
        endpoint: Endpoint,
        event: &mut TokenEvent,
    ) -> Response {
        let lifetime = inner
            .options
            .token_lifetime
            .unwrap_or_else(|| Duration::from_secs(rand::thread_rng().gen_range(3600..=5400)));
        let m = self.mint(inner, lifetime);
        event.outcome = TokenOutcome::Issued {
            token: m.fingerprint.clone(),
            uti: m.uti.clone(),
            audience: m.audience.clone(),
            version: m.version,
            expires: Timestamp::from_second(m.expires_on).unwrap_or(inner.clock.now()),
            object_id: self.identity.object_id,
        };
        token_response(m, endpoint, self.audience_as_requested)
    }

    fn v2(&self) -> bool {
        self.resource.token_version == 2
    }

    /// `aud`: a v2 resource by its app ID, a v1 resource as the client named it.
    fn audience(&self) -> String {
        if self.v2() {
            self.resource.app_id.to_string()
        } else {
            self.audience_as_requested.to_owned()
        }
    }

    /// The JOSE header beyond `alg` and `kid`: v1 tokens also carry `x5t`.
    fn header(&self) -> Map<String, Value> {
        let mut header = Map::new();
        if !self.v2() {
            header.insert("x5t".into(), self.tenant.signing_key().kid().into());
        }
        header
    }

    /// The claims of an app-only access token, v1 or v2 by the resource's token version.
    fn claims(&self, aud: &str, validity: &Validity, uti: &str) -> Map<String, Value> {
        let v2 = self.v2();
        let tid = self.tenant.id.to_string();
        let identity = self.identity;
        let mut claims = Map::new();
        claims.insert("aud".into(), aud.into());
        if v2 {
            claims.insert("iss".into(), self.authority.v2_issuer(&tid).into());
        } else {
            claims.insert("iss".into(), v1_issuer(&tid).into());
        }
        claims.insert("iat".into(), validity.iat.into());
        claims.insert("nbf".into(), validity.nbf.into());
        claims.insert("exp".into(), validity.exp.into());
        claims.insert("aio".into(), random_token(56).into());
        if v2 {
            claims.insert("azp".into(), identity.client_id.to_string().into());
            claims.insert("azpacr".into(), self.acr.into());
        } else {
            claims.insert("appid".into(), identity.client_id.to_string().into());
            claims.insert("appidacr".into(), self.acr.into());
            claims.insert("idp".into(), v1_issuer(&tid).into());
        }
        claims.insert("idtyp".into(), "app".into());
        claims.insert("oid".into(), identity.object_id.to_string().into());
        claims.insert("rh".into(), format!("1.{}.", random_token(40)).into());
        claims.insert("sub".into(), identity.object_id.to_string().into());
        claims.insert("tid".into(), tid.clone().into());
        claims.insert("uti".into(), uti.into());
        claims.insert("ver".into(), if v2 { "2.0" } else { "1.0" }.into());
        if let Some(mirid) = identity
            .resource_id
            .as_ref()
            .filter(|_| identity.is_managed())
        {
            claims.insert("xms_mirid".into(), mirid.clone().into());
        }
        claims.insert("xms_tcdt".into(), 1_600_000_000i64.into());
        claims
    }
}

/// When a token is valid, in seconds since the epoch.
struct Validity {
    iat: i64,
    nbf: i64,
    exp: i64,
}

/// The token endpoint's answer: v2 numbers are numbers, v1 numbers are strings and v1 names the
/// resource as requested.
fn token_response(m: Minted, endpoint: Endpoint, audience_as_requested: &str) -> Response {
    let (token, lifetime_s, exp, nbf) = (m.token, m.lifetime_seconds, m.expires_on, m.not_before);
    let expires_in = lifetime_s - 1;
    let body = match endpoint {
        Endpoint::V2 => json!({
            "token_type": "Bearer",
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": token,
        }),
        // v1: every number is a string.
        Endpoint::V1 => json!({
            "token_type": "Bearer",
            "expires_in": expires_in.to_string(),
            "ext_expires_in": expires_in.to_string(),
            "expires_on": exp.to_string(),
            "not_before": nbf.to_string(),
            "resource": audience_as_requested,
            "access_token": token,
        }),
    };
    let mut resp = axum::Json(body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    resp
}
