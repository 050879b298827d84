//! Clusters credsim does not run itself: `backend: kubeconfig` (any API server) and
//! `backend: kind`, reached through one code path, [`ClusterHandle`].
//!
//! An external cluster joins a world in four moves:
//!
//! 1. **Connect** with the kubeconfig's (administrator's) credentials, or create a kind cluster
//!    wired to a fresh signing key and the scenario's issuer URL.
//! 2. **Check and publish the issuer**: the API server's discovery document must name the
//!    scenario's issuer URL; its JWKS is then served at that URL through the front door, where
//!    mock-entra fetches it (a real cluster's issuer is not reachable from a sealed world).
//! 3. **Provision** the scenario's namespaces, ServiceAccounts, the controller's RBAC and raw
//!    objects through the Kubernetes API, resolving each kind by API discovery. Namespaces that
//!    already exist are used as they are; any other object that already exists is an error, since
//!    credsim will not overwrite what it did not create. Teardown deletes what it created, newest
//!    first, and waits until the namespaces are gone (a real API server terminates them
//!    asynchronously, and the next scenario reuses the names).
//! 4. **Stand in front of the API server**: site `k8s/<cluster>` at `<cluster>.k8s.credsim.test`
//!    forwards every request of the implementation to the real API server, with the caller's own
//!    credentials (never the administrator's), and keeps an audit journal in mock-k8s's format from
//!    what passes: who asked (the `sub` of the bearer token, which the API server has just
//!    authenticated), the verb, the resource, the status and every TokenRequest with its audiences
//!    and expiration. The minted tokens are registered as secrets, so the leak and destination
//!    properties see them. The properties therefore read the same evidence for every backend, and
//!    the front door's egress record and cluster faults work as for embedded clusters.
//!
//! What an external cluster cannot do, the world builder refuses with the reason: a fixed
//! `startTime` or `advance` steps (a real API server's clock does not move with the scenario's),
//! rotating the cluster's keys, and sharing an issuer URL with another cluster.
//!
//! Responses are buffered, so `watch` requests through the site end when the API server ends
//! them; credential flows do not watch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::{HeaderMap, Method, StatusCode};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use mock_k8s::request_info::RequestInfo;
use mock_k8s::{AuditEvent, TokenRequestRecord};
use mock_kit::{Clock, FrontDoor, Journal, Secret, SecretRegistry, Site};
use serde_json::{Value, json};

use crate::clusters::{ClusterError, ClusterHandle, ClusterKind, KindBackend};

/// How long teardown waits for a namespace to finish terminating.
const NAMESPACE_GONE_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest request body the site forwards.
const MAX_BODY: usize = 16 << 20;

/// An object credsim created, to delete at teardown.
#[derive(Clone, Debug)]
struct Created {
    resource: ApiResource,
    namespace: Option<String>,
    name: String,
}

struct Inner {
    name: String,
    handle: ClusterHandle,
    kind: Option<(KindBackend, tempfile::TempDir)>,
    audit: Journal<AuditEvent>,
    created: Mutex<Vec<Created>>,
    secrets: SecretRegistry,
    clock: Clock,
    upstream: reqwest::Client,
}

/// A cluster the world reaches through the Kubernetes API (cheap to clone).
#[derive(Clone)]
pub struct ExternalCluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ExternalCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalCluster")
            .field("name", &self.inner.name)
            .field("backend", &self.inner.handle.backend)
            .field("server", &self.inner.handle.server)
            .finish_non_exhaustive()
    }
}

impl ExternalCluster {
    /// Connects to the cluster of a kubeconfig file (`backend: kubeconfig`).
    pub async fn from_kubeconfig(
        name: &str,
        issuer: &str,
        path: &Path,
        secrets: SecretRegistry,
        clock: Clock,
    ) -> Result<Self, ClusterError> {
        let handle = ClusterHandle::from_kubeconfig_file(name, issuer, path).await?;
        Self::new(handle, None, secrets, clock)
    }

