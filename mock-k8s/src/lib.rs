//! An emulator of the Kubernetes API server for what credential flows touch, speaking the real HTTP
//! API so that `kubectl`, the `kube` crate and the Python `kubernetes` client work unmodified.
//!
//! Module map:
//! - this file: [`ClusterSpec`] (initial objects, issuer, limits), [`MockK8s`] (builder, sites,
//!   kubeconfigs, direct token minting for projected token files), authentication;
//! - [`store`]: namespaces, ServiceAccounts, Secrets, ConfigMaps and RBAC objects with the API
//!   server's create/get/list/update/patch/delete semantics and `Status` errors; its parts
//!   (re-exported by `store`): `types` (the resource types served), `error` ([`store::ApiError`]),
//!   `validation` (names and metadata), `selector` (label selectors);
//! - [`rbac`]: the authorizer (rules union, built-in discovery roles, forbidden messages);
//! - [`request_info`]: a request's verb, resource, namespace and name as apimachinery reads them:
//!   RBAC's verb and the audit log's fields, shared with the harness's site for real API servers;
//! - `api` (private): the HTTP surface; `api` authenticates, impersonates, authorizes and audits
//!   each request and hands it to a module: `target` (what a path addresses, RBAC's attributes), `access` (impersonation, SelfSubjectAccessReview), `objects` (CRUD, tables for
//!   `kubectl get`), `token_request` (TokenRequest), `discovery` (discovery, OpenAPI v3 stubs so
//!   `kubectl` uses server-side field validation, the issuer documents), `status` (answers);
//! - [`kubeconfig`]: kubeconfig files for the admin and for ServiceAccounts;
//! - `projected` (private): projected token files rotated at 80% of their lifetime, as the
//!   kubelet does for workload-identity pods;
//! - `protobuf` (private): the protobuf request bodies typed clients send (`kubectl create
//!   token`, `auth can-i`, `create namespace`), read into JSON.
//!
//! Each cluster has its own issuer URL and signing key ([`mock_kit::OidcIssuer`]); the documents
//! are served by the API server (behind RBAC, as on a real cluster) and published at the issuer
//! URL through the front door (as AKS publishes them), where mock-entra fetches them.

mod api;
pub mod kubeconfig;
mod projected;
mod protobuf;
pub mod rbac;
pub mod request_info;
pub mod store;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use jiff::Timestamp;
use mock_kit::issuer::ServiceAccountClaims;
use mock_kit::jwt::{self, Algorithm};
use mock_kit::secret::Secret;
use mock_kit::{Clock, Fingerprint, Journal, OidcIssuer, SecretRegistry, Site};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use projected::ProjectedToken;
use rbac::UserInfo;
use store::{Store, by_kind};

/// What a cluster starts with.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    pub name: String,
    /// The service-account issuer; default `https://oidc.<name>.credsim.test/`.
    pub issuer: Option<String>,
    /// `--service-account-max-token-expiration`; `None` is no cap.
    pub max_token_expiration: Option<Duration>,
    /// Objects created at start, in order (namespaces first).
    pub objects: Vec<Value>,
}

impl ClusterSpec {
    /// A cluster with the `default` and `kube-system` namespaces.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            issuer: None,
            max_token_expiration: None,
            objects: vec![
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}),
            ],
        }
    }

    /// Sets the issuer URL.
    pub fn issuer(mut self, url: &str) -> Self {
        self.issuer = Some(url.to_owned());
        self
    }

    /// Adds a namespace.
    pub fn namespace(self, name: &str) -> Self {
        self.object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    }

    /// Adds a ServiceAccount with annotations.
    pub fn service_account(
        self,
        namespace: &str,
        name: &str,
        annotations: &[(&str, &str)],
    ) -> Self {
        let ann: serde_json::Map<String, Value> = annotations
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        self.object(json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace, "annotations": ann}}))
    }

    /// Adds any supported object (`apiVersion`, `kind`, `metadata.name`, and `metadata.namespace`
    /// for namespaced kinds).
    pub fn object(mut self, obj: Value) -> Self {
        self.objects.push(obj);
        self
    }

    /// The issuer URL this cluster uses.
    pub fn issuer_url(&self) -> String {
        self.issuer
            .clone()
            .unwrap_or_else(|| format!("https://oidc.{}.credsim.test/", self.name))
    }
}

/// Why a cluster could not be built.
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    #[error("cluster {cluster}: object {index} ({kind} {name:?}): {message}")]
    Object {
        cluster: String,
        index: usize,
        kind: String,
        name: String,
        message: String,
    },
    #[error("cluster {0}: the issuer is invalid")]
    Issuer(String, #[source] mock_kit::issuer::IssuerError),
    #[error("minting a token failed: {0}")]
    Token(String),
    #[error("cluster {cluster}: patch refused: {message}")]
    Patch { cluster: String, message: String },
    #[error("cluster {cluster}: creating {kind} {name:?} refused: {message}")]
    Create {
        cluster: String,
        kind: String,
        name: String,
        message: String,
    },
}

