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
//! [`ReferenceLauncher`] runs it in-process; [`serve`] speaks the exec protocol on stdin/stdout
//! (`credsim reference`), with the same logic.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use credsim::implementation::{
    Answer, BoxFuture, Credential, CredentialRequest, Implementation, Launcher, Output,
    ProtocolError, RefusalKind, ShardContext,
};

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

/// One deliberate flaw: the reference with exactly one thing wrong, to show that the harness
/// catches it (`credsim reference --flaw <name>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// The cache is keyed by registry only (Kargo's ACR cache today): `cache-partitioning`.
    CacheByRegistry,
    /// Any failure of the project's own identity falls back to the controller's: `fail-closed`.
    FallbackOnAnyError,
    /// The Entra access token is logged on stderr: `no-secret-leak`.
    LogToken,
    /// A registry is anything containing `azurecr.io`, and the exchange goes to the host as
    /// written: `credential-destination`.
    HostContainsAzurecr,
    /// Without a mapping on the dedicated ServiceAccount, any annotated ServiceAccount of the
    /// project is used (the user-facing `kargo-admin`): `dedicated-service-account`.
    AnyAnnotatedServiceAccount,
    /// ServiceAccount tokens are requested for 48 hours: `audience-bound`.
    LongLivedToken,
    /// The pull check asks for `registry:catalog:*` and `push` as well: `least-privilege`.
    BroadRegistryScope,
    /// Entra is asked at `/organizations` instead of the configured tenant: `tenant-isolation`.
    OrganizationsTenant,
    /// The first `*.client-id` annotation is used, whatever its shard: `shard-isolation`.
    AnyShardMapping,
    /// A cached credential is handed out until it expires (hours), however long ago it was
    /// exchanged, so a revoked federation keeps working: `revocation`.
    StaleCache,
    /// When the controller is installed with a service principal's secret, that secret is the
    /// registry credential (ACR accepts it as a password): `short-lived`.
    ClientSecretAsPassword,
    /// The project → ServiceAccount → client ID lookup is cached by registry, so every later
    /// project acts as the first one that asked (its token, its identity): `project-isolation`.
    MappingCachedByRegistry,
    /// ServiceAccount tokens are requested for the API server's own audience, not the exchange
    /// audience: `audience-bound`.
    ApiServerAudience,
    /// With fallback configured for denials, an unavailable Entra (5xx, throttling) falls back to
    /// the controller's identity too: `fail-closed`.
    FallbackOnUnavailable,
    /// Every credential handed out is also written to a file in the working directory:
    /// `no-secret-leak`.
    TokenInWorkdir,
    /// The pull check sends the registry's refresh token over plain HTTP: `credential-destination`.
    PlainHttpPullCheck,
    /// The pull check follows whatever token realm the registry's challenge names, on any host:
    /// `credential-destination`.
    FollowForeignRealm,
    /// The registry is found by the first `<name>.azurecr.io` inside the host as written, and that
    /// registry's credential is returned for it: every request on the wire goes to the right
    /// host, but the OCI client presents the credential to `attacker.example`:
    /// `credential-destination` (the consumer's view).
    RegistryFoundInsideHost,
    /// Before the registry token, it also asks Entra for an Azure Resource Manager token with the
    /// project's identity ("to look the registry up"): `least-privilege`.
    ManagementToken,
    /// Logs the registry login it hands out as the HTTP header an OCI client sends
    /// (`Authorization: Basic <base64 of user:password>`): `no-secret-leak` (an encoded form).
    LogBasicAuth,
    /// Stores credentials the way `docker login` does, in `$HOME/.docker/config.json`
    /// (`auths.<host>.auth` is base64 of `user:password`): `no-secret-leak` (an encoded form).
    DockerConfig,
    /// Keeps a credential cache in the temporary folder (`$TMPDIR`, `/tmp`), outside its working
    /// directory: `no-secret-leak`, seen only because the sandbox captures `/tmp`.
    CacheInTmp,
    /// Certificates are not verified (`danger_accept_invalid_certs`): `tls-verification`.
    NoTlsVerification,
    /// Reports every credential it hands out to a telemetry collector (`collector.example`),
    /// connecting straight to it and ignoring the proxy: `credential-destination`, seen only
    /// because in the sandbox's network every address leads to the front door.
    TelemetryIgnoresProxy,
    /// On any failure, the last credential it handed out, to any project, is handed out again
    /// ("better something than nothing"): `project-isolation`, seen only when a failure follows
    /// another project's success on the same shard.
    LastCredentialOnError,
    /// Concurrent cache misses for one registry share one exchange, whichever project started
    /// it: a single-flight group keyed by the registry only (the cache itself is keyed right):
    /// `project-isolation`, seen only when two projects miss at the same time.
    SingleFlightByRegistry,
    /// The project being worked on is one field of the whole controller, set when a request
    /// starts and read again after an await (the project's ServiceAccount is looked up in
    /// between): a request that overlaps another project's is answered with a credential of that
    /// project's identity (cached under the asking project): `project-isolation`, seen only when
    /// requests overlap.
    GlobalCurrentProject,
}

