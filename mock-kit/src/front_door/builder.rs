//! [`FrontDoorBuilder`]: the run's CA, clock, secrets and faults, then the proxy port bound and
//! its accept loop started.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::listen::{Role, accept_loop};
use super::{FrontDoor, FrontDoorError, Shared};
use crate::ca::CertificateAuthority;
use crate::clock::Clock;
use crate::dispatch::Dispatcher;
use crate::fault::Faults;
use crate::journal::Journal;
use crate::secret::SecretRegistry;
use crate::site::SiteTable;

/// Configures and starts a [`FrontDoor`].
#[derive(Debug, Default)]
pub struct FrontDoorBuilder {
    listen: Option<SocketAddr>,
    ca: Option<CertificateAuthority>,
    clock: Option<Clock>,
    secrets: Option<SecretRegistry>,
    faults: Option<Faults>,
    egress_capacity: Option<usize>,
}

impl FrontDoorBuilder {
    /// Keeps at most `n` egress records, dropping the oldest (for long-running mock clouds);
    /// default unbounded, so a run's evidence is complete.
    pub fn egress_capacity(mut self, n: usize) -> Self {
        self.egress_capacity = Some(n);
        self
    }

    /// The proxy's address; default `127.0.0.1:0`.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// The run's CA; default a fresh one.
    pub fn ca(mut self, ca: CertificateAuthority) -> Self {
        self.ca = Some(ca);
        self
    }

    /// The run's clock (timestamps in the record); default [`Clock::system`].
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The run's secret registry (scanned in every request); default an empty one.
    pub fn secrets(mut self, secrets: SecretRegistry) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// The run's fault rules; default none.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = Some(faults);
        self
    }

    /// Binds the proxy and starts accepting.
    pub async fn start(self) -> Result<FrontDoor, FrontDoorError> {
        crate::install_crypto_provider();
        let addr = self
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let ca = match self.ca {
            Some(ca) => ca,
            None => CertificateAuthority::new("front door")?,
        };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| FrontDoorError::Bind { addr, source })?;
        let proxy_addr = listener
            .local_addr()
            .map_err(|source| FrontDoorError::Bind { addr, source })?;
        let shared = Arc::new(Shared {
            ca,
            rogue_ca: Arc::default(),
            dispatcher: Dispatcher {
                sites: SiteTable::new(),
                faults: self.faults.unwrap_or_default(),
                egress: match self.egress_capacity {
                    Some(n) => Journal::bounded(n),
                    None => Journal::new(),
                },
                secrets: self.secrets.unwrap_or_default(),
                clock: self.clock.unwrap_or_else(Clock::system),
            },
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
        });
        let task = shared.clone();
        shared
            .tracker
            .spawn(async move { accept_loop(listener, task, Role::Proxy, None).await });
        Ok(FrontDoor {
            proxy_addr,
            shared,
            direct: Mutex::new(HashMap::new()),
        })
    }
}