/// One audited request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub at: Timestamp,
    pub cluster: String,
    pub user: String,
    /// The user the request acted as, when the caller impersonated one (`kubectl --as`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonated_user: Option<String>,
    pub verb: String,
    pub path: String,
    pub resource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub status: u16,
    pub token_request: Option<TokenRequestRecord>,
}

/// A TokenRequest as the audit log keeps it (never the token).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequestRecord {
    pub namespace: String,
    pub service_account: String,
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
    pub bound_object: Option<Value>,
    pub token: Fingerprint,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub name: String,
    pub issuer: OidcIssuer,
    pub store: RwLock<Store>,
    pub clock: Clock,
    pub secrets: SecretRegistry,
    pub audit: Journal<AuditEvent>,
    pub admin_token: Secret<String>,
    pub max_expiration: Option<Duration>,
}

/// A running cluster. Cloning shares it.
#[derive(Clone, Debug)]
pub struct MockK8s {
    inner: Arc<Inner>,
}

/// Builds a [`MockK8s`].
#[derive(Debug)]
pub struct MockK8sBuilder {
    spec: ClusterSpec,
    clock: Option<Clock>,
    secrets: Option<SecretRegistry>,
    journal_capacity: Option<usize>,
}

impl MockK8sBuilder {
    /// The run's clock.
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

    /// The run's secret registry (tokens are registered in it).
    pub fn secrets(mut self, secrets: SecretRegistry) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Creates the issuer and key, mints the admin token, creates the initial objects.
    pub fn build(self) -> Result<MockK8s, K8sError> {
        let spec = self.spec;
        let issuer = OidcIssuer::new(&spec.issuer_url())
            .map_err(|e| K8sError::Issuer(spec.name.clone(), e))?;
        let secrets = self.secrets.unwrap_or_default();
        let clock = self.clock.unwrap_or_else(Clock::system);
        let admin_token = secrets.mint(
            mock_kit::SecretKind::K8sAdminToken,
            &format!("{}/admin", spec.name),
            "",
            40,
        );
        let mut store = Store::default();
        let now = clock.now();
        for (index, obj) in spec.objects.iter().enumerate() {
            let api_version = obj["apiVersion"].as_str().unwrap_or_default();
            let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
            let kind = obj["kind"].as_str().unwrap_or_default();
            let fail = |message: String| K8sError::Object {
                cluster: spec.name.clone(),
                index,
                kind: kind.to_owned(),
                name: obj["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                message,
            };
            let t = by_kind(group, kind)
                .ok_or_else(|| fail(format!("unsupported kind {api_version}/{kind}")))?;
            let ns = obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_owned();
            store
                .create(t, &ns, obj.clone(), now)
                .map_err(|e| fail(e.message))?;
        }
        Ok(MockK8s {
            inner: Arc::new(Inner {
                name: spec.name,
                issuer,
                store: RwLock::new(store),
                clock,
                secrets,
                audit: match self.journal_capacity {
                    Some(n) => Journal::bounded(n),
                    None => Journal::new(),
                },
                admin_token,
                max_expiration: spec.max_token_expiration,
            }),
        })
    }
}

impl MockK8s {
    /// A builder for `spec`.
    pub fn builder(spec: ClusterSpec) -> MockK8sBuilder {
        MockK8sBuilder {
            spec,
            clock: None,
            secrets: None,
            journal_capacity: None,
        }
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The API server's host name through the front door (`<cluster>.k8s.credsim.test`).
    pub fn api_host(&self) -> String {
        format!("{}.k8s.credsim.test", self.inner.name)
    }

    /// The API server: site `k8s/<cluster>` at [`MockK8s::api_host`], with its own direct
    /// loopback listener (which kubeconfigs point at).
    pub fn site(&self) -> Site {
        Site::new(
            format!("k8s/{}", self.inner.name),
            api::router(self.inner.clone()),
        )
        .host(self.api_host().as_str())
        .internal_error({
            let inner = self.inner.clone();
            move |failure| {
                // The audit log's entry for a request the server failed on: who sent it is not
                // known (the handler failed before or while it authenticated), the verb is the
                // HTTP method's.
                inner.audit.push(AuditEvent {
                    at: inner.clock.now(),
                    cluster: inner.name.clone(),
                    user: String::new(),
                    impersonated_user: None,
                    verb: failure.method.to_ascii_lowercase(),
                    path: failure.path.to_owned(),
                    resource: None,
                    namespace: None,
                    name: None,
                    status: 500,
                    token_request: None,
                });
                internal_error(failure.message)
            }
        })
    }

    /// The issuer documents at the issuer URL (site `issuer/<cluster>`).
    pub fn issuer_site(&self) -> Site {
        self.inner
            .issuer
            .site(&format!("issuer/{}", self.inner.name))
    }

    /// The cluster's issuer.
    pub fn issuer(&self) -> &OidcIssuer {
        &self.inner.issuer
    }

    /// The admin's bearer token.
    pub fn admin_token(&self) -> Secret<String> {
        self.inner.admin_token.clone()
    }

    /// The audit journal.
    pub fn audit(&self) -> &Journal<AuditEvent> {
        &self.inner.audit
    }

    /// A kubeconfig authenticated as `namespace/service_account` (a token for the API server's
    /// audience, valid for `lifetime`), for the API server at `server` trusted through `ca_pem`.
    pub fn service_account_kubeconfig(
        &self,
        namespace: &str,
        service_account: &str,
        server: &str,
        ca_pem: &str,
        lifetime: Duration,
    ) -> Result<String, K8sError> {
        let token = self.service_account_token(
            namespace,
            service_account,
            &[self.inner.issuer.url()],
            lifetime,
        )?;
        Ok(kubeconfig::render(
            &self.inner.name,
            server,
            ca_pem,
            service_account,
            token.expose(),
            Some(namespace),
        ))
    }

    /// A copy of an object.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let group = if matches!(
            kind,
            "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding"
        ) {
            "rbac.authorization.k8s.io"
        } else {
            ""
        };
        let t = by_kind(group, kind)?;
        self.inner
            .store
            .read()
            .expect("store")
            .get(t, namespace, name)
            .ok()
    }

