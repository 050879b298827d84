//! The runner: one scenario, replayed against an implementation, with evidence collected.
//!
//! [`run_scenario`] starts the world, launches one implementation per shard with the exec
//! protocol's environment, replays the steps in order (requests, clock advances with `clock/set`,
//! world changes, fault toggles), **uses** every returned credential against every repository of
//! every registry, checks each request's expectation, shuts the implementations down, and hands
//! the [`Evidence`] to the properties ([`crate::properties`]). A harness-level problem (the
//! implementation broke the protocol, the world did not start) makes the scenario's verdict
//! `error`, never a pass.
//!
//! Its parts: `shards` starts each shard's implementation, `requests` replays and records the
//! requests, `expectation` checks them, `mirror` keeps what each project may pull as the
//! steps change the world, `transcript` writes what a human reads.

mod expectation;
mod mirror;
mod requests;
mod shards;
mod transcript;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use credsim_world::cloud::WorldClusterError;
use credsim_world::error_chain;
use credsim_world::world::{RunningWorld, WorldError};
use jiff::Timestamp;
use scenarios::model::{Action, Scenario};

// The runner's inputs and outputs, where a user of `run_scenario` looks for them.
pub use crate::evidence::{Evidence, RequestRecord, shard_label};
pub use crate::result::{
    ExpectationFailure, FlowEvent, Observed, ScenarioResult, Timings, Verdict, outcome_of,
};
pub use transcript::redact;

use crate::exec::files_written;
use crate::implementation::{Launcher, Output, ProtocolError};
use crate::probe::ProbeError;
use crate::properties;
use mirror::Mirror;
use requests::{At, Stage, concurrently, request, settle};
use shards::{Shard, refresh_token_file, start_shard};
use transcript::transcribe_outputs;

fn micros(since: Instant) -> u64 {
    since.elapsed().as_micros() as u64
}