impl Flaw {
    pub const ALL: [Flaw; 27] = [
        Flaw::CacheByRegistry,
        Flaw::FallbackOnAnyError,
        Flaw::LogToken,
        Flaw::HostContainsAzurecr,
        Flaw::AnyAnnotatedServiceAccount,
        Flaw::LongLivedToken,
        Flaw::BroadRegistryScope,
        Flaw::OrganizationsTenant,
        Flaw::AnyShardMapping,
        Flaw::StaleCache,
        Flaw::ClientSecretAsPassword,
        Flaw::MappingCachedByRegistry,
        Flaw::ApiServerAudience,
        Flaw::FallbackOnUnavailable,
        Flaw::TokenInWorkdir,
        Flaw::PlainHttpPullCheck,
        Flaw::FollowForeignRealm,
        Flaw::RegistryFoundInsideHost,
        Flaw::ManagementToken,
        Flaw::LogBasicAuth,
        Flaw::DockerConfig,
        Flaw::CacheInTmp,
        Flaw::NoTlsVerification,
        Flaw::TelemetryIgnoresProxy,
        Flaw::LastCredentialOnError,
        Flaw::SingleFlightByRegistry,
        Flaw::GlobalCurrentProject,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Flaw::CacheByRegistry => "cache-by-registry",
            Flaw::FallbackOnAnyError => "fallback-on-any-error",
            Flaw::LogToken => "log-token",
            Flaw::HostContainsAzurecr => "host-contains-azurecr",
            Flaw::AnyAnnotatedServiceAccount => "any-annotated-service-account",
            Flaw::LongLivedToken => "long-lived-token",
            Flaw::BroadRegistryScope => "broad-registry-scope",
            Flaw::OrganizationsTenant => "organizations-tenant",
            Flaw::AnyShardMapping => "any-shard-mapping",
            Flaw::StaleCache => "stale-cache",
            Flaw::ClientSecretAsPassword => "client-secret-as-password",
            Flaw::MappingCachedByRegistry => "mapping-cached-by-registry",
            Flaw::ApiServerAudience => "api-server-audience",
            Flaw::FallbackOnUnavailable => "fallback-on-unavailable",
            Flaw::TokenInWorkdir => "token-in-workdir",
            Flaw::PlainHttpPullCheck => "plain-http-pull-check",
            Flaw::FollowForeignRealm => "follow-foreign-realm",
            Flaw::RegistryFoundInsideHost => "registry-found-inside-host",
            Flaw::ManagementToken => "management-token",
            Flaw::LogBasicAuth => "log-basic-auth",
            Flaw::DockerConfig => "docker-config",
            Flaw::CacheInTmp => "cache-in-tmp",
            Flaw::NoTlsVerification => "no-tls-verification",
            Flaw::TelemetryIgnoresProxy => "telemetry-ignores-proxy",
            Flaw::LastCredentialOnError => "last-credential-on-error",
            Flaw::SingleFlightByRegistry => "single-flight-by-registry",
            Flaw::GlobalCurrentProject => "global-current-project",
        }
    }
}

impl std::str::FromStr for Flaw {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Flaw::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown flaw {s:?}; known: {}",
                    Flaw::ALL.map(Flaw::as_str).join(", ")
                )
            })
    }
}

/// Where [`Flaw::TelemetryIgnoresProxy`] reports to: a made-up host no fake serves.
const TELEMETRY_HOST: &str = "collector.example";

/// Whether this process runs in credsim's sandbox network (its `resolv.conf` says so): only
/// there does the broken telemetry of [`Flaw::TelemetryIgnoresProxy`] run as a program, so that
/// even a deliberately broken credsim program sends nothing beyond the machine.
fn in_sandbox_network() -> bool {
    std::fs::read_to_string("/etc/resolv.conf")
        .is_ok_and(|t| t.contains(credsim::sandbox::RESOLV_CONF_MARK))
}

/// The reference, configured for one shard from its environment. Cloning shares its state (the
/// cache, the clock, the log), so that clones answer requests at the same time, as one
/// controller reconciling several projects does.
#[derive(Clone)]
pub struct Reference {
    flaw: Option<Flaw>,
    shard: String,
    env: HashMap<String, String>,
    http: reqwest::Client,
    state: Arc<Mutex<State>>,
    /// Exchanges in flight, by what they are for: a request that misses the cache while an
    /// exchange for the same key is under way waits for it instead of starting its own.
    inflight: Arc<Mutex<HashMap<String, Flight>>>,
    /// The working directory (the process's own for `credsim reference`, the shard's in-process).
    workdir: Option<std::path::PathBuf>,
    /// The temporary folder (the process's own for `credsim reference`; in-process, the shard's
    /// captured `/tmp` when sandboxed).
    tmpdir: std::path::PathBuf,
    /// Only with [`Flaw::TelemetryIgnoresProxy`]: the client that connects straight to the
    /// collector, and (in-process) what stands for the sandbox's network.
    telemetry: Option<Arc<(reqwest::Client, Option<mock_kit::Adoption>)>>,
}

/// An exchange in flight: its outcome, once there is one, for every request that waits on it.
type Flight = Arc<tokio::sync::OnceCell<Result<Credential, Refusal>>>;

