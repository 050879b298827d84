//! What a scenario came to: its verdict, the properties' results, the expectations that did not
//! hold, its transcript and flow, and where its time went. The runner ([`crate::run`]) makes
//! them; reporters, the suite and users' tests read them.

use std::collections::BTreeSet;

use scenarios::model::{Outcome, RepositoryRef, Scenario};
use serde::Serialize;

use crate::implementation::{Answer, RefusalKind};
use crate::properties::{PropertyResult, PropertyVerdict};

/// A scenario's verdict (`docs/cli.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail,
    Error,
    Skip,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
            Verdict::Skip => "skip",
        }
    }
}

/// A request's expectation that did not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpectationFailure {
    pub step: usize,
    /// The step's line in the scenario file; 0 for an [`ExpectationFailure::unexpected_pass`].
    pub line: u32,
    pub message: String,
    /// Not a step's expectation but an expected failure (of the expectations file) that did not
    /// happen: the entry must go, and the scenario fails until it does.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unexpected_pass: bool,
    /// Listed in the implementation's expectations (`step:`) with this reason: reported, and it
    /// does not fail the scenario.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
}

/// One arrow of a request's credential flow (the report's sequence diagram).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowEvent {
    pub step: usize,
    /// `harness`, `implementation`, `cluster`, `entra` or `registry`.
    pub from: &'static str,
    pub to: &'static str,
    pub label: String,
    pub ok: bool,
}

/// Where a scenario's time went, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    /// Building the world: CA, keys, secrets, fakes, listeners.
    pub world_us: u64,
    /// Starting the implementations (and `initialize`).
    pub launch_us: u64,
    /// Waiting for the implementations' answers.
    pub implementation_us: u64,
    /// Using every returned credential against every repository.
    pub probes_us: u64,
    /// World changes, clock advances and `clock/set`.
    pub changes_us: u64,
    /// Shutting the implementations down and collecting what they wrote.
    pub shutdown_us: u64,
    /// Judging the properties.
    pub judge_us: u64,
    /// Tearing the world down.
    pub teardown_us: u64,
}

/// The outcome of one scenario.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioResult {
    pub scenario: String,
    pub file: String,
    pub verdict: Verdict,
    pub duration_ms: u64,
    pub implementation: String,
    pub properties: Vec<PropertyResult>,
    pub expectations: Vec<ExpectationFailure>,
    /// Why the verdict is `error` (or `skip`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The expectations file's reason, when the scenario failed as expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_failure: Option<String>,
    /// What happened, step by step, with every secret replaced by its kind and fingerprint.
    pub transcript: Vec<String>,
    /// Every request's flow: implementation → cluster → Entra → registry, and the harness's probes.
    pub flow: Vec<FlowEvent>,
    pub timings: Timings,
    /// What each request came to, in step order (`credsim explore` writes reproducers' expectations
    /// from the reference's).
    #[serde(skip)]
    pub observed: Vec<Observed>,
}

/// What one request came to: the outcome (`None` for an `internal` refusal) and what the returned
/// credential unlocked.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub step: usize,
    pub outcome: Option<Outcome>,
    pub unlocked: BTreeSet<RepositoryRef>,
}

/// The outcome an answer stands for (`None`: an `internal` refusal).
pub fn outcome_of(answer: &Answer) -> Option<Outcome> {
    match answer {
        Answer::Credential(_) => Some(Outcome::Granted),
        Answer::Anonymous => Some(Outcome::Anonymous),
        Answer::Refused { kind, .. } => match kind {
            RefusalKind::NotConfigured => Some(Outcome::NotConfigured),
            RefusalKind::Denied => Some(Outcome::Denied),
            RefusalKind::Unavailable => Some(Outcome::Unavailable),
            RefusalKind::Unsupported => Some(Outcome::Unsupported),
            RefusalKind::Internal => None,
        },
    }
}

impl ScenarioResult {
    /// A scenario that was not run, and why.
    pub fn skipped(s: &Scenario, implementation: &str, reason: &str) -> Self {
        Self {
            scenario: s.name.clone(),
            file: s.file.clone(),
            verdict: Verdict::Skip,
            duration_ms: 0,
            implementation: implementation.to_owned(),
            properties: Vec::new(),
            expectations: Vec::new(),
            error: Some(reason.to_owned()),
            expected_failure: None,
            transcript: Vec::new(),
            flow: Vec::new(),
            timings: Timings::default(),
            observed: Vec::new(),
        }
    }

    /// The verdict from the expectations and properties (an `error` or `skip` stays).
    pub fn recompute_verdict(&self) -> Verdict {
        if matches!(self.verdict, Verdict::Error | Verdict::Skip) && self.error.is_some() {
            return self.verdict;
        }
        let unexpected_pass = self.expectations.iter().any(|x| x.unexpected_pass);
        if self.expected_failure.is_some() && !unexpected_pass {
            return Verdict::Pass;
        }
        let failed = self.expectations.iter().any(|x| x.expected.is_none())
            || self
                .properties
                .iter()
                .any(|p| p.verdict == PropertyVerdict::Fail && p.expected_failure.is_none());
        if failed { Verdict::Fail } else { Verdict::Pass }
    }
}
