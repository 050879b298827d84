//! credsim's worlds: a scenario's world as running fakes behind one front door, and the local
//! mock cloud. This crate knows the fakes and the scenario format; it knows nothing of
//! implementations under test, properties or reports (the `credsim` crate builds on it).
//!
//! Module map:
//! - [`cloud`]: a world running behind one front door (fakes, CA, clock, secrets), and the
//!   `world.json` description scripts read.
//! - [`clusters`]: one kube-client code path for every cluster backend (embedded, kind, any
//!   kubeconfig): TokenRequest, issuer documents, publishing a cluster's issuer at its URL.
//! - [`external`]: kind and kubeconfig clusters in a world: provisioned through the Kubernetes
//!   API, their issuer published, their API server behind the front door with an audit journal.
//! - [`world`]: the world builder: a scenario's world as running fakes (`spec`: tenants,
//!   identities, nodes, options and leniency; `registry`; `cluster`: namespaces, ServiceAccounts,
//!   controllers' RBAC; `external_clusters`; `faults`), and the world changes its steps make
//!   (`changes`: [`world::RunningWorld::apply`]).
//! - [`demo`]: the built-in demo world `credsim up` serves when no `--world` is given (a
//!   scenario file, `demo.yaml`). `credsim up` itself, the live mock cloud, is the `credsim`
//!   crate's `live` module (it draws the report's diagrams and reads the journals as events).
//!
//! Dependencies run one way: `world` → `cloud` → `external` → `clusters`.

pub mod cloud;
pub mod clusters;
pub mod demo;
pub mod external;
pub mod world;

/// An error and its causes on one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        parts.push(c.to_string());
        cur = c.source();
    }
    parts.join(": ")
}
