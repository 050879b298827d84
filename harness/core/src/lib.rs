//! credsim as a library: replays credential-flow scenarios against any implementation (a
//! command in any language, or in-process Rust code) and judges its security properties from
//! evidence. The worlds it runs them in come from [`credsim_world`].
//!
//! Module map:
//! - [`implementation`]: the implementation under test as the runner sees it (a trait per
//!   shard, and a launcher), so exec programs and in-process Rust code are driven alike.
//! - [`sandbox`]: the bubblewrap sandbox implementations run in: the file system read-only,
//!   private captured `/tmp`, `/var/tmp`, `/dev/shm`, `/run` and XDG folders, nothing outliving
//!   it, and a network namespace of its own (the `netns` crate) where every address leads to the
//!   front door.
//! - [`exec`]: the exec protocol (JSON-RPC over stdio, version negotiation, timeouts, protocol
//!   violations with the offending line).
//! - [`docker_helper`]: the Docker credential-helper protocol (`get`, server URL on stdin),
//!   single-identity, so scenarios with several projects are skipped.
//! - [`kubelet_provider`]: the kubelet image credential provider protocol, with the project's
//!   pod ServiceAccount token when the scenario configures `tokenAttributes`.
//! - [`probe`]: evidence from use: what a returned credential really unlocks, probed against
//!   every repository of every registry as an OCI client would.
//! - [`evidence`]: what a run leaves for the properties: every request with what its answer
//!   unlocked and the fakes' journal positions, and what each implementation wrote.
//! - [`result`]: what a scenario came to (verdict, properties' results, expectations, transcript,
//!   flow, timings).
//! - [`run`]: the runner: a scenario replayed against an implementation, every returned
//!   credential probed, expectations checked, evidence collected.
//! - [`properties`]: the security properties, one module each, judged from that evidence.
//! - [`expectations`]: per-implementation expected failures (a scenario, a property or one
//!   step's expectation, each with its reason and upstream source) and skips, strict.
//! - [`report`]: reporters fed by typed events: the human table, JSON lines, JUnit, and the
//!   report directory (HTML with sequence diagrams, transcripts).
//! - [`suite`]: many scenarios: the embedded corpus, `--filter`, `--partition`, `--jobs`.
//! - [`explore`]: `credsim explore`: seeded schedules of scenarios (reordered, overlapped,
//!   repeated requests, clock advances), the properties as the oracle, failures shrunk to
//!   reproducer scenarios.
//! - [`generate`]: worlds and request sequences generated from a seed (tenants, shards,
//!   projects federated per shard, ABAC registries, an optional broader controller identity),
//!   valid by construction and loaded through the format's validation.
//! - [`field`]: `credsim field`: implementations from upstream, built unmodified from pinned Go
//!   modules, run over their scenarios with their expectations; the field report.
//! - [`glob`]: the `*` and `?` globs of `--filter` and the expectations files.
//! - [`harness`]: the public way in for users' test suites: a folder of scenarios (or the
//!   corpus) as one test per scenario under `cargo test` and `cargo nextest`, against a command
//!   or an in-process implementation; results and the report directory.
//! - [`inprocess`]: in-process implementations in a few lines: the shard's environment typed,
//!   a launcher made of one async function.
//! - [`check`]: `credsim check`, scenario files validated without running them.
//! - [`live`]: `credsim up`, the live mock cloud: the world on a running clock, the state
//!   directory, and the control endpoint `credsim ctl` and the console use (changes as scenario
//!   steps, the event stream, the session recorded as a scenario).
//!
//! The reference implementation and its deliberate flaws are the `credsim-reference` crate;
//! the `credsim` binary (`credsim-cli`) parses the command line and wires these together.

/// The worlds scenarios run in.
pub use credsim_world as world;
/// The scenario format (`credsim.dev/v1alpha1`): loading, validation, the resolved model.
pub use scenarios;

pub mod check;
pub mod docker_helper;
pub mod evidence;
pub mod exec;
pub mod expectations;
pub mod explore;
pub mod field;
pub mod generate;
pub mod glob;
pub mod harness;
pub mod implementation;
pub mod inprocess;
pub mod kubelet_provider;
pub mod live;
pub mod probe;
pub mod properties;
pub mod report;
pub mod result;
pub mod run;
pub mod sandbox;
pub mod suite;