/// What the reference remembers between requests.
#[derive(Default)]
struct State {
    /// Credentials and when they were exchanged.
    cache: HashMap<CacheKey, (Credential, Timestamp)>,
    /// Only with [`Flaw::MappingCachedByRegistry`]: registry → (namespace, ServiceAccount, client ID).
    mappings: HashMap<String, (String, String, String)>,
    now: Option<Timestamp>,
    log: Vec<String>,
    /// Only with [`Flaw::LastCredentialOnError`]: the last credential handed out, to anyone.
    last: Option<Credential>,
    /// Only with [`Flaw::GlobalCurrentProject`]: the request being worked on, one field for the
    /// whole controller.
    current: Option<CredentialRequest>,
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
    project: String,
    registry: String,
    tenant: String,
    client_id: String,
}

#[derive(Clone)]
pub(crate) struct Refusal(RefusalKind, String);

/// The HTTP client: the run's CA only, through the front door; with `insecure`, certificates are
/// not verified at all ([`Flaw::NoTlsVerification`]).
fn http_client(env: &HashMap<String, String>, insecure: bool) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(20));
    if let Some(ca) = env.get("SSL_CERT_FILE") {
        let pem = std::fs::read(ca).map_err(|e| format!("reading {ca}: {e}"))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| e.to_string())?;
        builder = builder.tls_certs_only([cert]);
    }
    if insecure {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder = match env.get("HTTPS_PROXY").filter(|p| !p.is_empty()) {
        Some(p) => builder.proxy(reqwest::Proxy::all(p).map_err(|e| e.to_string())?),
        None => builder.no_proxy(),
    };
    builder.build().map_err(|e| e.to_string())
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

fn refuse(kind: RefusalKind, message: impl Into<String>) -> Refusal {
    Refusal(kind, message.into())
}

impl Reference {
    /// Configures the reference from an exec-protocol environment.
    pub fn from_env(env: HashMap<String, String>) -> Result<Self, String> {
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
                Err(e) => self.log(format!("the telemetry client failed: {e}")),
            }
        }
        if flaw == Some(Flaw::NoTlsVerification) {
            match http_client(&self.env, true) {
                Ok(http) => self.http = http,
                Err(e) => self.log(format!("building the HTTP client failed: {e}")),
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
    fn telemetry_in(mut self, shard: &ShardContext) -> Self {
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

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> Timestamp {
        self.state().now.unwrap_or_else(Timestamp::now)
    }

    fn log(&self, line: String) {
        self.state().log.push(line);
    }

    /// Takes what was logged so far.
    fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut self.state().log)
    }

    /// Runs `fetch` for `key` unless an exchange for `key` is already under way, in which case
    /// its outcome is this one's too (a single-flight group, as Kargo's ACR cache has).
    async fn single_flight<F>(&self, key: String, fetch: F) -> Result<Credential, Refusal>
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

    async fn credential(&self, req: &CredentialRequest) -> Result<Credential, Refusal> {
        let mut registry = req.registry.to_ascii_lowercase();
        if self.flaw == Some(Flaw::RegistryFoundInsideHost)
            && let Some(found) = login_server_inside(&registry)
        {
            registry = found;
        }
        if self.flaw == Some(Flaw::ClientSecretAsPassword)
            && let (Some(id), Some(secret)) = (
                self.env.get("AZURE_CLIENT_ID"),
                self.env.get("AZURE_CLIENT_SECRET"),
            )
        {
            return Ok(Credential {
                username: id.clone(),
                password: secret.clone(),
                expires_at: None,
            });
        }
        let is_acr = if self.flaw == Some(Flaw::HostContainsAzurecr) {
            registry.contains("azurecr.io")
        } else {
            registry.strip_suffix(".azurecr.io").is_some_and(|name| {
                (5..=50).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric())
            })
        };
        if !is_acr {
            return Err(refuse(
                RefusalKind::Unsupported,
                format!("{:?} is not an Azure Container Registry host", req.registry),
            ));
        }
        let tenant = self
            .env
            .get("TENANT_ID")
            .cloned()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                refuse(
                    RefusalKind::NotConfigured,
                    "no TENANT_ID is configured for this shard",
                )
            })?;
        let sa_name = self
            .env
            .get("PROJECT_SERVICE_ACCOUNT")
            .cloned()
            .unwrap_or_else(|| "credentials".into());
        let kube = Kube::from_env(&self.env).map_err(|e| refuse(RefusalKind::Internal, e))?;
        // The project asked about: the cache is keyed by it whatever the flaw below does.
        let asked = req.project.clone();
        let as_current;
        let req = if self.flaw == Some(Flaw::GlobalCurrentProject) {
            // The flaw: the project is one field of the controller, set now, and read again
            // after the ServiceAccount is looked up; a request that started meanwhile changed it.
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
            as_current = self.state().current.clone().unwrap_or_else(|| req.clone());
            &as_current
        } else {
            req
        };
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
        if client_id.is_none() && self.flaw == Some(Flaw::AnyAnnotatedServiceAccount) {
            let list = kube
                .get(
                    &self.http,
                    &format!("/api/v1/namespaces/{}/serviceaccounts", req.project),
                )
                .await?
                .unwrap_or_default();
            if let Some(other) = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|i| i["metadata"]["annotations"][&annotation].is_string())
            {
                sa_name = other["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                client_id = other["metadata"]["annotations"][&annotation]
                    .as_str()
                    .map(str::to_owned);
            }
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
        // The flaw remembers the first project's mapping per registry and acts as that project.
        let mut namespace = req.project.clone();
        let (mut sa_name, mut client_id) = (sa_name, client_id);
        if self.flaw == Some(Flaw::MappingCachedByRegistry) {
            let (ns, sa, id) = self
                .state()
                .mappings
                .entry(registry.clone())
                .or_insert_with(|| (namespace.clone(), sa_name.clone(), client_id.clone()))
                .clone();
            (namespace, sa_name, client_id) = (ns, sa, id);
        }
        let key = if self.flaw == Some(Flaw::CacheByRegistry) {
            CacheKey {
                project: String::new(),
                registry: registry.clone(),
                tenant: String::new(),
                client_id: String::new(),
            }
        } else {
            CacheKey {
                project: asked.clone(),
                registry: registry.clone(),
                tenant: tenant.clone(),
                client_id: client_id.clone(),
            }
        };
        let now = self.now();
        let cached = self.state().cache.get(&key).cloned();
        if let Some((c, exchanged)) = cached {
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
            if before_expiry && recent {
                return Ok(c);
            }
        }
        // A miss: one exchange per key at a time (a single flight); a request that misses while
        // one for its key is under way takes that one's outcome.
        let flight = if self.flaw == Some(Flaw::SingleFlightByRegistry) {
            registry.clone()
        } else {
            format!("{key:?}")
        };
        let fetch = async {
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
                .token_request(&self.http, &namespace, &sa_name, audiences, seconds)
                .await?;
            let own = self
                .exchange(&tenant, &client_id, &assertion, &registry)
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
                    self.controller_credential(&registry).await?
                }
                Err(e) => return Err(e),
            };
            // A credential helper is not told the repository; the OCI client finds out.
            if !req.repository.is_empty() {
                self.verify_pull(&registry, &req.repository, &credential)
                    .await?;
            }
            Ok(credential)
        };
        let credential = self.single_flight(flight, fetch).await?;
        self.state().cache.insert(key, (credential.clone(), now));
        if self.flaw == Some(Flaw::TokenInWorkdir)
            && let Some(dir) = &self.workdir
        {
            // A "cache" that survives restarts, in the working directory.
            let file = dir.join(format!(".credentials-{}.json", req.project));
            let body = json!({"username": credential.username, "password": credential.password});
            if let Err(e) = std::fs::write(&file, body.to_string()) {
                self.log(format!("writing {}: {e}", file.display()));
            }
        }
        let basic = || {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", credential.username, credential.password))
        };
        if self.flaw == Some(Flaw::CacheInTmp) {
            let file = self
                .tmpdir
                .join(format!("credsim-cache-{}.json", req.project));
            let body = json!({"registry": registry, "username": credential.username, "password": credential.password});
            let written = std::fs::create_dir_all(&self.tmpdir)
                .and_then(|()| std::fs::write(&file, body.to_string()));
            if let Err(e) = written {
                self.log(format!("writing {}: {e}", file.display()));
            }
        }
        if self.flaw == Some(Flaw::LogBasicAuth) {
            self.log(format!(
                "debug: GET https://{registry}/v2/{}/tags/list\n  Authorization: Basic {}",
                req.repository,
                basic()
            ));
        }
        if self.flaw == Some(Flaw::DockerConfig)
            && let Some(dir) = &self.workdir
        {
            let config = dir.join(".docker/config.json");
            let mut auths = std::fs::read_to_string(&config)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .unwrap_or_else(|| json!({"auths": {}}));
            auths["auths"][registry.as_str()] = json!({"auth": basic()});
            let written = std::fs::create_dir_all(dir.join(".docker")).and_then(|()| {
                std::fs::write(
                    &config,
                    serde_json::to_string_pretty(&auths).unwrap_or_default(),
                )
            });
            if let Err(e) = written {
                self.log(format!("writing {}: {e}", config.display()));
            }
        }
        if self.flaw == Some(Flaw::TelemetryIgnoresProxy)
            && let Some(telemetry) = &self.telemetry
        {
            let (http, _) = &**telemetry;
            let body = json!({"event": "credential-issued", "project": req.project,
                "registry": registry, "username": credential.username, "password": credential.password});
            let url = format!("https://{TELEMETRY_HOST}/v1/events");
            if let Err(e) = http.post(&url).json(&body).send().await {
                self.log(format!("telemetry: {e}"));
            }
        }
        Ok(credential)
    }

    /// Before handing a new credential out, checks that it lets the OCI client pull the
    /// repository it was asked about: an access token for `repository:<repo>:pull` and nothing
    /// else (least privilege), whose `access` claim must grant `pull`. A credential that cannot
    /// pull is a denial, not a credential.
    async fn verify_pull(
        &self,
        registry: &str,
        repository: &str,
        credential: &Credential,
    ) -> Result<(), Refusal> {
        let scope = if self.flaw == Some(Flaw::BroadRegistryScope) {
            format!("registry:catalog:* repository:{repository}:pull,push")
        } else {
            format!("repository:{repository}:pull")
        };
        let scheme = if self.flaw == Some(Flaw::PlainHttpPullCheck) {
            "http"
        } else {
            "https"
        };
        // As an OCI client does, ask the registry's challenge where its token endpoint is. Anyone
        // on the path can forge a challenge, so only a realm on the registry's own host (over
        // TLS) is followed; otherwise the registry's own endpoint is used.
        let own = format!("{scheme}://{registry}/oauth2/token");
        let realm = match self.challenge_realm(registry).await {
            Some(r)
                if self.flaw == Some(Flaw::FollowForeignRealm)
                    || r.strip_prefix("https://")
                        .and_then(|rest| rest.split('/').next())
                        .is_some_and(|host| host.eq_ignore_ascii_case(registry)) =>
            {
                if self.flaw == Some(Flaw::PlainHttpPullCheck) {
                    own
                } else {
                    r
                }
            }
            Some(r) => {
                self.log(format!(
                    "{registry}'s challenge names the realm {r}, not on the registry's host: ignored"
                ));
                own
            }
            None => own,
        };
        let (status, body) = self
            .post_form(
                &realm,
                &[
                    ("grant_type", "refresh_token"),
                    ("service", registry),
                    ("scope", scope.as_str()),
                    ("refresh_token", credential.password.as_str()),
                ],
                registry,
            )
            .await?;
        if failure_kind(status) == RefusalKind::Unavailable {
            return Err(refuse(
                RefusalKind::Unavailable,
                format!("{registry} answered {status}"),
            ));
        }
        let token = body["access_token"].as_str().unwrap_or_default();
        let pulls = mock_kit::jwt::decode_unverified(token)
            .ok()
            .and_then(|d| d.claims.get("access").cloned())
            .and_then(|a| a.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .any(|e| {
                e["name"] == repository
                    && e["actions"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == "pull"))
            });
        if status != 200 || !pulls {
            return Err(refuse(
                RefusalKind::Denied,
                format!("{registry} grants this identity no pull on {repository} ({status})"),
            ));
        }
        Ok(())
    }

    fn fallback_on_denial(&self) -> bool {
        self.env
            .get("FALLBACK_TO_CONTROLLER_IDENTITY")
            .is_some_and(|v| v == "on-denial")
    }

    async fn controller_credential(&self, registry: &str) -> Result<Credential, Refusal> {
        let (Some(client_id), Some(tenant), Some(file)) = (
            self.env.get("AZURE_CLIENT_ID").cloned(),
            self.env.get("AZURE_TENANT_ID").cloned(),
            self.env.get("AZURE_FEDERATED_TOKEN_FILE").cloned(),
        ) else {
            return Err(refuse(
                RefusalKind::NotConfigured,
                "fallback is configured but the controller has no workload identity",
            ));
        };
        let assertion = std::fs::read_to_string(&file).map_err(|e| {
            refuse(
                RefusalKind::Internal,
                format!("reading the token file: {e}"),
            )
        })?;
        self.exchange(&tenant, &client_id, assertion.trim(), registry)
            .await
    }

    /// ServiceAccount token → Entra access token (ACR audience) → ACR refresh token.
    async fn exchange(
        &self,
        tenant: &str,
        client_id: &str,
        assertion: &str,
        registry: &str,
    ) -> Result<Credential, Refusal> {
        let authority = self
            .env
            .get("AZURE_AUTHORITY_HOST")
            .cloned()
            .unwrap_or_else(|| "https://login.microsoftonline.com/".into());
        let segment = if self.flaw == Some(Flaw::OrganizationsTenant) {
            "organizations"
        } else {
            tenant
        };
        let url = format!(
            "{}/{segment}/oauth2/v2.0/token",
            authority.trim_end_matches('/')
        );
        // The client-credentials grant with the ServiceAccount token as the client assertion.
        let grant = |scope| {
            [
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion),
                ("scope", scope),
            ]
        };
        if self.flaw == Some(Flaw::ManagementToken) {
            // What it would use to find the registry's resource ID through ARM; the answer does
            // not matter to the flaw.
            let _ = self
                .post_form(
                    &url,
                    &grant("https://management.azure.com/.default"),
                    "Entra",
                )
                .await;
        }
        let (status, body) = self
            .post_form(
                &url,
                &grant("https://containerregistry.azure.net/.default"),
                "Entra",
            )
            .await?;
        if status != 200 {
            let kind = failure_kind(status);
            let desc = body["error_description"]
                .as_str()
                .unwrap_or("no description");
            let first_line = desc.lines().next().unwrap_or(desc);
            return Err(refuse(
                kind,
                format!("Entra answered {status}: {first_line}"),
            ));
        }
        let access_token = body["access_token"]
            .as_str()
            .ok_or_else(|| refuse(RefusalKind::Internal, "Entra's answer has no access_token"))?;
        if self.flaw == Some(Flaw::LogToken) {
            self.log(format!(
                "debug: Entra answered with access token {access_token}"
            ));
        }
        // ACR wants the tenant's ID: take it from the token (`tid`), whatever form the
        // configuration used (a domain name works in Entra's path, not in the exchange).
        let tid = mock_kit::jwt::decode_unverified(access_token)
            .ok()
            .and_then(|d| d.claim_str("tid").map(str::to_owned))
            .unwrap_or_else(|| tenant.to_owned());
        let (status, body) = self
            .post_form(
                &format!("https://{registry}/oauth2/exchange"),
                &[
                    ("grant_type", "access_token"),
                    ("service", registry),
                    ("tenant", tid.as_str()),
                    ("access_token", access_token),
                ],
                registry,
            )
            .await?;
        if status != 200 {
            let kind = failure_kind(status);
            return Err(refuse(
                kind,
                format!("{registry} refused the exchange ({status})"),
            ));
        }
        let refresh = body["refresh_token"].as_str().ok_or_else(|| {
            refuse(
                RefusalKind::Internal,
                "the exchange answer has no refresh_token",
            )
        })?;
        let expires_at = mock_kit::jwt::decode_unverified(refresh)
            .ok()
            .and_then(|d| d.claim_i64("exp"))
            .and_then(|e| Timestamp::from_second(e).ok());
        Ok(Credential {
            username: NULL_GUID.into(),
            password: refresh.into(),
            expires_at,
        })
    }
}

