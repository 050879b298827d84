//! A fake Azure Container Registry: token exchange, authorization model, OCI read API.
//!
//! Module map:
//! - this file: [`RegistrySpec`] (what a registry holds and who may do what), [`MockAcr`]
//!   (builder, router, sites, journal, run-time changes such as removing a role assignment);
//! - [`model`]: repositories of generated artifacts with real digests (images, Docker images,
//!   Helm charts, indexes);
//! - [`policy`]: legacy and ABAC role models, the scope grammar, the intersection rule;
//! - `tokens` (private): ACR refresh and access tokens (JWTs signed by the registry's key);
//! - `auth` (private): `POST /oauth2/exchange` and `/oauth2/token` (GET with Basic, POST refresh
//!   and anonymous password grants);
//! - `api` (private): the challenge, `/v2/` and the `/acr/v1/` metadata API the Azure SDKs use;
//!   `api` takes each request through routing, authentication and authorization to a module per
//!   part of the API: `route` (paths, the scope each needs, the name/tag/digest grammars),
//!   `access` (Bearer, Basic and anonymous callers, the 401 and its challenge), `lists` (catalog
//!   and tags, paged), `manifests` (GET, HEAD, PUT, referrers), `blobs` (307s to storage),
//!   `uploads` (bounded per registry), `acr_v1` (attributes);
//! - `responses` (private): the answers `api`, `auth` and `storage` share (JSON, the
//!   distribution error shape, header values that cannot panic);
//! - `storage` (private): the fake blob storage the 307s point at, which refuses any request
//!   carrying an `Authorization` header (and journals it, so leaking clients are caught).
//!
//! Entra tokens presented to the exchange are verified against mock-entra
//! ([`mock_entra::MockEntra::verify_access_token`]). Fidelity choices the research notes leave open are
//! written next to the code that makes them (see `auth` and `api`).

mod api;
mod auth;
pub mod model;
pub mod policy;
mod responses;
mod storage;
mod tokens;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use mock_entra::MockEntra;
use mock_kit::secret::Secret;
use mock_kit::{Clock, Fingerprint, Journal, KidStyle, RsaSigningKey, SecretRegistry, Site};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use model::{Repository, RepositorySpec};
use policy::{Action, AuthMode, Grants, RepoCondition, Role};

/// Who a role is assigned to: an app or managed identity of a mock-entra tenant, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignmentSpec {
    pub tenant: String,
    pub identity: String,
    pub role: Role,
    pub condition: Option<RepoCondition>,
}

/// A repository-scoped token and its scope map: `(repository or "*", actions)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSpec {
    pub name: String,
    pub scope_map: Vec<(String, Vec<Action>)>,
}

/// What a registry holds and who may do what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrySpec {
    /// The registry name; the login server is `<name>.azurecr.io`.
    pub name: String,
    /// The mock-entra tenant (by name) the registry lives in.
    pub tenant: String,
    pub mode: AuthMode,
    pub anonymous_pull: bool,
    pub admin_user: bool,
    pub repositories: Vec<RepositorySpec>,
    pub assignments: Vec<AssignmentSpec>,
    pub tokens: Vec<TokenSpec>,
}

impl RegistrySpec {
    /// A legacy-mode registry with nothing in it.
    pub fn new(name: &str, tenant: &str) -> Self {
        Self {
            name: name.to_owned(),
            tenant: tenant.to_owned(),
            mode: AuthMode::Legacy,
            anonymous_pull: false,
            admin_user: false,
            repositories: Vec::new(),
            assignments: Vec::new(),
            tokens: Vec::new(),
        }
    }

    /// Switches to "RBAC Registry + ABAC Repository Permissions" mode.
    pub fn abac(mut self) -> Self {
        self.mode = AuthMode::Abac;
        self
    }

    /// Enables anonymous pull.
    pub fn anonymous_pull(mut self) -> Self {
        self.anonymous_pull = true;
        self
    }

    /// Enables the admin user.
    pub fn admin_user(mut self) -> Self {
        self.admin_user = true;
        self
    }

    /// Adds a repository.
    pub fn repository(mut self, repo: RepositorySpec) -> Self {
        self.repositories.push(repo);
        self
    }

    /// Assigns `role` to `tenant`/`identity`, optionally conditioned (ABAC).
    pub fn assign(
        mut self,
        tenant: &str,
        identity: &str,
        role: Role,
        condition: Option<RepoCondition>,
    ) -> Self {
        self.assignments.push(AssignmentSpec {
            tenant: tenant.to_owned(),
            identity: identity.to_owned(),
            role,
            condition,
        });
        self
    }