    /// Copies of every object of a core or RBAC kind, in every namespace, in name order.
    pub fn list(&self, kind: &str) -> Vec<Value> {
        let group = if matches!(
            kind,
            "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding"
        ) {
            "rbac.authorization.k8s.io"
        } else {
            ""
        };
        let Some(t) = by_kind(group, kind) else {
            return Vec::new();
        };
        self.inner
            .store
            .read()
            .expect("store")
            .list(t, None, None)
            .unwrap_or_default()
    }

    /// Creates an object as the cluster's admin would (`kubectl create`): a project added
    /// mid-run. The object is one [`ClusterSpec::object`] takes; refused as the API server refuses
    /// it (an unsupported kind, a name that exists, a namespace that does not). Returns the stored
    /// object.
    pub fn create(&self, obj: Value) -> Result<Value, K8sError> {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default();
        let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
        let kind = obj["kind"].as_str().unwrap_or_default().to_owned();
        let fail = |message: String| K8sError::Create {
            cluster: self.inner.name.clone(),
            kind: kind.clone(),
            name: obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            message,
        };
        let t = by_kind(group, &kind)
            .ok_or_else(|| fail(format!("unsupported kind {api_version}/{kind}")))?;
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_owned();
        let now = self.inner.clock.now();
        self.inner
            .store
            .write()
            .expect("store")
            .create(t, &ns, obj.clone(), now)
            .map_err(|e| fail(e.message))
    }

    /// Applies a JSON merge patch to an object as the cluster's admin would (`kubectl patch
    /// --type merge`): a scenario changing an annotation mid-run. Returns the patched object.
    pub fn merge_patch(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value, K8sError> {
        let group = if matches!(
            kind,
            "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding"
        ) {
            "rbac.authorization.k8s.io"
        } else {
            ""
        };
        let t = by_kind(group, kind).ok_or_else(|| K8sError::Patch {
            cluster: self.inner.name.clone(),
            message: format!("unsupported kind {kind}"),
        })?;
        self.inner
            .store
            .write()
            .expect("store")
            .patch(t, namespace, name, patch)
            .map_err(|e| K8sError::Patch {
                cluster: self.inner.name.clone(),
                message: e.status()["message"]
                    .as_str()
                    .unwrap_or("patch refused")
                    .to_owned(),
            })
    }

    /// Mints a ServiceAccount token directly (what the kubelet writes into a projected token
    /// file), journaled like a TokenRequest by `system:node`.
    pub fn service_account_token(
        &self,
        namespace: &str,
        service_account: &str,
        audiences: &[&str],
        lifetime: Duration,
    ) -> Result<Secret<String>, K8sError> {
        let sa = self
            .get("ServiceAccount", namespace, service_account)
            .ok_or_else(|| {
                K8sError::Token(format!(
                    "serviceaccounts \"{service_account}\" not found in {namespace}"
                ))
            })?;
        let (token, fp) = mint(
            &self.inner,
            namespace,
            service_account,
            &sa,
            audiences,
            lifetime.as_secs() as i64,
            None,
        )?;
        self.inner.audit.push(AuditEvent::kubelet_token_request(
            &self.inner.name,
            self.inner.clock.now(),
            namespace,
            service_account,
            audiences,
            lifetime,
            fp,
        ));
        Ok(token)
    }
}

impl AuditEvent {
    /// A TokenRequest the kubelet made (a projected token, a pod's token for a credential
    /// provider), as the audit log records it.
    pub fn kubelet_token_request(
        cluster: &str,
        at: Timestamp,
        namespace: &str,
        service_account: &str,
        audiences: &[&str],
        lifetime: Duration,
        token: Fingerprint,
    ) -> Self {
        Self {
            at,
            cluster: cluster.to_owned(),
            user: "system:node:kubelet".into(),
            impersonated_user: None,
            verb: "create".into(),
            path: format!("/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token"),
            resource: Some("serviceaccounts/token".into()),
            namespace: Some(namespace.into()),
            name: Some(service_account.into()),
            status: 201,
            token_request: Some(TokenRequestRecord {
                namespace: namespace.into(),
                service_account: service_account.into(),
                audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
                expiration_seconds: i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX),
                bound_object: None,
                token,
            }),
        }
    }
}