impl Reference {
    /// POSTs a form to `url` (on `who`'s service): the status and the JSON body (`null` when the
    /// body is not JSON); an unreachable service is `unavailable`.
    /// The `realm` of the registry's `WWW-Authenticate: Bearer` challenge to an anonymous
    /// `GET /v2/`, if it answers with one.
    async fn challenge_realm(&self, registry: &str) -> Option<String> {
        let resp = self
            .http
            .get(format!("https://{registry}/v2/"))
            .send()
            .await
            .ok()?;
        let challenge = resp
            .headers()
            .get(http::header::WWW_AUTHENTICATE)?
            .to_str()
            .ok()?
            .to_owned();
        let params = challenge.strip_prefix("Bearer ")?;
        params.split(',').find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == "realm").then(|| v.trim_matches('"').to_owned())
        })
    }

    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        who: &str,
    ) -> Result<(u16, Value), Refusal> {
        let resp = self
            .http
            .post(url)
            .form(form)
            .send()
            .await
            .map_err(|e| refuse(RefusalKind::Unavailable, format!("{who} unreachable: {e}")))?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }
}

/// How a failed answer is classified: throttling and server errors are `unavailable`, anything
/// else a refusal is `denied`.
fn failure_kind(status: u16) -> RefusalKind {
    if status == 429 || status >= 500 {
        RefusalKind::Unavailable
    } else {
        RefusalKind::Denied
    }
}

