//! credsim's reference implementation and its catalogue of deliberately broken variants. It
//! needs only the implementation trait and the protocol adapters of the `credsim` crate.
//!
//! Module map:
//! - [`reference`](mod@reference): the reference implementation (per-project ServiceAccount, per-shard
//!   client-ID annotation, TokenRequest, Entra and ACR exchanges, a cache keyed by all of it):
//!   the steps of one request.
//! - [`exchange`]: its exchanges with the cloud (Entra, ACR) and the pull check.
//! - [`refusal`]: a refusal's kind and message.
//! - [`kube`]: its Kubernetes client (ServiceAccounts, TokenRequest).
//! - [`flaw`]: the deliberate flaws, each the reference with one thing wrong.
//! - [`traces`]: what a flawed reference leaves behind besides its answer (files, log lines, a
//!   request that ignores the proxy), kept out of the reference's own steps.
//! - [`programs`]: the reference as the runner starts it: in-process launchers, and the exec,
//!   Docker credential-helper and kubelet credential-provider programs (`credsim reference`).
//! - [`catalogue`]: the flaws' verdict table (`flaws.yaml`), reviewed like code, and the
//!   mutation score (`credsim flaws`).
//!
//! Dependencies run one way: `catalogue` → `programs` → `reference` → `exchange`, `kube`,
//! `flaw`; `exchange`, `kube` and `traces` use `reference`'s types only.

pub mod catalogue;
pub mod exchange;
pub mod flaw;
pub mod kube;
pub mod programs;
pub mod reference;
pub mod refusal;
pub mod traces;

pub use flaw::Flaw;
pub use programs::{
    FlawedLauncher, ReferenceLauncher, docker_helper_get, kubelet_provider_get, serve,
};
pub use reference::Reference;
