//! A fake Entra ID that real SDKs cannot tell from the real one, and that checks what Entra checks.
//!
//! Module map:
//! - [`directory`]: tenants, apps, managed identities, federated identity credentials, resources,
//!   signing keys; name-derived GUIDs; Entra's creation-time validation of federated credentials
//!   (the 20-credential limit among them). The GUID scheme and the credential rules themselves are
//!   `entra-rules`', which the scenario loader applies too.
//! - [`errors`]: the AADSTS catalogue and the exact error body clients parse.
//! - `discovery` (private): `.well-known/openid-configuration` (v1, v2), JWKS, MSAL instance
//!   discovery, unknown tenants (`AADSTS90002` quoting the segment as sent).
//! - `token` (private): the v1 and v2 token endpoints: `client_credentials` with a secret (body or
//!   Basic), a certificate assertion (RS256/PS256, `x5t`/`x5t#S256`) or a federated assertion;
//!   scope rules; v1/v2 access tokens with the claims of the reference's §4.
//! - `federation` (private): fetching an external issuer's discovery document and JWKS over the
//!   network (through the front door, like the real service does), with a TTL cache.
//! - [`faults`]: Entra-shaped fault answers (throttling, 5xx) and the per-tenant, per-client,
//!   per-endpoint fault check every handler runs.
//! - [`journal`]: what the fake saw and decided (every token request, every issuer fetch).
//!
//! Usage: `MockEntra::builder().tenant(Tenant::new("contoso")…).build()?`, then serve
//! [`MockEntra::site`] on a [`mock_kit::FrontDoor`]; the fake answers as `login.microsoftonline.com`
//! and its aliases. Every token and secret it mints is registered in the run's
//! [`mock_kit::SecretRegistry`].

pub mod directory;
mod discovery;
pub mod errors;
pub mod faults;
mod federation;
pub mod journal;
mod token;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use mock_kit::{Clock, Faults, Journal, SecretRegistry, Site};

pub use directory::{
    Directory, DirectoryError, FederatedCredential, Identity, IdentityKind, Resource, Tenant,
};
pub use errors::Aadsts;
pub use journal::EntraEvent;
pub use token::Minted;

/// An access token that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The tenant's name in the directory.
    pub tenant: String,
    pub tenant_id: uuid::Uuid,
    /// `oid`: the principal.
    pub object_id: uuid::Uuid,
    /// `appid` (v1) or `azp` (v2).
    pub client_id: String,
    pub audience: String,
    /// `exp`, seconds since the epoch.
    pub expires: i64,
}

/// Why an access token was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    #[error("the token is not a JWT with the expected claims")]
    Malformed,
    #[error("the token names a tenant this directory does not have")]
    UnknownTenant,
    #[error("the token's signature does not verify with its tenant's keys")]
    BadSignature,
    #[error("the token's issuer is not its tenant's")]
    WrongIssuer,
    #[error("the token has expired or is not yet valid")]
    Expired,
}

/// The host names the fake answers for (reference §3.3's public-cloud aliases).
pub const HOSTS: &[&str] = &[
    "login.microsoftonline.com",
    "login.microsoft.com",
    "login.windows.net",
    "sts.windows.net",
];

/// The canonical authority host.
pub const AUTHORITY_HOST: &str = "login.microsoftonline.com";

/// Tunables. The defaults are the real service's behaviour.
#[derive(Clone, Debug)]
pub struct EntraOptions {
    /// Fixed access-token lifetime; `None` draws 60–90 minutes like the real service.
    pub token_lifetime: Option<Duration>,
    /// How long fetched issuer metadata is reused (virtual time).
    pub metadata_ttl: Duration,
    /// Clock skew tolerated on assertion `nbf`/`exp`.
    pub clock_skew: Duration,
    /// How long a federated credential added at run time is unknown to the token endpoint
    /// (it answers the legacy AADSTS70021 meanwhile). The real service takes minutes; the default
    /// is zero so scenarios opt in.
    pub fic_propagation_delay: Duration,
}

impl Default for EntraOptions {
    fn default() -> Self {
        Self {
            token_lifetime: None,
            metadata_ttl: Duration::from_secs(300),
            clock_skew: Duration::from_secs(300),
            fic_propagation_delay: Duration::ZERO,
        }
    }
}

/// How mock-entra reaches external OIDC issuers: through the run's front door.
#[derive(Clone, Debug)]
pub struct Network {
    /// The front door's proxy URL.
    pub proxy_url: String,
    /// The run's CA (PEM), the only one trusted.
    pub ca_pem: String,
}

/// Builds a [`MockEntra`].
#[derive(Debug, Default)]
pub struct MockEntraBuilder {
    tenants: Vec<Tenant>,
    clock: Option<Clock>,
    secrets: Option<SecretRegistry>,
    journal_capacity: Option<usize>,
    network: Option<Network>,
    options: EntraOptions,
    faults: Option<Faults>,
}