/// The shard's API server, from its kubeconfig.
struct Kube {
    server: String,
    token: String,
}

impl Kube {
    fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let path = env.get("KUBECONFIG").ok_or("no KUBECONFIG")?;
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
        let config: Value = serde_saphyr::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        let server = config["clusters"][0]["cluster"]["server"]
            .as_str()
            .ok_or("the kubeconfig names no server")?
            .trim_end_matches('/')
            .to_owned();
        let token = config["users"][0]["user"]["token"]
            .as_str()
            .ok_or("the kubeconfig has no token")?
            .to_owned();
        Ok(Self { server, token })
    }

    async fn get(&self, http: &reqwest::Client, path: &str) -> Result<Option<Value>, Refusal> {
        let resp = http
            .get(format!("{}{path}", self.server))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| {
                refuse(
                    RefusalKind::Unavailable,
                    format!("the API server is unreachable: {e}"),
                )
            })?;
        match resp.status().as_u16() {
            200 => Ok(resp.json().await.ok()),
            404 => Ok(None),
            s => Err(refuse(
                RefusalKind::Internal,
                format!("the API server answered {s} to GET {path}"),
            )),
        }
    }

    async fn token_request(
        &self,
        http: &reqwest::Client,
        namespace: &str,
        service_account: &str,
        audiences: &[&str],
        seconds: u32,
    ) -> Result<String, Refusal> {
        let path =
            format!("/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token");
        let resp = http
            .post(format!("{}{path}", self.server))
            .bearer_auth(&self.token)
            .json(
                &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": audiences, "expirationSeconds": seconds}}),
            )
            .send()
            .await
            .map_err(|e| {
                refuse(
                    RefusalKind::Unavailable,
                    format!("the API server is unreachable: {e}"),
                )
            })?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status != 201 && status != 200 {
            // The cluster's RBAC refusing the controller is a denial like the cloud's.
            let kind = if status == 403 {
                RefusalKind::Denied
            } else {
                RefusalKind::Internal
            };
            return Err(refuse(
                kind,
                format!(
                    "TokenRequest for {namespace}/{service_account} answered {status}: {}",
                    body["message"].as_str().unwrap_or("")
                ),
            ));
        }
        body["status"]["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                refuse(
                    RefusalKind::Internal,
                    "the TokenRequest answer has no token",
                )
            })
    }
}

