//! The reference implementation: the per-project design the seed discussion converges on.
//!
//! For `credentials/get(project, registry, repository)` on shard S:
//! 1. only `<name>.azurecr.io` exactly is an Azure registry (anchored on the host, never a pattern
//!    found elsewhere in the string), anything else is `unsupported`;
//! 2. the project's dedicated ServiceAccount (`credentials`, or install-time
//!    `PROJECT_SERVICE_ACCOUNT`) in the project's namespace carries the per-shard client-ID
//!    annotation `azure.kargo.akuity.io/<S>.client-id` (the discussion proposes
//!    `azure.kargo.akuity.io/<shard>/client-id`, which is not a valid annotation key: a key has at
//!    most one `/`); the tenant comes from install-time configuration (`TENANT_ID`); either
//!    missing is `not-configured`;
//! 3. a TokenRequest for that ServiceAccount only, audience `api://AzureADTokenExchange`, 10
//!    minutes (the API server's minimum);
//! 4. the Entra federated exchange for an ACR-audience token, then the ACR exchange for a refresh
//!    token, handed out with username `00000000-0000-0000-0000-000000000000` and the token's
//!    expiry;
//! 5. a cache keyed by everything that changes the credential (project, registry, tenant, client
//!    ID), on the virtual clock when the harness sets it, each entry handed out for at most 10
//!    minutes after its exchange (so a revoked federation stops working within that bound) and
//!    never past the credential's expiry;
//! 6. no fallback to the controller's own identity unless install-time
//!    `FALLBACK_TO_CONTROLLER_IDENTITY=on-denial` says so, and then only when the cloud
//!    explicitly denied the project's own identity.
//!
//! [`crate::ReferenceLauncher`] runs it in-process; [`crate::serve`] speaks the exec protocol on stdin/stdout
//! (`credsim reference`), with the same logic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

use credsim::implementation::{Answer, Credential, CredentialRequest, RefusalKind, ShardContext};
use credsim::world::error_chain;

/// The username ACR expects with a refresh token.
pub const NULL_GUID: &str = "00000000-0000-0000-0000-000000000000";
/// The audience ServiceAccount tokens are requested for.
pub const EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
/// How long before its expiry a cached credential is replaced.
const CACHE_MARGIN: Duration = Duration::from_secs(300);
/// How long a cached credential is handed out at most. ACR re-checks role assignments whenever a
/// refresh token is used, but a deleted federated credential or a removed mapping is only noticed
/// by exchanging again: this bounds how long a revoked grant keeps working.
const CACHE_TTL: Duration = Duration::from_secs(600);

use crate::flaw::{Flaw, TELEMETRY_HOST, in_sandbox_network};
use crate::kube::Kube;
use crate::refusal::{Refusal, refuse};

/// The reference, configured for one shard from its environment. Cloning shares its state (the
/// cache, the clock, the log), so that clones answer requests at the same time, as one
/// controller reconciling several projects does.
#[derive(Clone)]
pub struct Reference {
    pub(crate) flaw: Option<Flaw>,
    pub(crate) shard: String,
    pub(crate) env: HashMap<String, String>,
    pub(crate) http: reqwest::Client,
    pub(crate) state: Arc<Mutex<State>>,
    /// Exchanges in flight, by what they are for: a request that misses the cache while an
    /// exchange for the same key is under way waits for it instead of starting its own.
    pub(crate) inflight: Arc<Mutex<HashMap<String, Flight>>>,
    /// The working directory (the process's own for `credsim reference`, the shard's in-process).
    pub(crate) workdir: Option<std::path::PathBuf>,
    /// The temporary folder (the process's own for `credsim reference`; in-process, the shard's
    /// captured `/tmp` when sandboxed).
    pub(crate) tmpdir: std::path::PathBuf,
    /// Only with [`Flaw::TelemetryIgnoresProxy`]: the client that connects straight to the
    /// collector, and (in-process) what stands for the sandbox's network.
    pub(crate) telemetry: Option<Arc<(reqwest::Client, Option<mock_kit::Adoption>)>>,
}

/// An exchange in flight: its outcome, once there is one, for every request that waits on it.
type Flight = Arc<tokio::sync::OnceCell<Result<Credential, Refusal>>>;