    /// Adds a repository-scoped token.
    pub fn token(mut self, name: &str, scope_map: &[(&str, &[Action])]) -> Self {
        self.tokens.push(TokenSpec {
            name: name.to_owned(),
            scope_map: scope_map
                .iter()
                .map(|(r, a)| ((*r).to_owned(), a.to_vec()))
                .collect(),
        });
        self
    }

    /// `<name>.azurecr.io`.
    pub fn login_server(&self) -> String {
        format!("{}.azurecr.io", self.name)
    }
}

/// Token lifetimes. Defaults: refresh about 3 hours (Kargo caches 150 minutes blindly), access
/// 75 minutes, blob SAS URLs 10 minutes.
#[derive(Clone, Debug)]
pub struct AcrOptions {
    pub refresh_token_lifetime: Duration,
    pub access_token_lifetime: Duration,
    pub sas_lifetime: Duration,
}

impl Default for AcrOptions {
    fn default() -> Self {
        Self {
            refresh_token_lifetime: Duration::from_secs(3 * 3600),
            access_token_lifetime: Duration::from_secs(75 * 60),
            sas_lifetime: Duration::from_secs(600),
        }
    }
}

/// Why a registry could not be built or changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AcrError {
    #[error("registry {registry:?}: mock-entra has no tenant {tenant:?}")]
    UnknownTenant { registry: String, tenant: String },
    #[error("registry {registry:?}: no identity {identity:?} in tenant {tenant:?}")]
    UnknownPrincipal {
        registry: String,
        tenant: String,
        identity: String,
    },
    #[error("registry {0:?} is defined twice")]
    DuplicateRegistry(String),
    #[error("no registry named {0:?}")]
    UnknownRegistry(String),
    #[error("generating the registry's signing key failed: {0}")]
    Key(String),
}

/// A role assignment resolved against mock-entra.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Assignment {
    pub spec: AssignmentSpec,
    pub object_id: Uuid,
    pub client_id: Uuid,
    pub tenant_id: Uuid,
}

#[derive(Debug)]
pub(crate) struct RepoToken {
    pub name: String,
    pub passwords: [Secret<String>; 2],
    pub grants: Grants,
}

#[derive(Debug)]
pub(crate) struct RegistryState {
    pub name: String,
    pub login_server: String,
    pub tenant: String,
    pub tenant_id: Uuid,
    pub mode: AuthMode,
    pub anonymous_pull: bool,
    pub admin_passwords: Vec<Secret<String>>,
    pub tokens: Vec<RepoToken>,
    pub assignments: RwLock<Vec<Assignment>>,
    pub key: RsaSigningKey,
    pub content: RwLock<BTreeMap<String, Repository>>,
    /// Upload sessions: id -> (repository, bytes so far).
    pub uploads: Mutex<HashMap<String, (String, Vec<u8>)>>,
    /// Blob SAS signatures: sig -> (repository, digest, expires).
    pub sas: Mutex<HashMap<String, (String, String, i64)>>,
}

impl RegistryState {
    /// What `object_id` of tenant `tenant_id` may do, from the current role assignments.
    pub(crate) fn grants_for(&self, object_id: Uuid) -> Grants {
        let mut g = Grants::default();
        for a in self.assignments.read().expect("assignments").iter() {
            if a.object_id == object_id {
                g.add_role(self.mode, a.spec.role, a.spec.condition.as_ref());
            }
        }
        g
    }

    /// Whether tokens of `tenant_id` may be used for `object_id`: the registry's own tenant, or a
    /// principal of another tenant that the world assigned a role on this registry.
    pub(crate) fn tenant_allowed(&self, tenant_id: Uuid, object_id: Uuid) -> bool {
        tenant_id == self.tenant_id
            || self
                .assignments
                .read()
                .expect("assignments")
                .iter()
                .any(|a| a.object_id == object_id && a.tenant_id == tenant_id)
    }
}