impl Implementation for Reference {
    fn identity(&self) -> String {
        format!("credsim-reference {}", env!("CARGO_PKG_VERSION"))
    }

    fn get<'a>(
        &'a mut self,
        request: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<Answer, ProtocolError>> {
        Box::pin(async move { Ok(Reference::get(self, request).await) })
    }

    fn get_concurrently<'a>(
        &'a mut self,
        requests: &'a [CredentialRequest],
    ) -> BoxFuture<'a, Result<credsim::implementation::Concurrent, ProtocolError>> {
        Box::pin(async move {
            let this = &*self;
            let answers = futures::future::join_all(requests.iter().map(|r| this.get(r))).await;
            Ok(credsim::implementation::Concurrent {
                answers,
                overlapped: true,
            })
        })
    }

    fn set_clock(&mut self, now: Timestamp) -> BoxFuture<'_, Result<bool, ProtocolError>> {
        self.state().now = Some(now);
        Box::pin(async { Ok(true) })
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, Output> {
        let stderr = self.take_log().join("\n");
        Box::pin(async move {
            Output {
                stdout: String::new(),
                stderr,
            }
        })
    }
}

/// Runs the reference in-process.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReferenceLauncher;

/// Runs the reference in-process with one deliberate flaw.
#[derive(Clone, Copy, Debug)]
pub struct FlawedLauncher(pub Flaw);

