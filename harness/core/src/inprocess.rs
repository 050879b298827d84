//! In-process implementations in a few lines: the shard's environment as a typed value
//! ([`Environment`]) instead of strings, and a [`Launcher`] made of one async function per
//! request ([`from_fn`]). The function gets what an exec-protocol program gets, so an in-process
//! implementation is judged exactly as a program would be.
//!
//! ```
//! use credsim::implementation::{Answer, RefusalKind};
//! use credsim::inprocess::from_fn;
//!
//! // An implementation that knows no project: every request is refused `not-configured`.
//! let launcher = from_fn("refuses-all 1.0", |_env, _request| async {
//!     Answer::Refused {
//!         kind: RefusalKind::NotConfigured,
//!         message: "no identity configured".into(),
//!     }
//! });
//! # let _ = launcher;
//! ```

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;

use crate::implementation::{
    Answer, BoxFuture, CredentialRequest, Implementation, Launcher, Output, ProtocolError,
    RefusalKind, ShardContext,
};

/// A shard's environment (`docs/exec-protocol.md`, "Environment"), typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    pub scenario: String,
    pub shard: String,
    /// `HTTPS_PROXY`: the front door, which serves every fake host name.
    pub proxy: Option<String>,
    /// `SSL_CERT_FILE`: the PEM bundle of the run's certificate authority.
    pub ca_file: Option<PathBuf>,
    /// `KUBECONFIG`: the shard's cluster, as the controller's own ServiceAccount.
    pub kubeconfig: Option<PathBuf>,
    /// The controller's workload identity, as the AKS webhook injects it.
    pub workload_identity: Option<WorkloadIdentity>,
    /// The controller's client secret (`controller.clientSecret`).
    pub client_secret: Option<ClientSecret>,
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST`: the node's IMDS, when the node has an identity.
    pub imds: Option<String>,
    /// The working directory (`HOME`), searched for leaked secrets afterwards.
    pub workdir: PathBuf,
}

/// `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_AUTHORITY_HOST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadIdentity {
    pub client_id: String,
    pub tenant_id: String,
    pub token_file: PathBuf,
    pub authority_host: String,
}

/// `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_CLIENT_SECRET`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret {
    pub client_id: String,
    pub tenant_id: String,
    pub secret: String,
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecret")
            .field("client_id", &self.client_id)
            .field("tenant_id", &self.tenant_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Environment {
    /// The environment of a shard's context.
    pub fn of(shard: &ShardContext) -> Self {
        let var = |k: &str| shard.var(k).filter(|v| !v.is_empty()).map(str::to_owned);
        let workload_identity = match (
            var("AZURE_CLIENT_ID"),
            var("AZURE_TENANT_ID"),
            var("AZURE_FEDERATED_TOKEN_FILE"),
            var("AZURE_AUTHORITY_HOST"),
        ) {
            (Some(client_id), Some(tenant_id), Some(file), Some(authority_host)) => {
                Some(WorkloadIdentity {
                    client_id,
                    tenant_id,
                    token_file: PathBuf::from(file),
                    authority_host,
                })
            }
            _ => None,
        };
        let client_secret = match (
            var("AZURE_CLIENT_ID"),
            var("AZURE_TENANT_ID"),
            var("AZURE_CLIENT_SECRET"),
        ) {
            (Some(client_id), Some(tenant_id), Some(secret)) => Some(ClientSecret {
                client_id,
                tenant_id,
                secret,
            }),
            _ => None,
        };
        Self {
            scenario: shard.scenario.clone(),
            shard: shard.shard.clone(),
            proxy: var("HTTPS_PROXY"),
            ca_file: var("SSL_CERT_FILE").map(PathBuf::from),
            kubeconfig: var("KUBECONFIG").map(PathBuf::from),
            workload_identity,
            client_secret,
            imds: var("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
            workdir: shard.workdir.clone(),
        }
    }
}

/// A launcher whose implementation answers each request with `handler(environment, request)`.
/// It cannot follow the virtual clock (`clock/set` is answered "no"), as most real
/// implementations cannot; requests of a `concurrently` step are asked one after another.
pub fn from_fn<F, Fut>(name: impl Into<String>, handler: F) -> FnLauncher
where
    F: Fn(Arc<Environment>, CredentialRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Answer> + Send + 'static,
{
    FnLauncher {
        name: name.into(),
        handler: Arc::new(move |env, request| Box::pin(handler(env, request))),
    }
}

type Handler =
    dyn Fn(Arc<Environment>, CredentialRequest) -> BoxFuture<'static, Answer> + Send + Sync;

/// See [`from_fn`].
#[derive(Clone)]
pub struct FnLauncher {
    name: String,
    handler: Arc<Handler>,
}

impl std::fmt::Debug for FnLauncher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnLauncher")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Launcher for FnLauncher {
    fn describe(&self) -> String {
        format!("{} (in-process)", self.name)
    }

    fn launch<'a>(
        &'a self,
        shard: &'a ShardContext,
    ) -> BoxFuture<'a, Result<Box<dyn Implementation>, ProtocolError>> {
        let running = Running {
            name: self.name.clone(),
            env: Arc::new(Environment::of(shard)),
            handler: self.handler.clone(),
        };
        Box::pin(async move { Ok(Box::new(running) as Box<dyn Implementation>) })
    }
}

struct Running {
    name: String,
    env: Arc<Environment>,
    handler: Arc<Handler>,
}

impl Implementation for Running {
    fn identity(&self) -> String {
        self.name.clone()
    }

    fn get<'a>(
        &'a mut self,
        request: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<Answer, ProtocolError>> {
        let answer = (self.handler)(self.env.clone(), request.clone());
        Box::pin(async move { Ok(answer.await) })
    }

    fn set_clock(&mut self, _now: Timestamp) -> BoxFuture<'_, Result<bool, ProtocolError>> {
        Box::pin(async { Ok(false) })
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, Output> {
        Box::pin(async { Output::default() })
    }
}

/// An implementation that refuses every request with one kind: the smallest safe
/// implementation, and a baseline (every property holds; the scenarios that expect a credential
/// fail their expectations).
pub fn refuses(kind: RefusalKind) -> FnLauncher {
    from_fn(
        format!("refuses-{} 1", kind.as_str()),
        move |_env, _request| async move {
            Answer::Refused {
                kind,
                message: format!("{} (credsim's refusing implementation)", kind.as_str()),
            }
        },
    )
}