impl MockEntraBuilder {
    /// The fault rules to check (default: a new, empty set). Rules may be tagged `tenant`
    /// (tenant name), `client` (client ID) and `endpoint` (`token`, `discovery`, `keys`,
    /// `instance`).
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = Some(faults);
        self
    }

    /// Adds a tenant.
    pub fn tenant(mut self, tenant: Tenant) -> Self {
        self.tenants.push(tenant);
        self
    }

    /// The run's clock (default: the system clock).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Keeps at most `n` journal entries, dropping the oldest (a long-running `credsim up`);
    /// unbounded by default.
    pub fn journal_capacity(mut self, n: usize) -> Self {
        self.journal_capacity = Some(n);
        self
    }

    /// The run's secret registry (default: a new one).
    pub fn secrets(mut self, secrets: SecretRegistry) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// How to reach external issuers. Without it, federated assertions fail with AADSTS50166.
    pub fn network(mut self, network: Network) -> Self {
        self.network = Some(network);
        self
    }

    /// Overrides the defaults.
    pub fn options(mut self, options: EntraOptions) -> Self {
        self.options = options;
        self
    }

    /// Derives IDs, mints secrets and keys, validates the directory.
    pub fn build(self) -> Result<MockEntra, DirectoryError> {
        let secrets = self.secrets.unwrap_or_default();
        let mut directory = Directory {
            tenants: self.tenants,
        };
        for t in &mut directory.tenants {
            t.materialise(&secrets)?;
        }
        directory.validate()?;
        let fetcher = federation::Fetcher::new(self.network.as_ref());
        Ok(MockEntra {
            inner: Arc::new(Inner {
                directory: RwLock::new(directory),
                clock: self.clock.unwrap_or_else(Clock::system),
                secrets,
                journal: match self.journal_capacity {
                    Some(n) => Journal::bounded(n),
                    None => Journal::new(),
                },
                fetcher,
                options: self.options,
                cache: Mutex::new(federation::Cache::default()),
                faults: self.faults.unwrap_or_default(),
            }),
        })
    }
}

/// The running fake. Cloning shares it.
#[derive(Clone, Debug)]
pub struct MockEntra {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) directory: RwLock<Directory>,
    pub(crate) clock: Clock,
    pub(crate) secrets: SecretRegistry,
    pub(crate) journal: Journal<EntraEvent>,
    pub(crate) fetcher: federation::Fetcher,
    pub(crate) options: EntraOptions,
    pub(crate) cache: Mutex<federation::Cache>,
    pub(crate) faults: Faults,
}

impl MockEntra {
    /// A builder with no tenants.
    pub fn builder() -> MockEntraBuilder {
        MockEntraBuilder::default()
    }

    /// The fake's HTTP API (testable without a socket).
    pub fn router(&self) -> Router {
        let routes = Router::new()
            .merge(discovery::routes())
            .merge(token::routes())
            .fallback(discovery::fallback)
            .with_state(self.inner.clone());
        // Slashes are collapsed before routing, so this wraps the router rather than its routes.
        Router::new().fallback_service(
            tower::ServiceBuilder::new()
                .map_request(discovery::collapse_slashes)
                .service(routes),
        )
    }

    /// The site to serve on a front door: `mock-entra` at `login.microsoftonline.com` and aliases.
    pub fn site(&self) -> Site {
        let inner = self.inner.clone();
        HOSTS
            .iter()
            .fold(Site::new("mock-entra", self.router()), |s, h| s.host(*h))
            .internal_error(move |failure| {
                inner.journal.push(EntraEvent::InternalError {
                    at: inner.clock.now(),
                    method: failure.method.to_owned(),
                    path: failure.path.to_owned(),
                    message: failure.message.to_owned(),
                });
                internal_error(failure.message)
            })
    }

    /// What the fake saw and decided.
    pub fn journal(&self) -> &Journal<EntraEvent> {
        &self.inner.journal
    }

    /// A copy of the directory as it is now.
    pub fn directory(&self) -> Directory {
        self.inner.directory.read().expect("directory lock").clone()
    }

    /// The run's clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The fault rules the fake checks.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Adds a federated identity credential to an app or identity, validated as on creation; it
    /// becomes usable after [`EntraOptions::fic_propagation_delay`].
    pub fn add_federated_credential(
        &self,
        tenant: &str,
        identity: &str,
        mut fic: FederatedCredential,
    ) -> Result<(), DirectoryError> {
        if fic.created_at.is_none() {
            fic.created_at = Some(self.inner.clock.now());
        }
        let mut dir = self.inner.directory.write().expect("directory lock");
        let id = find_identity_mut(&mut dir, tenant, identity)?;
        id.federated.push(fic);
        if let Err(e) = id.check_federated() {
            id.federated.pop();
            return Err(e);
        }
        Ok(())
    }