/// What the reference remembers between requests.
#[derive(Default)]
pub(crate) struct State {
    /// Credentials and when they were exchanged.
    pub(crate) cache: HashMap<CacheKey, (Credential, Timestamp)>,
    /// Only with [`Flaw::MappingCachedByRegistry`]: registry → (namespace, ServiceAccount, client ID).
    pub(crate) mappings: HashMap<String, (String, String, String)>,
    pub(crate) now: Option<Timestamp>,
    pub(crate) log: Vec<String>,
    /// Only with [`Flaw::LastCredentialOnError`]: the last credential handed out, to anyone.
    pub(crate) last: Option<Credential>,
    /// Only with [`Flaw::GlobalCurrentProject`]: the request being worked on, one field for the
    /// whole controller.
    pub(crate) current: Option<CredentialRequest>,
}

impl std::fmt::Debug for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reference")
            .field("shard", &self.shard)
            .field("cached", &self.state().cache.len())
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    pub(crate) project: String,
    pub(crate) registry: String,
    pub(crate) tenant: String,
    pub(crate) client_id: String,
}

/// What a project's ServiceAccount maps to on this shard: whose token to request, and the
/// identity to exchange it for.
pub(crate) struct Mapping {
    pub(crate) namespace: String,
    pub(crate) service_account: String,
    pub(crate) client_id: String,
}