    /// Creates a kind cluster that signs with a fresh key for `issuer` (`backend: kind`).
    pub async fn create_kind(
        name: &str,
        issuer: &str,
        secrets: SecretRegistry,
        clock: Clock,
    ) -> Result<Self, ClusterError> {
        let other = |what: String| ClusterError::Other {
            cluster: name.to_owned(),
            what,
        };
        let dir = tempfile::tempdir().map_err(|e| other(e.to_string()))?;
        let key = mock_kit::RsaSigningKey::generate(mock_kit::KidStyle::Kubernetes)
            .map_err(|e| other(e.to_string()))?;
        // kind names clusters `kind-<name>` in kubeconfigs; a scenario's cluster names are short.
        let (kind, handle) = KindBackend::create(name, issuer, &key, dir.path()).await?;
        Self::new(handle, Some((kind, dir)), secrets, clock)
    }

    fn new(
        handle: ClusterHandle,
        kind: Option<(KindBackend, tempfile::TempDir)>,
        secrets: SecretRegistry,
        clock: Clock,
    ) -> Result<Self, ClusterError> {
        let other = |what: String| ClusterError::Other {
            cluster: handle.name.clone(),
            what,
        };
        mock_kit::install_crypto_provider();
        // The site forwards the caller's own credentials; this client has none of its own, and
        // it never goes through a proxy from the environment.
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30));
        if handle.accept_invalid_certs {
            builder = builder.danger_accept_invalid_certs(true);
        } else if !handle.root_certs.is_empty() {
            let certs = handle
                .root_certs
                .iter()
                .map(|der| reqwest::Certificate::from_der(der))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| other(format!("the kubeconfig's CA is unusable: {e}")))?;
            builder = builder.tls_certs_only(certs);
        }
        let upstream = builder
            .build()
            .map_err(|e| other(format!("building the forwarding client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                name: handle.name.clone(),
                handle,
                kind,
                audit: Journal::new(),
                created: Mutex::new(Vec::new()),
                secrets,
                clock,
                upstream,
            }),
        })
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn backend(&self) -> ClusterKind {
        self.inner.handle.backend
    }

    /// The kubeconfig credsim connected with (the administrator's, straight to the API server).
    pub fn admin_kubeconfig(&self) -> &str {
        &self.inner.handle.kubeconfig
    }

    /// The issuer URL the API server signs for.
    pub fn issuer_url(&self) -> &str {
        &self.inner.handle.issuer
    }

    /// The API server's host name through the front door, as for embedded clusters.
    pub fn api_host(&self) -> String {
        format!("{}.k8s.credsim.test", self.inner.name)
    }

    /// What passed through the site, plus the harness's own token mints.
    pub fn audit(&self) -> &Journal<AuditEvent> {
        &self.inner.audit
    }

    /// Checks the API server's issuer and publishes its JWKS at the issuer URL (site
    /// `issuer/<cluster>`), then adds the forwarding site `k8s/<cluster>`.
    pub async fn join(&self, door: &FrontDoor) -> Result<(), ClusterError> {
        self.inner.handle.publish_issuer(door).await?;
        door.add_site(self.site())
            .await
            .map(|_| ())
            .map_err(|e| self.other(format!("adding the API server's site failed: {e}")))
    }

    fn other(&self, what: String) -> ClusterError {
        ClusterError::Other {
            cluster: self.inner.name.clone(),
            what,
        }
    }

    fn api_err(&self, what: String) -> impl FnOnce(kube::Error) -> ClusterError {
        let cluster = self.inner.name.clone();
        move |source| ClusterError::Api {
            cluster,
            what,
            source,
        }
    }

    /// The site that forwards to the API server.
    pub fn site(&self) -> Site {
        let router = axum::Router::new()
            .fallback(forward)
            .with_state(self.clone());
        Site::new(format!("k8s/{}", self.inner.name), router).host(self.api_host().as_str())
    }

    /// Creates `objects` (mock-k8s's [`ClusterSpec`](mock_k8s::ClusterSpec) objects, namespaces
    /// first) in the cluster.
    pub async fn provision(&self, objects: &[Value]) -> Result<(), ClusterError> {
        let client = self.inner.handle.client().clone();
        for obj in objects {
            let (resource, namespaced) = self.resource_of(obj).await?;
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let namespace = obj["metadata"]["namespace"]
                .as_str()
                .filter(|_| namespaced)
                .map(str::to_owned);
            let api: Api<DynamicObject> = match &namespace {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
                None => Api::all_with(client.clone(), &resource),
            };
            let dynamic: DynamicObject = serde_json::from_value(obj.clone()).map_err(|e| {
                self.other(format!("{} {name} is not an object: {e}", resource.kind))
            })?;
            match api.create(&PostParams::default(), &dynamic).await {
                Ok(_) => self.inner.created.lock().expect("created").push(Created {
                    resource,
                    namespace,
                    name,
                }),
                Err(kube::Error::Api(s)) if s.code == 409 && resource.kind == "Namespace" => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    return Err(self.other(format!(
                        "{} {}{name} already exists; credsim does not overwrite objects it did not create (delete it, or give the scenario's objects other names)",
                        resource.kind,
                        namespace.map(|n| format!("{n}/")).unwrap_or_default()
                    )));
                }
                Err(e) => {
                    return Err(self.api_err(format!("creating {} {name}", resource.kind))(
                        e,
                    ));
                }
            }
        }
        Ok(())
    }

    async fn resource_of(&self, obj: &Value) -> Result<(ApiResource, bool), ClusterError> {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default();
        let kind = obj["kind"].as_str().unwrap_or_default();
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = kube::discovery::pinned_kind(self.inner.handle.client(), &gvk)
            .await
            .map_err(self.api_err(format!("discovering {api_version} {kind}")))?;
        Ok((resource, caps.scope == kube::discovery::Scope::Namespaced))
    }

    /// Deletes what [`provision`](Self::provision) created, newest first, waits until its
    /// namespaces are gone, and deletes the kind cluster if credsim created it.
    pub async fn teardown(&self) -> Result<(), ClusterError> {
        let created: Vec<Created> =
            std::mem::take(&mut *self.inner.created.lock().expect("created"));
        let client = self.inner.handle.client().clone();
        let mut first_error = None;
        for c in created.iter().rev() {
            let api: Api<DynamicObject> = match &c.namespace {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &c.resource),
                None => Api::all_with(client.clone(), &c.resource),
            };
            match api.delete(&c.name, &DeleteParams::background()).await {
                Ok(_) => {}
                // Deleting its namespace already took it.
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => {
                    first_error.get_or_insert(self
                        .api_err(format!("deleting {} {}", c.resource.kind, c.name))(
                        e
                    ));
                }
            }
        }
        let names: Vec<String> = created
            .iter()
            .filter(|c| c.resource.kind == "Namespace")
            .map(|c| c.name.clone())
            .collect();
        if let Err(e) = self.wait_gone(&names).await {
            first_error.get_or_insert(e);
        }
        if let Some((kind, _dir)) = &self.inner.kind
            && let Err(e) = kind.delete().await
        {
            first_error.get_or_insert(e);
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn wait_gone(&self, namespaces: &[String]) -> Result<(), ClusterError> {
        let api: Api<k8s_openapi::api::core::v1::Namespace> =
            Api::all(self.inner.handle.client().clone());
        let deadline = tokio::time::Instant::now() + NAMESPACE_GONE_TIMEOUT;
        for ns in namespaces {
            loop {
                match api.get_opt(ns).await {
                    Ok(None) => break,
                    Ok(Some(_)) if tokio::time::Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    Ok(Some(_)) => {
                        return Err(self.other(format!(
                            "namespace {ns} is still terminating after {}s",
                            NAMESPACE_GONE_TIMEOUT.as_secs()
                        )));
                    }
                    Err(e) => return Err(self.api_err(format!("waiting for namespace {ns}"))(e)),
                }
            }
        }
        Ok(())
    }

    /// A ServiceAccount token minted as the kubelet would (TokenRequest with the administrator's
    /// credentials), registered as a secret and recorded in the audit journal.
    pub async fn service_account_token(
        &self,
        namespace: &str,
        service_account: &str,
        audiences: &[&str],
        lifetime: Duration,
    ) -> Result<Secret<String>, ClusterError> {
        let issued = self
            .inner
            .handle
            .token_request(
                namespace,
                service_account,
                audiences,
                Some(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)),
            )
            .await?;
        let shown: Vec<String> = if audiences.is_empty() {
            vec!["the API server".into()]
        } else {
            audiences.iter().map(|a| (*a).to_owned()).collect()
        };
        let (token, fp) =
            self.register(namespace, service_account, &shown, issued.token.expose())?;
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

    fn register(
        &self,
        namespace: &str,
        service_account: &str,
        audiences: &[String],
        token: &str,
    ) -> Result<(Secret<String>, mock_kit::Fingerprint), ClusterError> {
        self.inner
            .secrets
            .register(
                mock_kit::SecretKind::K8sServiceAccountToken,
                &format!(
                    "{}/{namespace}/{service_account} for {}",
                    self.inner.name,
                    audiences.join(",")
                ),
                token.to_owned(),
            )
            .map_err(|e| self.other(e.to_string()))
    }

    /// A kubeconfig for `namespace/service_account` that reaches the API server through the
    /// front door's site (`server`, trusting `ca_pem`), with a token for the API server.
    pub async fn service_account_kubeconfig(
        &self,
        namespace: &str,
        service_account: &str,
        server: &str,
        ca_pem: &str,
        lifetime: Duration,
    ) -> Result<String, ClusterError> {
        let token = self
            .service_account_token(namespace, service_account, &[], lifetime)
            .await?;
        Ok(mock_k8s::kubeconfig::render(
            &self.inner.name,
            server,
            ca_pem,
            service_account,
            token.expose(),
            Some(namespace),
        ))
    }

    /// A ServiceAccount's annotations.
    pub async fn service_account_annotations(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<BTreeMap<String, String>, ClusterError> {
        let api: Api<k8s_openapi::api::core::v1::ServiceAccount> =
            Api::namespaced(self.inner.handle.client().clone(), namespace);
        let sa = api
            .get(name)
            .await
            .map_err(self.api_err(format!("reading ServiceAccount {namespace}/{name}")))?;
        Ok(sa.metadata.annotations.unwrap_or_default())
    }

    /// Merge-patches a ServiceAccount (the `annotate` step).
    pub async fn merge_patch_service_account(
        &self,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<(), ClusterError> {
        let api: Api<k8s_openapi::api::core::v1::ServiceAccount> =
            Api::namespaced(self.inner.handle.client().clone(), namespace);
        api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(self.api_err(format!("patching ServiceAccount {namespace}/{name}")))?;
        Ok(())
    }

    /// Where a relative kubeconfig path of a scenario points: next to the scenario file.
    pub fn kubeconfig_path(scenario_file: &str, kubeconfig: &str) -> PathBuf {
        let p = Path::new(kubeconfig);
        if p.is_absolute() {
            return p.to_path_buf();
        }
        Path::new(scenario_file)
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .join(p)
    }
}

/// Headers that belong to one hop, or that the forwarding client sets itself.
fn hop_by_hop(name: &http::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "host"
            | "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
            // Bodies are read here (TokenRequest answers); ask for them uncompressed.
            | "accept-encoding"
            | "content-encoding"
    )
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code});
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY),
        [(http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn forward(State(c): State<ExternalCluster>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return status(413, "RequestEntityTooLarge", &e.to_string()),
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let url = format!(
        "{}{path_and_query}",
        c.inner.handle.server.trim_end_matches('/')
    );
    let mut out = c.inner.upstream.request(parts.method.clone(), &url);
    for (k, v) in &parts.headers {
        if !hop_by_hop(k) {
            out = out.header(k, v);
        }
    }
    let answer = match out.body(body.clone()).send().await {
        Ok(a) => a,
        Err(e) => {
            return status(
                503,
                "ServiceUnavailable",
                &format!(
                    "the API server of cluster {} did not answer: {e}",
                    c.inner.name
                ),
            );
        }
    };
    let code = answer.status();
    let headers = answer.headers().clone();
    let answer_body = match answer.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return status(
                503,
                "ServiceUnavailable",
                &format!("the API server of cluster {} broke off: {e}", c.inner.name),
            );
        }
    };
    let event = audit_event(
        &c,
        &parts.method,
        &parts.uri,
        &parts.headers,
        &body,
        code,
        &answer_body,
    );
    c.inner.audit.push(event);
    let mut resp = Response::builder().status(code);
    for (k, v) in &headers {
        if !hop_by_hop(k) {
            resp = resp.header(k, v);
        }
    }
    resp.body(axum::body::Body::from(answer_body))
        .unwrap_or_else(|e| status(500, "InternalError", &e.to_string()))
}

