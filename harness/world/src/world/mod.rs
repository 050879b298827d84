//! The world builder: a scenario's world as running fakes, and the world changes its steps make.
//!
//! [`world_spec`] turns the resolved model into the fakes' builder inputs (tenants and identities
//! with the scenario's GUIDs, registries, clusters with their projects, ServiceAccounts, the
//! controller's namespace, ServiceAccount and RBAC, nodes, options and leniency). [`RunningWorld`] starts
//! them behind one front door with a fresh CA, keys and secrets (kind and kubeconfig clusters are
//! joined through [`crate::external`]), installs the faults, and applies
//! the steps that change the world (role assignments, federated credentials, annotations, key
//! rotation, the clock, fault toggles, and the tenants, identities and projects steps add). Dropping the world stops nothing by itself: call
//! [`RunningWorld::shutdown`].
//!
//! Submodules (private; what is public is re-exported here, at `credsim_world::world::…`):
//! - `spec`: [`world_spec`]: tenants, apps, managed identities, nodes, the fakes' options.
//! - `registry`: registries, and the scenario's roles and conditions in mock-acr's terms.
//! - `cluster`: an embedded cluster's objects: namespaces, ServiceAccounts, the controller's RBAC.
//! - `external_clusters`: kind and kubeconfig clusters: what they cannot do, joining them.
//! - `faults`: the world's faults, switching them, and their answers in each target's shape.
//! - `changes`: [`RunningWorld::apply`], one function per kind of change.

mod changes;
mod cluster;
mod external_clusters;
mod faults;
mod registry;
mod spec;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use jiff::Timestamp;
use mock_kit::Clock;
use scenarios::model::Scenario;

use crate::cloud::{Cloud, CloudError};
use faults::InstalledFault;

pub use cluster::{READ_SERVICE_ACCOUNTS_ROLE, TOKEN_REQUEST_ROLE, cluster, project_objects};
pub use registry::role;
pub use spec::{LENIENT_CLOCK_SKEW, world_spec};

/// What a world change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// One line for the transcript.
    pub note: String,
    /// Whether the world changed: `false` when the fake refused the change as the real service
    /// would (Entra's limit of 20 federated credentials), so that nothing that depends on the
    /// world (the runner's mirror of grants) counts it.
    pub took_effect: bool,
}

/// Why a world could not start or change.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error(transparent)]
    Cloud(#[from] CloudError),
    #[error("generating a certificate for {app} failed")]
    Certificate {
        app: String,
        #[source]
        source: mock_entra::DirectoryError,
    },
    #[error("the world has no {0}")]
    Missing(String),
    #[error("{0}")]
    Change(String),
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Cluster(#[from] crate::clusters::ClusterError),
    /// A cluster of the running world refused a change or a token.
    #[error(transparent)]
    WorldCluster(#[from] crate::cloud::WorldClusterError),
}

/// A scenario's world, running.
#[derive(Debug)]
pub struct RunningWorld {
    pub cloud: Cloud,
    faults: std::sync::Mutex<BTreeMap<String, InstalledFault>>,
    /// The world's clusters as the scenario wrote them (a project added at run time gets its
    /// controller's RoleBindings from them).
    clusters: Vec<scenarios::model::Cluster>,
}

impl RunningWorld {
    /// Starts the world's fakes behind a front door on `listen`, on a virtual clock frozen at the
    /// scenario's start time (or now), and switches on its active faults.
    pub async fn start(s: &Scenario, listen: SocketAddr) -> Result<Self, WorldError> {
        let start = s.world.options.start_time.unwrap_or_else(Timestamp::now);
        Self::start_on(s, listen, Clock::frozen_at(start)).await
    }

    /// Like [`RunningWorld::start`], on a given clock (`credsim up` uses a running one).
    pub async fn start_on(
        s: &Scenario,
        listen: SocketAddr,
        clock: Clock,
    ) -> Result<Self, WorldError> {
        let spec = world_spec(s, clock.clone())?;
        let mut cloud = Cloud::start(spec, listen).await?;
        if let Err(e) = external_clusters::join_external(s, &mut cloud, clock).await {
            cloud.shutdown().await;
            return Err(e);
        }
        let faults = faults::install_faults(&cloud, &s.world.faults)?;
        Ok(Self {
            cloud,
            faults: std::sync::Mutex::new(faults),
            clusters: s.world.clusters.clone(),
        })
    }

    /// A kubeconfig for a shard's controller ServiceAccount (the implementation's `KUBECONFIG`).
    pub async fn controller_kubeconfig(
        &self,
        s: &Scenario,
        shard: &str,
    ) -> Result<String, WorldError> {
        let (_, ctl) = s
            .shards()
            .find(|(c, _)| c.name == shard)
            .ok_or_else(|| WorldError::Missing(format!("shard {shard}")))?;
        let k8s = self
            .cloud
            .cluster(shard)
            .ok_or_else(|| WorldError::Missing(format!("cluster {shard}")))?;
        let server = self
            .cloud
            .api_server_url(shard)
            .ok_or_else(|| WorldError::Missing(format!("API server of {shard}")))?;
        // The kubelet would keep the controller's own token fresh; a year outlives any scenario's
        // clock advances, so the controller never loses access to its own API server. (A real API
        // server may cap it; kube-apiserver's default cap is none.)
        k8s.service_account_kubeconfig(
            &ctl.namespace,
            &ctl.service_account,
            &server,
            self.cloud.door.ca().cert_pem(),
            Duration::from_secs(365 * 86_400),
        )
        .await
        .map_err(WorldError::from)
    }

    /// The running fakes, without the handles to switch faults (`credsim up` keeps them as the
    /// scenario set them).
    pub fn into_cloud(self) -> Cloud {
        self.cloud
    }

    /// Stops every listener.
    pub async fn shutdown(&self) {
        self.cloud.shutdown().await;
    }
}