impl Launcher for FlawedLauncher {
    fn describe(&self) -> String {
        format!(
            "the reference with the flaw {} (in-process)",
            self.0.as_str()
        )
    }

    fn launch<'a>(
        &'a self,
        shard: &'a ShardContext,
    ) -> BoxFuture<'a, Result<Box<dyn Implementation>, ProtocolError>> {
        Box::pin(async move {
            let env = shard.env.iter().cloned().collect();
            let r = Reference::from_env(env)
                .map_err(ProtocolError::Other)?
                .with_flaw(Some(self.0))
                .in_shard(shard);
            Ok(Box::new(r) as Box<dyn Implementation>)
        })
    }
}

impl Launcher for ReferenceLauncher {
    fn describe(&self) -> String {
        "the built-in reference implementation (in-process)".into()
    }

    fn launch<'a>(
        &'a self,
        shard: &'a ShardContext,
    ) -> BoxFuture<'a, Result<Box<dyn Implementation>, ProtocolError>> {
        Box::pin(async move {
            let env = shard.env.iter().cloned().collect();
            let r = Reference::from_env(env)
                .map_err(ProtocolError::Other)?
                .in_shard(shard);
            Ok(Box::new(r) as Box<dyn Implementation>)
        })
    }
}

/// `credsim reference --docker-credential-helper get`: the reference as a Docker credential
/// helper for one project (install-time `PROJECT`): the server URL on `input`, the credential as
/// `{"ServerURL","Username","Secret"}` on `output`; without one, Docker's not-found message and an
/// error.
pub async fn docker_helper_get(
    input: impl BufRead,
    output: &mut dyn Write,
    log: &mut dyn Write,
) -> std::io::Result<bool> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let project = env.get("PROJECT").cloned().unwrap_or_default();
    let reference = Reference::from_env(env).map_err(std::io::Error::other)?;
    let mut server = String::new();
    for line in input.lines() {
        server.push_str(line?.trim());
    }
    let req = CredentialRequest {
        project,
        registry: server.clone(),
        repository: String::new(),
        artifact: "image".into(),
    };
    let answer = reference.get(&req).await;
    for line in reference.take_log() {
        writeln!(log, "{line}")?;
    }
    match answer {
        Answer::Credential(c) => {
            writeln!(
                output,
                "{}",
                json!({"ServerURL": server, "Username": c.username, "Secret": c.password})
            )?;
            Ok(true)
        }
        _ => {
            writeln!(output, "{}", credsim::docker_helper::NOT_FOUND)?;
            Ok(false)
        }
    }
}