/// One request the fake answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcrEvent {
    pub at: jiff::Timestamp,
    pub registry: String,
    /// `exchange`, `token`, `api` or `storage`; `internal:api` or `internal:storage` when a
    /// handler panicked (a bug in credsim, answered `500 UNKNOWN`).
    pub endpoint: String,
    pub method: String,
    pub path: String,
    /// Who: an Entra object ID, `admin`, `token:<name>`, `anonymous`.
    pub principal: Option<String>,
    pub tenant: Option<String>,
    pub requested: Vec<String>,
    pub granted: Vec<String>,
    pub status: u16,
    pub error: Option<String>,
    /// The token the answer carried, if any.
    pub token: Option<Fingerprint>,
    /// A request to the storage host that carried an `Authorization` header.
    pub authorization_to_storage: bool,
    /// The label of the client's proxy credentials (which shard's implementation sent it), when
    /// it came through the front door with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub entra: MockEntra,
    pub registries: Vec<Arc<RegistryState>>,
    pub clock: Clock,
    pub secrets: SecretRegistry,
    pub journal: Journal<AcrEvent>,
    pub options: AcrOptions,
}

impl Inner {
    pub(crate) fn registry_for_host(&self, host: &str) -> Option<Arc<RegistryState>> {
        let host = host.to_ascii_lowercase();
        self.registries
            .iter()
            .find(|r| r.login_server == host)
            .cloned()
            .or_else(|| (self.registries.len() == 1).then(|| self.registries[0].clone()))
    }

    pub(crate) fn registry_named(&self, name: &str) -> Option<Arc<RegistryState>> {
        self.registries.iter().find(|r| r.name == name).cloned()
    }
}

/// Builds a [`MockAcr`].
#[derive(Debug)]
pub struct MockAcrBuilder {
    entra: MockEntra,
    registries: Vec<RegistrySpec>,
    secrets: Option<SecretRegistry>,
    journal_capacity: Option<usize>,
    options: AcrOptions,
}

impl MockAcrBuilder {
    /// Adds a registry.
    pub fn registry(mut self, spec: RegistrySpec) -> Self {
        self.registries.push(spec);
        self
    }

    /// Keeps at most `n` journal entries, dropping the oldest (a long-running `credsim up`);
    /// unbounded by default.
    pub fn journal_capacity(mut self, n: usize) -> Self {
        self.journal_capacity = Some(n);
        self
    }

    /// The run's secret registry (tokens and passwords are registered in it).
    pub fn secrets(mut self, secrets: SecretRegistry) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Overrides token lifetimes.
    pub fn options(mut self, options: AcrOptions) -> Self {
        self.options = options;
        self
    }

    /// Generates content, mints passwords and keys, resolves principals.
    pub fn build(self) -> Result<MockAcr, AcrError> {
        let secrets = self.secrets.unwrap_or_default();
        let dir = self.entra.directory();
        let mut registries: Vec<Arc<RegistryState>> = Vec::new();
        for spec in self.registries {
            if registries.iter().any(|r| r.name == spec.name) {
                return Err(AcrError::DuplicateRegistry(spec.name));
            }
            registries.push(Arc::new(registry_state(&spec, &dir, &secrets)?));
        }
        Ok(MockAcr {
            inner: Arc::new(Inner {
                clock: self.entra.clock().clone(),
                entra: self.entra,
                registries,
                secrets,
                journal: match self.journal_capacity {
                    Some(n) => Journal::bounded(n),
                    None => Journal::new(),
                },
                options: self.options,
            }),
        })
    }
}

/// A registry as it runs: its tenant and role assignments resolved against mock-entra, its
/// passwords minted (the admin user's, the repository tokens'), its content generated, its
/// signing key made.
fn registry_state(
    spec: &RegistrySpec,
    dir: &mock_entra::Directory,
    secrets: &SecretRegistry,
) -> Result<RegistryState, AcrError> {
    let tenant = dir
        .tenant_named(&spec.tenant)
        .ok_or_else(|| AcrError::UnknownTenant {
            registry: spec.name.clone(),
            tenant: spec.tenant.clone(),
        })?;
    let mut assignments = Vec::new();
    for a in &spec.assignments {
        assignments.push(resolve_assignment(dir, &spec.name, a)?);
    }
    let admin_passwords = admin_passwords(spec, secrets);
    let tokens = repo_tokens(spec, secrets);
    let content = spec
        .repositories
        .iter()
        .map(|r| (r.name.clone(), Repository::generate(&spec.name, r)))
        .collect();
    let key =
        RsaSigningKey::generate(KidStyle::Kubernetes).map_err(|e| AcrError::Key(e.to_string()))?;
    Ok(RegistryState {
        login_server: spec.login_server(),
        name: spec.name.clone(),
        tenant: spec.tenant.clone(),
        tenant_id: tenant.id,
        mode: spec.mode,
        anonymous_pull: spec.anonymous_pull,
        admin_passwords,
        tokens,
        assignments: RwLock::new(assignments),
        key,
        content: RwLock::new(content),
        uploads: Mutex::new(HashMap::new()),
        sas: Mutex::new(HashMap::new()),
    })
}

