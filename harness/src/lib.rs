//! credsim's harness: everything that turns a world into running fakes and talks to people.
//!
//! Module map:
//! - [`catalogue`]: the deliberately broken implementations' verdict table (`flaws.yaml`) and
//!   the mutation score (`credsim flaws`).
//! - [`check`]: `credsim check`, scenario files validated without running them.
//! - [`demo`]: the built-in demo world `credsim up` serves when no `--world` is given.
//! - [`cloud`]: a world running behind one front door (fakes, CA, clock, secrets), and the
//!   `world.json` description scripts read.
//! - [`clusters`]: one kube-client code path for every cluster backend (embedded, kind, any
//!   kubeconfig): TokenRequest, issuer documents, publishing a cluster's issuer at its URL.
//! - [`external`]: kind and kubeconfig clusters in a world: provisioned through the Kubernetes
//!   API, their issuer published, their API server behind the front door with an audit journal.
//! - [`implementation`]: the implementation under test as the runner sees it (a trait per
//!   shard, and a launcher), so exec programs and in-process Rust code are driven alike.
//! - [`exec`]: the exec protocol (JSON-RPC over stdio, version negotiation, timeouts, protocol
//!   violations with the offending line).
//! - [`sandbox`]: the bubblewrap sandbox implementations run in: the file system read-only,
//!   private captured `/tmp`, `/var/tmp`, `/dev/shm`, `/run` and XDG folders, nothing outliving
//!   it, and a network namespace of its own (the `netns` crate) where every address leads to the
//!   front door.
//! - [`docker_helper`]: the Docker credential-helper protocol (`get`, server URL on stdin),
//!   single-identity, so scenarios with several projects are skipped.
//! - [`kubelet_provider`]: the kubelet image credential provider protocol, with the project's
//!   pod ServiceAccount token when the scenario configures `tokenAttributes`.
//! - [`probe`]: evidence from use: what a returned credential really unlocks, probed against
//!   every repository of every registry as an OCI client would.
//! - [`world`]: the world builder: a scenario's world as running fakes (controllers' RBAC,
//!   faults, options, leniency), and the world changes its steps make.
//! - [`reference`]: the reference implementation (per-project ServiceAccount, per-shard client-ID
//!   annotation, TokenRequest, Entra and ACR exchanges, a cache keyed by all of it), in-process
//!   and as `credsim reference`.
//! - [`run`]: the runner: a scenario replayed against an implementation, every returned
//!   credential probed, expectations checked, evidence collected.
//! - [`properties`]: the security properties, one module each, judged from that evidence.
//! - [`suite`]: many scenarios: the embedded corpus, `--filter`, `--partition`, `--jobs`.
//! - [`explore`]: `credsim explore`: seeded schedules of scenarios (reordered, overlapped,
//!   repeated requests, clock advances), the properties as the oracle, failures shrunk to
//!   reproducer scenarios.
//! - [`generate`]: worlds and request sequences generated from a seed (tenants, shards,
//!   projects federated per shard, ABAC registries, an optional broader controller identity),
//!   valid by construction and loaded through the format's validation.
//! - [`expectations`]: per-implementation expected failures (a scenario, a property or one
//!   step's expectation, each with its reason and upstream source) and skips, strict.
//! - [`field`]: `credsim field`: implementations from upstream, built unmodified from pinned Go
//!   modules, run over their scenarios with their expectations; the field report.
//! - [`report`]: reporters fed by typed events: the human table, JSON lines, JUnit, and the report
//!   directory (HTML with sequence diagrams, transcripts).
//! - [`up`]: `credsim up`, the local mock cloud: state directory (`env.sh`, `ca.pem`, `world.json`,
//!   `ready`), serving until SIGINT/SIGTERM.
//!
//! The `credsim` binary (`src/main.rs`) parses the command line (`../shared/contracts/cli.md`) and
//! calls into these modules; only it prints.

pub mod catalogue;
pub mod check;
pub mod cloud;
pub mod clusters;
pub mod demo;
pub mod docker_helper;
pub mod exec;
pub mod expectations;
pub mod explore;
pub mod external;
pub mod field;
pub mod generate;
pub mod implementation;
pub mod kubelet_provider;
pub mod probe;
pub mod properties;
pub mod reference;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod suite;
pub mod up;
pub mod world;