    /// Creates a tenant at run time, as an administrator would: IDs derived, secrets and its
    /// signing key minted (and registered), and its federated credentials created now, so they
    /// become usable after [`EntraOptions::fic_propagation_delay`]. Refused as building would
    /// refuse it (a tenant, domain or client ID that exists).
    pub fn add_tenant(&self, mut tenant: Tenant) -> Result<(), DirectoryError> {
        let now = self.inner.clock.now();
        for i in &mut tenant.identities {
            for f in &mut i.federated {
                f.created_at.get_or_insert(now);
            }
        }
        let mut dir = self.inner.directory.write().expect("directory lock");
        dir.add_tenant(tenant, &self.inner.secrets)
    }

    /// Creates an app registration or a managed identity in `tenant` at run time (its
    /// federated credentials created now, as [`Self::add_tenant`]'s). Returns its client ID.
    pub fn add_identity(
        &self,
        tenant: &str,
        mut identity: Identity,
    ) -> Result<uuid::Uuid, DirectoryError> {
        let now = self.inner.clock.now();
        for f in &mut identity.federated {
            f.created_at.get_or_insert(now);
        }
        let mut dir = self.inner.directory.write().expect("directory lock");
        dir.add_identity(tenant, identity, &self.inner.secrets)
    }

    /// Removes a federated identity credential by name; false if there was none.
    pub fn remove_federated_credential(
        &self,
        tenant: &str,
        identity: &str,
        name: &str,
    ) -> Result<bool, DirectoryError> {
        let mut dir = self.inner.directory.write().expect("directory lock");
        let id = find_identity_mut(&mut dir, tenant, identity)?;
        let before = id.federated.len();
        id.federated.retain(|f| f.name != name);
        Ok(id.federated.len() != before)
    }

    /// Publishes a new signing key for `tenant` and signs with it from now on; the old key stays
    /// published. Returns the new `kid`.
    pub fn rotate_signing_key(&self, tenant: &str) -> Result<String, DirectoryError> {
        let key = directory::new_tenant_key()?;
        let kid = key.kid().to_owned();
        let mut dir = self.inner.directory.write().expect("directory lock");
        let t = dir
            .tenant_named_mut(tenant)
            .ok_or_else(|| DirectoryError::UnknownTenant(tenant.to_owned()))?;
        t.keys.push(key);
        t.signing = t.keys.len() - 1;
        Ok(kid)
    }

    /// Mints a token for a managed identity the way the managed-identity endpoint (IMDS, App
    /// Service) hands them out: for `resource` (a resource URI, as IMDS takes it), v1 unless the
    /// resource takes v2, valid 24 hours. Journaled with endpoint `imds`.
    pub fn managed_identity_token(
        &self,
        tenant: &str,
        identity: &str,
        resource: &str,
    ) -> Result<Minted, Aadsts> {
        let (t, id) = {
            let dir = self.inner.directory.read().expect("directory lock");
            let t = dir
                .tenant_named(tenant)
                .ok_or_else(|| Aadsts::TenantNotFound {
                    segment: tenant.to_owned(),
                })?
                .clone();
            let id = t
                .identity_named(identity)
                .ok_or_else(|| Aadsts::AppNotFound {
                    client_id: identity.to_owned(),
                    tenant: t.display_name.clone(),
                })?
                .clone();
            (t, id)
        };
        let mut event = journal::TokenEvent {
            at: self.inner.clock.now(),
            endpoint: "imds".into(),
            tenant_segment: t.id.to_string(),
            tenant_id: Some(t.id),
            client_id: Some(id.client_id.to_string()),
            grant_type: Some("managed-identity".into()),
            identity: Some(id.name.clone()),
            credential: journal::CredentialKind::ManagedIdentity,
            assertion: None,
            scope: Some(resource.to_owned()),
            outcome: journal::TokenOutcome::Faulted { status: 0 },
            client: None,
        };
        let result =
            token::resolve_scope(&t, &id, resource, token::Endpoint::V1).map(|(r, aud)| {
                token::Grant {
                    tenant: &t,
                    identity: &id,
                    resource: &r,
                    audience_as_requested: &aud,
                    acr: "2",
                    authority: &discovery::Authority::from_context(None),
                }
                .mint(&self.inner, Duration::from_secs(24 * 3600))
            });
        event.outcome = match &result {
            Ok(m) => journal::TokenOutcome::Issued {
                token: m.fingerprint.clone(),
                uti: m.uti.clone(),
                audience: m.audience.clone(),
                version: m.version,
                expires: jiff::Timestamp::from_second(m.expires_on).unwrap_or(event.at),
                object_id: id.object_id,
            },
            Err(e) => journal::TokenOutcome::Error {
                code: e.code(),
                error: e.error().to_owned(),
            },
        };
        self.inner.journal.push(EntraEvent::Token(Box::new(event)));
        result
    }