/// Signs a ServiceAccount token and registers it.
pub(crate) fn mint(
    inner: &Inner,
    namespace: &str,
    service_account: &str,
    sa: &Value,
    audiences: &[&str],
    lifetime: i64,
    pod: Option<(&str, &str)>,
) -> Result<(Secret<String>, Fingerprint), K8sError> {
    let token = inner
        .issuer
        .service_account_token(&ServiceAccountClaims {
            namespace,
            service_account,
            service_account_uid: sa["metadata"]["uid"].as_str().unwrap_or_default(),
            audiences,
            issued_at: inner.clock.unix_seconds(),
            lifetime_seconds: lifetime,
            pod,
        })
        .map_err(|e| K8sError::Token(e.to_string()))?;
    inner
        .secrets
        .register(
            mock_kit::SecretKind::K8sServiceAccountToken,
            &format!(
                "{}/{namespace}/{service_account} for {}",
                inner.name,
                audiences.join(",")
            ),
            token,
        )
        .map_err(|e| K8sError::Token(e.to_string()))
}

/// Who a bearer token belongs to: the admin, a ServiceAccount (its token signed by this cluster's
/// issuer, for one of the API server's audiences, unexpired, for a ServiceAccount that still
/// exists with the same UID), or nobody (`Err` with the reason for the audit log).
pub(crate) fn authenticate(inner: &Inner, bearer: Option<&str>) -> Result<UserInfo, String> {
    let Some(token) = bearer else {
        return Ok(UserInfo::anonymous());
    };
    if token == inner.admin_token.expose() {
        return Ok(UserInfo::admin());
    }
    let d =
        jwt::verify(token, &inner.issuer.jwks(), &[Algorithm::RS256]).map_err(|e| e.to_string())?;
    if d.claim_str("iss") != Some(inner.issuer.url()) {
        return Err("the token's issuer is not this cluster's".into());
    }
    // The API server accepts tokens for its own audiences (`--api-audiences`, default the issuer).
    let aud_ok = match d.claims.get("aud") {
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(inner.issuer.url())),
        Some(Value::String(s)) => s == inner.issuer.url(),
        _ => false,
    };
    if !aud_ok {
        return Err("the token is not for this API server's audience".into());
    }
    let now = inner.clock.unix_seconds();
    if d.claim_i64("exp").is_none_or(|e| now >= e) || d.claim_i64("nbf").is_some_and(|n| now < n) {
        return Err("the token has expired".into());
    }
    let k8s = &d.claims.get("kubernetes.io").cloned().unwrap_or_default();
    let ns = k8s["namespace"].as_str().unwrap_or_default();
    let sa_name = k8s["serviceaccount"]["name"].as_str().unwrap_or_default();
    let uid = k8s["serviceaccount"]["uid"].as_str().unwrap_or_default();
    let t = by_kind("", "ServiceAccount").expect("type");
    let sa = inner
        .store
        .read()
        .expect("store")
        .get(t, ns, sa_name)
        .map_err(|_| "the token's ServiceAccount no longer exists".to_owned())?;
    if sa["metadata"]["uid"].as_str() != Some(uid) {
        return Err("the token's ServiceAccount was recreated".into());
    }
    Ok(UserInfo::service_account(ns, sa_name))
}

/// The API server's answer to an internal failure: a `Status` with reason `InternalError`, 500.
fn internal_error(message: &str) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(
            serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": "InternalError", "code": 500}),
        ),
    )
        .into_response()
}