/// The admin user's two passwords, or none when the admin user is disabled.
fn admin_passwords(spec: &RegistrySpec, secrets: &SecretRegistry) -> Vec<Secret<String>> {
    if !spec.admin_user {
        return Vec::new();
    }
    (0..2)
        .map(|i| {
            secrets.mint(
                mock_kit::SecretKind::AcrAdminPassword,
                &format!("{}/admin/password{}", spec.name, i + 1),
                "",
                52,
            )
        })
        .collect()
}

/// The repository-scoped tokens, each with its grants and two minted passwords.
fn repo_tokens(spec: &RegistrySpec, secrets: &SecretRegistry) -> Vec<RepoToken> {
    spec.tokens
        .iter()
        .map(|t| {
            let mut grants = Grants::default();
            for (repo, actions) in &t.scope_map {
                grants.add_scope_map(repo, actions);
            }
            let pw = |i: usize| {
                secrets.mint(
                    mock_kit::SecretKind::AcrTokenPassword,
                    &format!("{}/token/{}/password{i}", spec.name, t.name),
                    "",
                    52,
                )
            };
            RepoToken {
                name: t.name.clone(),
                passwords: [pw(1), pw(2)],
                grants,
            }
        })
        .collect()
}

fn resolve_assignment(
    dir: &mock_entra::Directory,
    registry: &str,
    a: &AssignmentSpec,
) -> Result<Assignment, AcrError> {
    let missing = || AcrError::UnknownPrincipal {
        registry: registry.to_owned(),
        tenant: a.tenant.clone(),
        identity: a.identity.clone(),
    };
    let tenant = dir.tenant_named(&a.tenant).ok_or_else(missing)?;
    let identity = tenant.identity_named(&a.identity).ok_or_else(missing)?;
    Ok(Assignment {
        spec: a.clone(),
        object_id: identity.object_id,
        client_id: identity.client_id,
        tenant_id: tenant.id,
    })
}

/// The running fake. Cloning shares it.
#[derive(Clone, Debug)]
pub struct MockAcr {
    inner: Arc<Inner>,
}

/// A role assignment as `world.json` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantInfo {
    /// The principal's client ID.
    pub principal: String,
    pub principal_name: String,
    pub role: String,
    /// The repository (or prefix, ending in `/`) an ABAC condition limits it to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
}

impl MockAcr {
    /// A builder for registries whose principals live in `entra`.
    pub fn builder(entra: MockEntra) -> MockAcrBuilder {
        MockAcrBuilder {
            entra,
            registries: Vec::new(),
            secrets: None,
            journal_capacity: None,
            options: AcrOptions::default(),
        }
    }

    /// The API of every registry (routed by host name) — testable without a socket.
    pub fn router(&self) -> Router {
        api::routes()
            .merge(auth::routes())
            .with_state(self.inner.clone())
            .layer(axum::middleware::map_response(api::acr_headers))
    }

    /// `mock-acr` at every registry's `<name>.azurecr.io`; a panic of a handler is answered as the
    /// registry answers an internal failure (`500`, the distribution error body, code `UNKNOWN`).
    pub fn site(&self) -> Site {
        self.inner
            .registries
            .iter()
            .fold(Site::new("mock-acr", self.router()), |s, r| {
                s.host(r.login_server.as_str())
            })
            .internal_error(journaled_internal_error(self.inner.clone(), "api"))
    }

    /// `mock-acr-storage` at every registry's fake blob storage host.
    pub fn storage_site(&self) -> Site {
        let router = storage::routes().with_state(self.inner.clone());
        self.inner
            .registries
            .iter()
            .fold(Site::new("mock-acr-storage", router), |s, r| {
                s.host(storage::host(&r.name).as_str())
            })
            .internal_error(journaled_internal_error(self.inner.clone(), "storage"))
    }

    /// What the fake saw and answered.
    pub fn journal(&self) -> &Journal<AcrEvent> {
        &self.inner.journal
    }

    /// The registries' names.
    pub fn registries(&self) -> Vec<String> {
        self.inner
            .registries
            .iter()
            .map(|r| r.name.clone())
            .collect()
    }

    /// `(login server, tenant name, repositories)` of a registry.
    pub fn describe(&self, registry: &str) -> Option<(String, String, Vec<String>)> {
        let r = self.inner.registry_named(registry)?;
        let repos = r.content.read().expect("content").keys().cloned().collect();
        Some((r.login_server.clone(), r.tenant.clone(), repos))
    }