/// The caller, as the API server authenticated it: the `sub` of a bearer JWT (read, not
/// verified: the API server verified it, and a request it refused is recorded with its status).
fn caller(headers: &HeaderMap) -> String {
    let Some(bearer) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return "system:anonymous".into();
    };
    bearer
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|c| c["sub"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown (not a JWT)".into())
}

/// What a request did, in the API server's audit vocabulary.
fn audit_event(
    c: &ExternalCluster,
    method: &Method,
    uri: &http::Uri,
    headers: &HeaderMap,
    body: &Bytes,
    code: StatusCode,
    answer: &Bytes,
) -> AuditEvent {
    let path = uri.path().to_owned();
    // The same reading of a request as the emulator's own audit log (mock-k8s's RequestInfo).
    let RequestInfo {
        verb,
        resource,
        namespace,
        name,
    } = RequestInfo::of(method, &path, RequestInfo::watch_query(uri.query()));
    let token_request = (resource.as_deref() == Some("serviceaccounts/token")
        && *method == Method::POST
        && code.is_success())
    .then(|| {
        let asked: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let granted: Value = serde_json::from_slice(answer).unwrap_or(Value::Null);
        let ns = namespace.clone().unwrap_or_default();
        let sa = name.clone().unwrap_or_default();
        let spec = if granted["spec"].is_object() {
            &granted["spec"]
        } else {
            &asked["spec"]
        };
        let audiences: Vec<String> = spec["audiences"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let token = granted["status"]["token"].as_str().unwrap_or_default();
        let fp = c
            .register(&ns, &sa, &audiences, token)
            .map(|(_, fp)| fp)
            .unwrap_or_else(|_| mock_kit::Fingerprint::of(token));
        TokenRequestRecord {
            namespace: ns,
            service_account: sa,
            audiences,
            expiration_seconds: spec["expirationSeconds"].as_i64().unwrap_or(3600),
            bound_object: spec.get("boundObjectRef").filter(|b| !b.is_null()).cloned(),
            token: fp,
        }
    });
    AuditEvent {
        at: c.inner.clock.now(),
        cluster: c.inner.name.clone(),
        user: caller(headers),
        impersonated_user: headers
            .get("impersonate-user")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        verb: verb.into(),
        path,
        resource,
        namespace,
        name,
        status: code.as_u16(),
        token_request,
    }
}