/// Runs `scenario` against implementations started by `launcher`.
pub async fn run_scenario(scenario: &Scenario, launcher: &dyn Launcher) -> ScenarioResult {
    if let Err(why) = launcher.applies_to(scenario) {
        return ScenarioResult::skipped(
            scenario,
            &launcher.describe(),
            &format!("not applicable to this protocol: {why}"),
        );
    }
    let started = Instant::now();
    let mut result = ScenarioResult {
        scenario: scenario.name.clone(),
        file: scenario.file.clone(),
        verdict: Verdict::Error,
        duration_ms: 0,
        implementation: launcher.describe(),
        properties: Vec::new(),
        expectations: Vec::new(),
        error: None,
        expected_failure: None,
        transcript: Vec::new(),
        flow: Vec::new(),
        timings: Timings::default(),
        observed: Vec::new(),
    };
    run_inner(scenario, launcher, &mut result).await;
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

/// Why a scenario is an `error`: a harness-level problem, never the implementation's verdict.
/// `run_inner` turns it into the result's `error` text: the error and its causes on one line,
/// with every secret the world registered redacted (an implementation's stderr may carry one).
#[derive(Debug, thiserror::Error)]
enum RunError {
    /// The world did not start, or refused a change.
    #[error(transparent)]
    RunningWorld(#[from] WorldError),
    /// A cluster of the world refused a token the runner mints (the controller's token file).
    #[error(transparent)]
    WorldCluster(#[from] WorldClusterError),
    /// A shard's implementation could not be started or told the time.
    #[error("{shard}: {error}")]
    Implementation { shard: String, error: ProtocolError },
    /// A shard's implementation did not answer a step's request.
    #[error("step {} (line {line}): {shard}: {error}", step + 1)]
    Request {
        step: usize,
        line: u32,
        shard: String,
        error: ProtocolError,
    },
    #[error("step {} (line {line}): {shard}: {answers} answers to {requests} requests", step + 1)]
    AnswerCount {
        step: usize,
        line: u32,
        shard: String,
        answers: usize,
        requests: usize,
    },
    #[error("step {} (line {line}): no answer", step + 1)]
    NoAnswer { step: usize, line: u32 },
    #[error("no shard {0}")]
    NoShard(String),
    #[error("no cluster {0}")]
    NoCluster(String),
    #[error("no tenant {0}")]
    NoTenant(String),
    #[error("the app {tenant}/{app} has no secret")]
    NoSecret { tenant: String, app: String },
    #[error("the implementation is gone")]
    ImplementationGone,
    /// Using a returned credential failed.
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error("making the shard's folder failed")]
    ShardFolder(#[source] std::io::Error),
    #[error("making the shard's sandbox folders failed")]
    SandboxFolders(#[source] std::io::Error),
    #[error("creating {}", path.display())]
    CreateDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {}", path.display())]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The evidence cannot carry a verdict ([`cannot_judge`] says why).
    #[error("{0}")]
    Unjudgeable(String),
}

/// Starts the world, replays the scenario and stops the world; the verdict is the properties'
/// unless a [`RunError`] makes it `error`.
async fn run_inner(s: &Scenario, launcher: &dyn Launcher, result: &mut ScenarioResult) {
    let t = Instant::now();
    let world = match RunningWorld::start(s, SocketAddr::from(([127, 0, 0, 1], 0))).await {
        Ok(w) => w,
        Err(e) => return fail(result, error_chain(&e)),
    };
    result.timings.world_us = micros(t);
    let outcome = replay(s, launcher, &world, result).await;
    let t = Instant::now();
    world.shutdown().await;
    result.timings.teardown_us = micros(t);
    match outcome {
        Ok(()) => result.verdict = result.recompute_verdict(),
        Err(e) => fail(result, redact(&world, &error_chain(&e))),
    }
}

/// Makes the scenario an `error`, saying why.
fn fail(result: &mut ScenarioResult, why: String) {
    result.verdict = Verdict::Error;
    result.error = Some(why);
}

async fn replay(
    s: &Scenario,
    launcher: &dyn Launcher,
    world: &RunningWorld,
    result: &mut ScenarioResult,
) -> Result<(), RunError> {
    for l in &s.world.leniency {
        result.transcript.push(format!(
            "leniency: {}",
            serde_json::to_string(l).unwrap_or_default()
        ));
    }
    let mut replay = Replay {
        shards: Vec::new(),
        mirror: Mirror::new(s),
        requests: Vec::new(),
        revocations: Vec::new(),
        follows_clock: BTreeMap::new(),
    };
    for (cluster, ctl) in s.shards() {
        let t = Instant::now();
        replay
            .shards
            .push(start_shard(s, world, cluster, ctl, launcher).await?);
        result.timings.launch_us += micros(t);
    }
    for sh in &replay.shards {
        result.transcript.push(format!(
            "{}: started {}",
            sh.name,
            sh.imp.as_ref().map(|i| i.identity()).unwrap_or_default()
        ));
    }
    for (i, step) in s.steps.iter().enumerate() {
        let at = At {
            step: i,
            line: step.at.line,
        };
        replay.step(s, world, at, &step.action, result).await?;
    }
    let collected = shut_down(&mut replay.shards, result).await;
    for sh in &replay.shards {
        replay.follows_clock.entry(sh.name.clone()).or_insert(true);
    }
    transcribe_outputs(
        world,
        &collected.outputs,
        &collected.files,
        &mut result.transcript,
    );
    // Judged against the world with what the steps added: "is this a project", "whose app is
    // this" include a project or an app that a step created.
    let judged = Scenario {
        world: s.world_with_additions(),
        ..s.clone()
    };
    let evidence = Evidence {
        scenario: &judged,
        world,
        requests: replay.requests,
        outputs: collected.outputs,
        files: collected.files,
        follows_clock: replay.follows_clock,
        revocations: replay.revocations,
    };
    let t = Instant::now();
    result.properties = properties::judge(&evidence);
    result.timings.judge_us = micros(t);
    match cannot_judge(world, &collected.unread) {
        Some(why) => Err(RunError::Unjudgeable(why)),
        None => Ok(()),
    }
}

/// A replay under way: the shards' implementations, the mirror of the world's grants, and what
/// the steps so far left for the properties.
struct Replay {
    shards: Vec<Shard>,
    mirror: Mirror,
    requests: Vec<RequestRecord>,
    /// Steps that removed a grant: (step index, virtual time).
    revocations: Vec<(usize, Timestamp)>,
    /// Per shard: whether its implementation follows `clock/set`.
    follows_clock: BTreeMap<String, bool>,
}

impl Replay {
    /// One step: requests are asked and recorded; anything else changes the world.
    async fn step(
        &mut self,
        s: &Scenario,
        world: &RunningWorld,
        at: At,
        action: &Action,
        result: &mut ScenarioResult,
    ) -> Result<(), RunError> {
        let stage = Stage {
            scenario: s,
            world,
            mirror: &self.mirror,
        };
        match action {
            Action::Request(r) => {
                let rec = request(&stage, &mut self.shards, at, r, result).await?;
                settle(world, rec, &mut self.requests, result);
            }
            Action::Concurrently(rs) => {
                let recs = concurrently(&stage, &mut self.shards, at, rs, result).await?;
                for rec in recs {
                    settle(world, rec, &mut self.requests, result);
                }
            }
            action => self.change_world(world, at, action, result).await?,
        }
        Ok(())
    }

    /// A world change (grants, federation, annotations, faults) or a clock advance, which every
    /// shard's token file and implementation are told of.
    async fn change_world(
        &mut self,
        world: &RunningWorld,
        At { step, line }: At,
        action: &Action,
        result: &mut ScenarioResult,
    ) -> Result<(), RunError> {
        let t = Instant::now();
        let applied = world.apply(action).await?;
        result
            .transcript
            .push(format!("step {} (line {line}): {}", step + 1, applied.note));
        // The mirror follows the fakes: a change they refused changed nothing.
        if applied.took_effect {
            self.mirror.apply(action);
        }
        if matches!(
            action,
            Action::RemoveRoleAssignment { .. }
                | Action::DeleteFederatedCredential { .. }
                | Action::Annotate { .. }
        ) {
            self.revocations.push((step, world.cloud.clock.now()));
        }
        if let Action::Advance(_) = action {
            let now = world.cloud.clock.now();
            for sh in &mut self.shards {
                refresh_token_file(world, sh, false).await?;
                if let Some(imp) = sh.imp.as_mut() {
                    let told = imp.set_clock(now).await;
                    let ok = told.map_err(|error| RunError::Implementation {
                        shard: sh.name.clone(),
                        error,
                    })?;
                    self.follows_clock.insert(sh.name.clone(), ok);
                }
            }
        }
        result.timings.changes_us += micros(t);
        Ok(())
    }
}

/// What the implementations left when they were shut down.
struct Collected {
    /// Per shard: what the implementation wrote, and the files it left.
    outputs: BTreeMap<String, Output>,
    files: BTreeMap<String, Vec<(String, String)>>,
    /// Files the leak search could not read within its limits.
    unread: Vec<String>,
}

/// Shuts every shard's implementation down and reads what it wrote and left.
async fn shut_down(shards: &mut [Shard], result: &mut ScenarioResult) -> Collected {
    let mut collected = Collected {
        outputs: BTreeMap::new(),
        files: BTreeMap::new(),
        unread: Vec::new(),
    };
    for sh in shards {
        if let Some(imp) = sh.imp.take() {
            let t = Instant::now();
            collected
                .outputs
                .insert(sh.name.clone(), imp.shutdown().await);
            result.timings.shutdown_us += micros(t);
        }
        let mut budget = crate::exec::file_budget();
        let mut written = files_written(&sh.workdir, &mut budget);
        if let Some(sb) = &sh.sandbox {
            written.extend(sb.captured_files(&mut budget));
        }
        collected.files.insert(sh.name.clone(), written);
        collected
            .unread
            .extend(budget.unread.iter().map(|u| format!("{}: {u}", sh.name)));
    }
    collected
}

/// Why the evidence cannot carry a verdict, if it cannot: files the leak search did not read,
/// journals cut at their capacity, or a fake that failed internally.
fn cannot_judge(world: &RunningWorld, unread: &[String]) -> Option<String> {
    if !unread.is_empty() {
        let more = if unread.len() > 5 {
            format!(" (and {} more)", unread.len() - 5)
        } else {
            String::new()
        };
        // File names are the implementation's: redacted like everything else it wrote.
        return Some(redact(
            world,
            &format!(
                "the implementation left more files than the leak search reads ({} MiB a file, {} MiB \
             and {} files a shard): {}{more}; a leak in what was not read would not be found, so \
             the scenario cannot be judged",
                crate::exec::FILE_READ_LIMIT >> 20,
                crate::exec::FILES_READ_LIMIT.0 >> 20,
                crate::exec::FILES_READ_LIMIT.1,
                unread[..unread.len().min(5)].join("; ")
            ),
        ));
    }
    let dropped = world.cloud.evidence_dropped();
    if !dropped.is_empty() {
        let what: Vec<String> = dropped
            .iter()
            .map(|(record, n)| format!("{record} dropped its {n} oldest entries"))
            .collect();
        return Some(format!(
            "the evidence was cut at its capacity ({}): the scenario cannot be judged",
            what.join("; ")
        ));
    }
    // A fake that failed internally answered something no real service would: nothing the
    // scenario saw after it can be trusted, whatever the properties say.
    if let Some(rec) = world
        .cloud
        .door
        .egress()
        .snapshot()
        .into_iter()
        .find(|r| matches!(r.outcome, mock_kit::egress::Outcome::InternalError { .. }))
    {
        let site = match &rec.outcome {
            mock_kit::egress::Outcome::InternalError { site } => site.clone(),
            _ => String::new(),
        };
        return Some(format!(
            "credsim's {site} failed internally on {} {}://{}{} (answered {}): a bug in credsim, \
             not in the implementation; the scenario cannot be judged",
            rec.method,
            rec.scheme.as_str(),
            rec.host,
            redact(world, &rec.path),
            rec.status
        ));
    }
    None
}