/// `credsim reference --kubelet-credential-provider`: the reference as a kubelet image
/// credential provider with service-account tokens (KEP-4412): the pod ServiceAccount's token is
/// the assertion, its `azure.workload.identity/client-id` annotation names the identity, the
/// tenant is its `azure.workload.identity/tenant-id` annotation or install-time `TENANT_ID`.
/// Answers a `CredentialProviderResponse` for the image's registry host only.
pub async fn kubelet_provider_get(
    input: impl BufRead,
    output: &mut dyn Write,
    log: &mut dyn Write,
) -> std::io::Result<bool> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let reference = Reference::from_env(env.clone()).map_err(std::io::Error::other)?;
    let mut text = String::new();
    for line in input.lines() {
        text.push_str(&line?);
    }
    let req: Value = serde_json::from_str(&text).map_err(std::io::Error::other)?;
    let image = req["image"].as_str().unwrap_or_default();
    let host = image
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let is_acr = host.strip_suffix(".azurecr.io").is_some_and(|n| {
        (5..=50).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    let annotations = &req["serviceAccountAnnotations"];
    let client_id = annotations["azure.workload.identity/client-id"].as_str();
    let tenant = annotations["azure.workload.identity/tenant-id"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| env.get("TENANT_ID").cloned());
    let token = req["serviceAccountToken"].as_str();
    let (Some(client_id), Some(tenant), Some(token), true) = (client_id, tenant, token, is_acr)
    else {
        writeln!(
            log,
            "no identity for {image}: answering with no credentials"
        )?;
        writeln!(
            output,
            "{}",
            json!({"apiVersion": credsim::kubelet_provider::API_VERSION, "kind": "CredentialProviderResponse",
                "cacheKeyType": "Image", "auth": {}})
        )?;
        return Ok(true);
    };
    match reference.exchange(&tenant, client_id, token, &host).await {
        Ok(c) => {
            writeln!(
                output,
                "{}",
                json!({"apiVersion": credsim::kubelet_provider::API_VERSION, "kind": "CredentialProviderResponse",
                    "cacheKeyType": "Image", "cacheDuration": "10m",
                    "auth": {host: {"username": c.username, "password": c.password}}})
            )?;
            Ok(true)
        }
        Err(Refusal(kind, why)) => {
            writeln!(log, "{}: {why}", kind.as_str())?;
            Ok(false)
        }
    }
}

/// Speaks the exec protocol on `input`/`output` (`credsim reference`), logging on `log`.
/// Requests are read as they come: each `credentials/get` is answered by a task of its own, so
/// that several outstanding at once are worked on at once and answered as each finishes (the
/// contract allows any order); `shutdown` waits for those still running.
pub async fn serve(
    flaw: Option<Flaw>,
    follow_clock: bool,
    input: impl BufRead + Send + 'static,
    output: &mut dyn Write,
    log: &mut dyn Write,
) -> std::io::Result<()> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let reference = match Reference::from_env(env) {
        Ok(r) => r.with_flaw(flaw),
        Err(e) => {
            writeln!(log, "credsim reference: {e}")?;
            return Err(std::io::Error::other(e));
        }
    };
    // stdin is read on a thread of its own, line by line, into the loop below.
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<std::io::Result<String>>();
    std::thread::spawn(move || {
        for line in input.lines() {
            let failed = line.is_err();
            if lines_tx.send(line).is_err() || failed {
                break;
            }
        }
    });
    let mut running: tokio::task::JoinSet<Value> = tokio::task::JoinSet::new();
    let write = |answer: &Value, output: &mut dyn Write, log: &mut dyn Write| {
        for line in reference.take_log() {
            writeln!(log, "{line}")?;
        }
        writeln!(output, "{answer}")?;
        output.flush()
    };
    loop {
        let line = tokio::select! {
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(answer) = done {
                    write(&answer, output, log)?;
                }
                continue;
            }
            line = lines.recv() => match line {
                Some(line) => line?,
                None => break,
            },
        };
        if line.trim().is_empty() {
            continue;
        }
        let msg: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                let answer = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("parse error: {e}")}});
                write(&answer, output, log)?;
                continue;
            }
        };
        let id = msg["id"].clone();
        let answer = match msg["method"].as_str() {
            Some("shutdown") => break,
            Some("initialize") => {
                let versions = msg["params"]["protocolVersions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if versions.iter().any(|v| v == 1) {
                    json!({"jsonrpc": "2.0", "id": id, "result": {"protocolVersion": 1,
                        "implementation": {"name": "credsim-reference", "version": env!("CARGO_PKG_VERSION")}}})
                } else {
                    json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32001, "message": "no common protocol version; this implementation speaks 1"}})
                }
            }
            Some("clock/set") if !follow_clock => {
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "method not found"}})
            }
            Some("clock/set") => match msg["params"]["now"]
                .as_str()
                .and_then(|t| t.parse::<Timestamp>().ok())
            {
                Some(now) => {
                    reference.state().now = Some(now);
                    json!({"jsonrpc": "2.0", "id": id, "result": {}})
                }
                None => {
                    json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32602, "message": "`now` must be an RFC 3339 time"}})
                }
            },
            Some("credentials/get") => {
                match serde_json::from_value::<CredentialRequest>(msg["params"].clone()) {
                    Err(e) => {
                        json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32602, "message": format!("invalid params: {e}")}})
                    }
                    Ok(req) => {
                        let reference = reference.clone();
                        running.spawn(async move {
                            match reference.get(&req).await {
                                Answer::Credential(c) => {
                                    json!({"jsonrpc": "2.0", "id": id, "result": c})
                                }
                                Answer::Anonymous => {
                                    json!({"jsonrpc": "2.0", "id": id, "result": null})
                                }
                                Answer::Refused { kind, message } => {
                                    json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32000, "message": message, "data": {"kind": kind.as_str()}}})
                                }
                            }
                        });
                        continue;
                    }
                }
            }
            _ => {
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "method not found"}})
            }
        };
        write(&answer, output, log)?;
    }
    while let Some(done) = running.join_next().await {
        if let Ok(answer) = done {
            write(&answer, output, log)?;
        }
    }
    for line in reference.take_log() {
        writeln!(log, "{line}")?;
    }
    Ok(())
}