    /// The tags of a repository, in order.
    pub fn tags(&self, registry: &str, repository: &str) -> Vec<String> {
        let Some(r) = self.inner.registry_named(registry) else {
            return Vec::new();
        };
        let content = r.content.read().expect("content");
        content
            .get(repository)
            .map(|repo| repo.tags.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The role assignments of a registry.
    pub fn grants(&self, registry: &str) -> Vec<GrantInfo> {
        let Some(r) = self.inner.registry_named(registry) else {
            return Vec::new();
        };
        let assignments = r.assignments.read().expect("assignments");
        assignments
            .iter()
            .map(|a| GrantInfo {
                principal: a.client_id.to_string(),
                principal_name: a.spec.identity.clone(),
                role: a.spec.role.display_name().to_owned(),
                repository: a.spec.condition.as_ref().map(|c| match c {
                    RepoCondition::Name(n) => n.clone(),
                    RepoCondition::Prefix(p) => p.clone(),
                }),
            })
            .collect()
    }

    /// The admin user's passwords (empty when the admin user is disabled).
    pub fn admin_passwords(&self, registry: &str) -> Vec<Secret<String>> {
        self.inner
            .registry_named(registry)
            .map(|r| r.admin_passwords.clone())
            .unwrap_or_default()
    }

    /// A repository-scoped token's two passwords.
    pub fn token_passwords(&self, registry: &str, token: &str) -> Option<[Secret<String>; 2]> {
        let r = self.inner.registry_named(registry)?;
        let t = r.tokens.iter().find(|t| t.name == token)?;
        Some(t.passwords.clone())
    }

    /// Adds a role assignment at run time.
    pub fn assign(&self, registry: &str, spec: AssignmentSpec) -> Result<(), AcrError> {
        let r = self
            .inner
            .registry_named(registry)
            .ok_or_else(|| AcrError::UnknownRegistry(registry.to_owned()))?;
        let a = resolve_assignment(&self.inner.entra.directory(), registry, &spec)?;
        r.assignments.write().expect("assignments").push(a);
        Ok(())
    }

    /// Removes every role assignment of `tenant`/`identity` on `registry`; returns how many.
    /// Tokens already issued keep working until they expire; new access tokens stop granting.
    pub fn revoke(&self, registry: &str, tenant: &str, identity: &str) -> Result<usize, AcrError> {
        self.revoke_role(registry, tenant, identity, None)
    }

    /// Removes the principal's assignments of `role` (every role when `None`); returns how many.
    pub fn revoke_role(
        &self,
        registry: &str,
        tenant: &str,
        identity: &str,
        role: Option<Role>,
    ) -> Result<usize, AcrError> {
        let r = self
            .inner
            .registry_named(registry)
            .ok_or_else(|| AcrError::UnknownRegistry(registry.to_owned()))?;
        let mut a = r.assignments.write().expect("assignments");
        let before = a.len();
        a.retain(|x| {
            !(x.spec.tenant == tenant
                && x.spec.identity == identity
                && role.is_none_or(|r| x.spec.role == r))
        });
        Ok(before - a.len())
    }
}

/// The answer to a panic of a handler at `endpoint` (`api` or `storage`), noted in the journal
/// as an `internal` event of the registry the host names.
fn journaled_internal_error(
    inner: Arc<Inner>,
    endpoint: &'static str,
) -> impl Fn(&mock_kit::InternalFailure<'_>) -> axum::response::Response + Send + Sync + 'static {
    move |failure| {
        let host = failure.host.to_ascii_lowercase();
        let registry = inner
            .registries
            .iter()
            .find(|r| r.login_server == host || storage::host(&r.name) == host)
            .map(|r| r.name.clone())
            .unwrap_or_default();
        inner.journal.push(AcrEvent {
            at: inner.clock.now(),
            registry,
            endpoint: format!("internal:{endpoint}"),
            method: failure.method.to_owned(),
            path: failure.path.to_owned(),
            principal: None,
            tenant: None,
            requested: Vec::new(),
            granted: Vec::new(),
            status: 500,
            error: Some(failure.message.to_owned()),
            token: None,
            authorization_to_storage: false,
            client: None,
        });
        internal_error(failure.message)
    }
}

/// A registry's internal failure: `500` with the distribution error body (code `UNKNOWN`).
fn internal_error(message: &str) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(serde_json::json!({"errors": [{"code": "UNKNOWN", "message": message, "detail": null}]})),
    )
        .into_response()
}