    /// Verifies an access token this fake issued, as a resource server (ACR) does: the signature
    /// against the keys of the tenant its `tid` names, the issuer of that tenant (v1 or v2 form),
    /// and `nbf`/`exp` against the virtual clock. The audience is the caller's to check.
    pub fn verify_access_token(&self, token: &str) -> Result<VerifiedToken, TokenRejection> {
        let decoded =
            mock_kit::jwt::decode_unverified(token).map_err(|_| TokenRejection::Malformed)?;
        let tid = decoded
            .claim_str("tid")
            .and_then(|t| uuid::Uuid::parse_str(t).ok())
            .ok_or(TokenRejection::Malformed)?;
        let dir = self.inner.directory.read().expect("directory lock");
        let tenant = dir
            .tenants
            .iter()
            .find(|t| t.id == tid)
            .ok_or(TokenRejection::UnknownTenant)?;
        let jwks = mock_kit::Jwks::of(tenant.keys.iter());
        let verified = mock_kit::jwt::verify(token, &jwks, &[mock_kit::jwt::Algorithm::RS256])
            .map_err(|_| TokenRejection::BadSignature)?;
        let iss = verified.claim_str("iss").unwrap_or_default();
        let v1 = discovery::v1_issuer(&tid.to_string());
        let v2_suffix = format!("/{tid}/v2.0");
        if iss != v1 && !(iss.starts_with("https://") && iss.ends_with(&v2_suffix)) {
            return Err(TokenRejection::WrongIssuer);
        }
        let now = self.inner.clock.unix_seconds();
        let (nbf, exp) = (verified.claim_i64("nbf"), verified.claim_i64("exp"));
        if exp.is_none_or(|e| now >= e) || nbf.is_some_and(|n| now < n) {
            return Err(TokenRejection::Expired);
        }
        let oid = verified
            .claim_str("oid")
            .and_then(|o| uuid::Uuid::parse_str(o).ok())
            .ok_or(TokenRejection::Malformed)?;
        let appid = verified
            .claim_str("appid")
            .or_else(|| verified.claim_str("azp"))
            .unwrap_or_default()
            .to_owned();
        Ok(VerifiedToken {
            tenant: tenant.name.clone(),
            tenant_id: tid,
            object_id: oid,
            client_id: appid,
            audience: verified.claim_str("aud").unwrap_or_default().to_owned(),
            expires: exp.unwrap_or_default(),
        })
    }

    /// Checks a client secret as the token endpoint would (for services that accept a service
    /// principal's ID and secret themselves, like ACR's Basic auth). Returns the tenant name and
    /// the identity.
    pub fn check_client_secret(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<(String, Identity), Aadsts> {
        let dir = self.inner.directory.read().expect("directory lock");
        let (tenant, identity) = dir
            .find_client(client_id)
            .ok_or_else(|| Aadsts::AppNotFound {
                client_id: client_id.to_owned(),
                tenant: "any tenant".into(),
            })?;
        let now = self.inner.clock.now();
        let matching = identity
            .secrets
            .iter()
            .find(|s| s.value.expose() == secret)
            .ok_or_else(|| Aadsts::InvalidClientSecret {
                client_id: client_id.to_owned(),
            })?;
        if matching.expires.is_some_and(|e| e <= now) {
            return Err(Aadsts::ExpiredClientSecret {
                client_id: client_id.to_owned(),
            });
        }
        Ok((tenant.name.clone(), identity.clone()))
    }

    /// Forgets cached issuer metadata (as if its TTL had passed).
    pub fn clear_metadata_cache(&self) {
        *self.inner.cache.lock().expect("metadata cache") = federation::Cache::default();
    }
}

fn find_identity_mut<'a>(
    dir: &'a mut Directory,
    tenant: &str,
    identity: &str,
) -> Result<&'a mut Identity, DirectoryError> {
    let t = dir
        .tenant_named_mut(tenant)
        .ok_or_else(|| DirectoryError::UnknownTenant(tenant.to_owned()))?;
    t.identities
        .iter_mut()
        .find(|i| i.name == identity)
        .ok_or_else(|| DirectoryError::UnknownIdentity {
            tenant: tenant.to_owned(),
            identity: identity.to_owned(),
        })
}

/// Entra's answer to an internal failure: `500` with OAuth's `server_error`.
fn internal_error(message: &str) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(serde_json::json!({"error": "server_error", "error_description": message})),
    )
        .into_response()
}