/// Why the reference's HTTP client could not be made from its environment. Causes are sources:
/// print the chain (`credsim::world::error_chain`).
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    #[error("reading {path}")]
    ReadCa {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("loading the CA certificate of SSL_CERT_FILE failed")]
    Certificate(#[source] reqwest::Error),
    #[error("using HTTPS_PROXY as the proxy failed")]
    Proxy(#[source] reqwest::Error),
    #[error("building the HTTP client failed")]
    Build(#[source] reqwest::Error),
}

/// The HTTP client: the run's CA only, through the front door; with `insecure`, certificates are
/// not verified at all ([`Flaw::NoTlsVerification`]).
fn http_client(
    env: &HashMap<String, String>,
    insecure: bool,
) -> Result<reqwest::Client, HttpClientError> {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(20));
    if let Some(ca) = env.get("SSL_CERT_FILE") {
        let pem = std::fs::read(ca).map_err(|source| HttpClientError::ReadCa {
            path: ca.clone(),
            source,
        })?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(HttpClientError::Certificate)?;
        builder = builder.tls_certs_only([cert]);
    }
    if insecure {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder = match env.get("HTTPS_PROXY").filter(|p| !p.is_empty()) {
        Some(p) => builder.proxy(reqwest::Proxy::all(p).map_err(HttpClientError::Proxy)?),
        None => builder.no_proxy(),
    };
    builder.build().map_err(HttpClientError::Build)
}

/// The first `<name>.azurecr.io` that stands inside `host` between separators (`.` `/` `:`), as a
/// matcher that is not anchored at the host's start finds it.
fn login_server_inside(host: &str) -> Option<String> {
    let at = host.find(".azurecr.io")?;
    let name_start = host[..at]
        .rfind(|c: char| !c.is_ascii_alphanumeric())
        .map_or(0, |i| i + 1);
    let name = &host[name_start..at];
    (!name.is_empty()).then(|| format!("{name}.azurecr.io"))
}

impl Reference {
    /// Configures the reference from an exec-protocol environment.
    pub fn from_env(env: HashMap<String, String>) -> Result<Self, HttpClientError> {
        mock_kit::install_crypto_provider();
        Ok(Self {
            flaw: None,
            shard: env.get("CREDSIM_SHARD").cloned().unwrap_or_default(),
            http: http_client(&env, false)?,
            env,
            state: Arc::default(),
            inflight: Arc::default(),
            telemetry: None,
            workdir: std::env::current_dir().ok(),
            tmpdir: std::env::temp_dir(),
        })
    }

    /// The same reference with one deliberate flaw.
    pub fn with_flaw(mut self, flaw: Option<Flaw>) -> Self {
        self.flaw = flaw;
        if flaw == Some(Flaw::TelemetryIgnoresProxy) && in_sandbox_network() {
            // As a program (`credsim reference --flaw ...` in the sandbox): straight to the
            // collector by name, which the sandbox's resolver puts at the front door.
            let mut env = self.env.clone();
            env.remove("HTTPS_PROXY");
            match http_client(&env, false) {
                Ok(http) => self.telemetry = Some(Arc::new((http, None))),
                Err(e) => self.log(format!("the telemetry client failed: {}", error_chain(&e))),
            }
        }
        if flaw == Some(Flaw::NoTlsVerification) {
            match http_client(&self.env, true) {
                Ok(http) => self.http = http,
                Err(e) => self.log(format!(
                    "the insecure HTTP client failed: {}",
                    error_chain(&e)
                )),
            }
        }
        self
    }

    /// The same reference working in `dir` (in-process, the shard's working directory).
    pub fn in_dir(mut self, dir: &std::path::Path) -> Self {
        self.workdir = Some(dir.to_path_buf());
        self
    }

    /// The same reference in a shard's folders, as it would be in the shard's sandbox: its
    /// working directory, and `/tmp` as the sandbox captures it. Without a sandbox, a folder
    /// beside the working directory that no leak search reads stands for the host's `/tmp`,
    /// which the harness would not see either.
    pub fn in_shard(self, shard: &ShardContext) -> Self {
        let mut r = self.in_dir(&shard.workdir);
        if r.flaw == Some(Flaw::TelemetryIgnoresProxy) {
            r = r.telemetry_in(shard);
        }
        r.tmpdir = match &shard.sandbox {
            Some(sb) => sb.captured.join("tmp"),
            None => shard
                .workdir
                .parent()
                .unwrap_or(&shard.workdir)
                .join("unseen-tmp"),
        };
        r
    }

    /// The collector's client for [`Flaw::TelemetryIgnoresProxy`], as the program would have it
    /// in the shard's sandbox: no proxy, and every address leading to the front door. In-process,
    /// a loopback listener that the front door serves as the sandbox network's `:443` stands for
    /// "every address", and the client resolves the collector there. Without the sandbox's
    /// network there is no client: a program on the host's network would reach the real host,
    /// unseen, and credsim sends nothing beyond this machine, so the flaw goes uncaught there as
    /// it would.
    pub(crate) fn telemetry_in(mut self, shard: &ShardContext) -> Self {
        let Some(net) = shard.sandbox.as_ref().and_then(|sb| sb.network.as_ref()) else {
            return self;
        };
        let client = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| {
            let addr = l.local_addr()?;
            let adoption = net
                .gateway
                .adopt(
                    vec![(l, mock_kit::Adopted::AnyTls)],
                    Some(net.label.clone()),
                )
                .map_err(std::io::Error::other)?;
            let mut builder = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .no_proxy()
                .resolve(TELEMETRY_HOST, addr);
            if let Some(ca) = self.env.get("SSL_CERT_FILE") {
                let pem = std::fs::read(ca)?;
                let cert = reqwest::Certificate::from_pem(&pem).map_err(std::io::Error::other)?;
                builder = builder.tls_certs_only([cert]);
            }
            let http = builder.build().map_err(std::io::Error::other)?;
            Ok((http, Some(adoption)))
        });
        match client {
            Ok(c) => self.telemetry = Some(Arc::new(c)),
            Err(e) => self.log(format!("the telemetry client failed: {e}")),
        }
        self
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.state().now.unwrap_or_else(Timestamp::now)
    }

    pub(crate) fn log(&self, line: String) {
        self.state().log.push(line);
    }

    /// Takes what was logged so far.
    pub(crate) fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut self.state().log)
    }

    /// Runs `fetch` for `key` unless an exchange for `key` is already under way, in which case
    /// its outcome is this one's too (a single-flight group, as Kargo's ACR cache has).
    pub(crate) async fn single_flight<F>(
        &self,
        key: String,
        fetch: F,
    ) -> Result<Credential, Refusal>
    where
        F: std::future::Future<Output = Result<Credential, Refusal>>,
    {
        let cell = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            inflight.entry(key.clone()).or_default().clone()
        };
        let out = cell.get_or_init(|| fetch).await.clone();
        let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        if inflight.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            inflight.remove(&key);
        }
        out
    }

    /// Answers one request.
    pub async fn get(&self, req: &CredentialRequest) -> Answer {
        let answer = self.credential(req).await;
        let answer = match answer {
            Err(Refusal(kind, why))
                if self.flaw == Some(Flaw::FallbackOnAnyError)
                    && kind != RefusalKind::Unsupported =>
            {
                let registry = req.registry.to_ascii_lowercase();
                self.log(format!(
                    "{kind:?}: {why}; falling back to the controller's identity"
                ));
                self.controller_credential(&registry).await
            }
            other => other,
        };
        match answer {
            Ok(c) => {
                if self.flaw == Some(Flaw::LastCredentialOnError) {
                    self.state().last = Some(c.clone());
                }
                Answer::Credential(c)
            }
            Err(Refusal(kind, message)) => {
                self.log(format!("{}: {message}", kind.as_str()));
                let last = self.state().last.clone();
                match last {
                    Some(c) if self.flaw == Some(Flaw::LastCredentialOnError) => {
                        self.log("handing out the last credential instead".into());
                        Answer::Credential(c)
                    }
                    _ => Answer::Refused { kind, message },
                }
            }
        }
    }

    /// One request's steps: the registry's host, the project's mapping on this shard, the
    /// cache, and on a miss the exchanges (one at a time per key).
    pub(crate) async fn credential(&self, req: &CredentialRequest) -> Result<Credential, Refusal> {
        let registry = self.registry_host(req);
        if let Some(c) = self.client_secret_as_password() {
            return Ok(c);
        }
        self.check_azure_registry(&registry, req)?;
        let tenant = self.tenant()?;
        let sa_name = self
            .env
            .get("PROJECT_SERVICE_ACCOUNT")
            .cloned()
            .unwrap_or_else(|| "credentials".into());
        let kube =
            Kube::from_env(&self.env).map_err(|e| refuse(RefusalKind::Internal, e.to_string()))?;
        // The project asked about: the cache is keyed by it whatever the flaw below does.
        let asked = req.project.clone();
        let as_current = self.current_project(&kube, req, &sa_name).await;
        let req = as_current.as_ref().unwrap_or(req);
        let mapping = self.mapping(&kube, req, sa_name).await?;
        let mapping = self.mapping_for_registry(mapping, &registry);
        let key = self.cache_key(&asked, &registry, &tenant, &mapping.client_id);
        let now = self.now();
        if let Some(c) = self.cached(&key, now) {
            return Ok(c);
        }
        // A miss: one exchange per key at a time (a single flight); a request that misses while
        // one for its key is under way takes that one's outcome.
        let flight = if self.flaw == Some(Flaw::SingleFlightByRegistry) {
            registry.clone()
        } else {
            format!("{key:?}")
        };
        let fetch = self.exchange_for(&kube, &mapping, &tenant, &registry, req);
        let credential = self.single_flight(flight, fetch).await?;
        self.state().cache.insert(key, (credential.clone(), now));
        self.leave_traces(req, &registry, &credential).await;
        Ok(credential)
    }

    /// The registry's host as the request names it, lowercased (a flawed reference finds an
    /// Azure login server anywhere inside it).
    fn registry_host(&self, req: &CredentialRequest) -> String {
        let registry = req.registry.to_ascii_lowercase();
        if self.flaw == Some(Flaw::RegistryFoundInsideHost)
            && let Some(found) = login_server_inside(&registry)
        {
            return found;
        }
        registry
    }

    /// Only with [`Flaw::ClientSecretAsPassword`]: the controller's own client secret, handed out.
    fn client_secret_as_password(&self) -> Option<Credential> {
        if self.flaw != Some(Flaw::ClientSecretAsPassword) {
            return None;
        }
        let (id, secret) = (
            self.env.get("AZURE_CLIENT_ID")?,
            self.env.get("AZURE_CLIENT_SECRET")?,
        );
        Some(Credential {
            username: id.clone(),
            password: secret.clone(),
            expires_at: None,
        })
    }

    /// Only `<name>.azurecr.io` exactly is an Azure registry; anything else is `unsupported`.
    fn check_azure_registry(&self, registry: &str, req: &CredentialRequest) -> Result<(), Refusal> {
        let is_acr = if self.flaw == Some(Flaw::HostContainsAzurecr) {
            registry.contains("azurecr.io")
        } else {
            registry.strip_suffix(".azurecr.io").is_some_and(|name| {
                (5..=50).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric())
            })
        };
        if is_acr {
            Ok(())
        } else {
            Err(refuse(
                RefusalKind::Unsupported,
                format!("{:?} is not an Azure Container Registry host", req.registry),
            ))
        }
    }

    /// The tenant from install-time configuration (`TENANT_ID`).
    fn tenant(&self) -> Result<String, Refusal> {
        self.env
            .get("TENANT_ID")
            .cloned()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                refuse(
                    RefusalKind::NotConfigured,
                    "no TENANT_ID is configured for this shard",
                )
            })
    }

    /// Only with [`Flaw::GlobalCurrentProject`]: the project is one field of the controller, set
    /// now, and read again after the ServiceAccount is looked up; a request that started
    /// meanwhile changed it. `None` for the reference, which keeps the request it was given.
    async fn current_project(
        &self,
        kube: &Kube,
        req: &CredentialRequest,
        sa_name: &str,
    ) -> Option<CredentialRequest> {
        if self.flaw != Some(Flaw::GlobalCurrentProject) {
            return None;
        }
        self.state().current = Some(req.clone());
        let _ = kube
            .get(
                &self.http,
                &format!(
                    "/api/v1/namespaces/{}/serviceaccounts/{sa_name}",
                    req.project
                ),
            )
            .await;
        Some(self.state().current.clone().unwrap_or_else(|| req.clone()))
    }

    /// The project's dedicated ServiceAccount and the client ID its per-shard annotation names.
    async fn mapping(
        &self,
        kube: &Kube,
        req: &CredentialRequest,
        sa_name: String,
    ) -> Result<Mapping, Refusal> {
        let sa = kube
            .get(
                &self.http,
                &format!(
                    "/api/v1/namespaces/{}/serviceaccounts/{sa_name}",
                    req.project
                ),
            )
            .await?;
        let sa = match sa {
            Some(sa) => sa,
            // The flaw looks further; the reference does not.
            None if self.flaw == Some(Flaw::AnyAnnotatedServiceAccount) => Value::Null,
            None => {
                return Err(refuse(
                    RefusalKind::NotConfigured,
                    format!("project {} has no ServiceAccount {sa_name}", req.project),
                ));
            }
        };
        let annotation = format!("azure.kargo.akuity.io/{}.client-id", self.shard);
        let mut sa_name = sa_name;
        let mut client_id = sa["metadata"]["annotations"][&annotation]
            .as_str()
            .map(str::to_owned);
        if self.flaw == Some(Flaw::AnyShardMapping) {
            client_id = sa["metadata"]["annotations"]
                .as_object()
                .and_then(|m| {
                    m.iter()
                        .find(|(k, _)| k.ends_with(".client-id"))
                        .and_then(|(_, v)| v.as_str().map(str::to_owned))
                })
                .or(client_id);
        }
        if client_id.is_none()
            && self.flaw == Some(Flaw::AnyAnnotatedServiceAccount)
            && let Some((other, id)) = self
                .any_annotated_service_account(kube, req, &annotation)
                .await?
        {
            (sa_name, client_id) = (other, Some(id));
        }
        let client_id = client_id.ok_or_else(|| {
            refuse(
                RefusalKind::NotConfigured,
                format!(
                    "no managed identity is mapped to {} on {} ({annotation})",
                    req.project, self.shard
                ),
            )
        })?;
        Ok(Mapping {
            namespace: req.project.clone(),
            service_account: sa_name,
            client_id,
        })
    }

    /// Only with [`Flaw::AnyAnnotatedServiceAccount`]: any ServiceAccount of the project's
    /// namespace that carries the annotation, and the client ID it names.
    async fn any_annotated_service_account(
        &self,
        kube: &Kube,
        req: &CredentialRequest,
        annotation: &str,
    ) -> Result<Option<(String, String)>, Refusal> {
        let list = kube
            .get(
                &self.http,
                &format!("/api/v1/namespaces/{}/serviceaccounts", req.project),
            )
            .await?
            .unwrap_or_default();
        Ok(list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["metadata"]["annotations"][annotation].is_string())
            .map(|other| {
                (
                    other["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    other["metadata"]["annotations"][annotation]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            }))
    }

    /// Only with [`Flaw::MappingCachedByRegistry`]: the first project's mapping per registry,
    /// acted on for every project. The reference keeps the project's own.
    fn mapping_for_registry(&self, mapping: Mapping, registry: &str) -> Mapping {
        if self.flaw != Some(Flaw::MappingCachedByRegistry) {
            return mapping;
        }
        let (namespace, service_account, client_id) = self
            .state()
            .mappings
            .entry(registry.to_owned())
            .or_insert_with(|| {
                (
                    mapping.namespace.clone(),
                    mapping.service_account.clone(),
                    mapping.client_id.clone(),
                )
            })
            .clone();
        Mapping {
            namespace,
            service_account,
            client_id,
        }
    }

    /// The cache key: everything that changes the credential (a flawed reference keys by the
    /// registry alone).
    fn cache_key(&self, project: &str, registry: &str, tenant: &str, client_id: &str) -> CacheKey {
        if self.flaw == Some(Flaw::CacheByRegistry) {
            CacheKey {
                project: String::new(),
                registry: registry.to_owned(),
                tenant: String::new(),
                client_id: String::new(),
            }
        } else {
            CacheKey {
                project: project.to_owned(),
                registry: registry.to_owned(),
                tenant: tenant.to_owned(),
                client_id: client_id.to_owned(),
            }
        }
    }

    /// A cached credential still good at `now`: before its expiry's margin, and exchanged at
    /// most [`CACHE_TTL`] ago (a flawed reference ignores the second bound).
    fn cached(&self, key: &CacheKey, now: Timestamp) -> Option<Credential> {
        let (c, exchanged) = self.state().cache.get(key).cloned()?;
        let before_expiry = c
            .expires_at
            .and_then(|e| {
                e.checked_sub(jiff::SignedDuration::try_from(CACHE_MARGIN).ok()?)
                    .ok()
            })
            .is_some_and(|e| now < e);
        let recent = self.flaw == Some(Flaw::StaleCache)
            || jiff::SignedDuration::try_from(CACHE_TTL)
                .ok()
                .and_then(|ttl| exchanged.checked_add(ttl).ok())
                .is_some_and(|until| now < until);
        (before_expiry && recent).then_some(c)
    }

    /// A miss: the ServiceAccount's token, Entra's and ACR's exchanges (with the configured
    /// fallback on denial), and the pull check.
    async fn exchange_for(
        &self,
        kube: &Kube,
        mapping: &Mapping,
        tenant: &str,
        registry: &str,
        req: &CredentialRequest,
    ) -> Result<Credential, Refusal> {
        let seconds = if self.flaw == Some(Flaw::LongLivedToken) {
            172_800
        } else {
            600
        };
        // No audiences: the API server's own, so the token would also open the API server.
        let audiences: &[&str] = if self.flaw == Some(Flaw::ApiServerAudience) {
            &[]
        } else {
            &[EXCHANGE_AUDIENCE]
        };
        let assertion = kube
            .token_request(
                &self.http,
                &mapping.namespace,
                &mapping.service_account,
                audiences,
                seconds,
            )
            .await?;
        let own = self
            .exchange(tenant, &mapping.client_id, &assertion, registry)
            .await;
        let credential = match own {
            Ok(c) => c,
            Err(Refusal(kind, why))
                if self.fallback_on_denial()
                    && (kind == RefusalKind::Denied
                        || (kind == RefusalKind::Unavailable
                            && self.flaw == Some(Flaw::FallbackOnUnavailable))) =>
            {
                self.log(format!(
                    "{}'s identity was denied ({why}); falling back to the controller's identity as configured",
                    req.project
                ));
                self.controller_credential(registry).await?
            }
            Err(e) => return Err(e),
        };
        // A credential helper is not told the repository; the OCI client finds out.
        if !req.repository.is_empty() {
            self.verify_pull(registry, &req.repository, &credential)
                .await?;
        }
        Ok(credential)
    }
}
