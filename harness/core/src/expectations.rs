//! Per-implementation expectations (`credsim run --expectations FILE`): known failures and skips,
//! each with a reason, strict like wasmtime's and toml-test's lists, so they cannot rot.
//!
//! ```yaml
//! expectedFailures:
//!   - scenario: mismatched-client-id
//!     property: fail-closed          # the whole scenario when neither property nor step is given
//!     reason: falls back to the controller by design until the per-project identities ship
//!     source: https://github.com/example/controller/issues/12   # optional: where upstream says so
//!   - scenario: host-confusion
//!     step: 1                        # one step's expectation (its outcome, unlocks, error)
//!     reason: answers a host it does not handle with an error, not `unsupported`
//! skips:
//!   - scenario: shared-issuer
//!     reason: our deployment runs one shard only
//! ```
//!
//! A skipped scenario is not run (verdict `skip`). An expected failure that fails is reported and
//! does not fail the run; an expected failure that passes fails the run, so the list is pruned as
//! the implementation improves. An entry naming no scenario of the run is an error too.

use std::path::{Path, PathBuf};

use scenarios::model::PropertyId;
use serde::Deserialize;

use crate::properties::PropertyVerdict;
use crate::result::{ExpectationFailure, ScenarioResult, Verdict};

/// An expectations file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expectations {
    #[serde(default)]
    pub expected_failures: Vec<ExpectedFailure>,
    #[serde(default)]
    pub skips: Vec<Skip>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectedFailure {
    pub scenario: String,
    #[serde(default)]
    pub property: Option<PropertyId>,
    /// One step's expectation (1-based, as reports number steps), instead of a property.
    #[serde(default)]
    pub step: Option<usize>,
    pub reason: String,
    /// Where upstream describes the same behaviour (an issue, a PR, an advisory, docs).
    #[serde(default)]
    pub source: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Skip {
    pub scenario: String,
    pub reason: String,
}

/// Why an expectations file did not load. Each message starts with the file (and, for a
/// decoding error, `line:col`) and carries its cause in the text, so printing it once is enough.
#[derive(Debug, thiserror::Error)]
pub enum ExpectationsError {
    #[error("{}: cannot read: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Not an expectations file: `at` is `line:col`, `message` the decoder's words.
    #[error("{}:{at}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        at: String,
        message: String,
    },
    #[error(
        "{}: the entry for {scenario} names both a property and a step; an entry is one or the other",
        path.display()
    )]
    PropertyAndStep { path: PathBuf, scenario: String },
    #[error("{}: the entry for {scenario} names step 0; steps count from 1", path.display())]
    StepZero { path: PathBuf, scenario: String },
    #[error("{}: the entry for {scenario} needs a reason", path.display())]
    NoReason { path: PathBuf, scenario: String },
}

impl Expectations {
    /// Reads and checks a file: every entry needs a non-empty reason.
    pub fn load(path: &Path) -> Result<Self, ExpectationsError> {
        let text = std::fs::read_to_string(path).map_err(|error| ExpectationsError::Read {
            path: path.to_owned(),
            error,
        })?;
        let e: Expectations = serde_saphyr::from_str(&text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!("{}:{}", l.line(), l.column()))
                .unwrap_or_else(|| "1:1".into());
            ExpectationsError::Invalid {
                path: path.to_owned(),
                at,
                message: e
                    .without_snippet()
                    .to_string()
                    .split(" at line ")
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            }
        })?;
        if let Some(x) = e
            .expected_failures
            .iter()
            .find(|x| x.property.is_some() && x.step.is_some())
        {
            return Err(ExpectationsError::PropertyAndStep {
                path: path.to_owned(),
                scenario: x.scenario.clone(),
            });
        }
        if let Some(x) = e.expected_failures.iter().find(|x| x.step == Some(0)) {
            return Err(ExpectationsError::StepZero {
                path: path.to_owned(),
                scenario: x.scenario.clone(),
            });
        }
        for (what, reason) in e
            .expected_failures
            .iter()
            .map(|x| (&x.scenario, &x.reason))
            .chain(e.skips.iter().map(|x| (&x.scenario, &x.reason)))
        {
            if reason.trim().is_empty() {
                return Err(ExpectationsError::NoReason {
                    path: path.to_owned(),
                    scenario: what.clone(),
                });
            }
        }
        Ok(e)
    }

    /// The reason a scenario is skipped, if it is.
    pub fn skip_reason(&self, scenario: &str) -> Option<&str> {
        self.skips
            .iter()
            .find(|s| s.scenario == scenario)
            .map(|s| s.reason.as_str())
    }

    /// Entries that name none of `scenarios`.
    pub fn unknown_entries(&self, scenarios: &[String]) -> Vec<String> {
        self.expected_failures
            .iter()
            .map(|x| &x.scenario)
            .chain(self.skips.iter().map(|x| &x.scenario))
            .filter(|s| !scenarios.contains(s))
            .map(|s| format!("the expectations name {s}, which is not among the scenarios run"))
            .collect()
    }

    /// Applies the expected failures to a result: known failures no longer fail it, and an
    /// expected failure that did not happen does.
    pub fn apply(&self, r: &mut ScenarioResult) {
        if r.verdict == Verdict::Error || r.verdict == Verdict::Skip {
            return;
        }
        // Steps first: a scenario whose only failures are expected steps has passed when the
        // whole-scenario entries are weighed.
        for x in self
            .expected_failures
            .iter()
            .filter(|x| x.scenario == r.scenario)
        {
            if let Some(step) = x.step {
                let mut found = false;
                for f in r
                    .expectations
                    .iter_mut()
                    .filter(|f| f.line != 0 && f.step + 1 == step)
                {
                    f.expected = Some(x.reason.clone());
                    found = true;
                }
                if !found {
                    r.expectations.push(ExpectationFailure {
                        step: 0,
                        line: 0,
                        unexpected_pass: true,
                        message: format!(
                            "step {step}'s expectation was expected to fail ({}) but held: remove it from the expectations",
                            x.reason
                        ),
                        expected: None,
                    });
                }
            }
        }
        r.verdict = r.recompute_verdict();
        for x in self
            .expected_failures
            .iter()
            .filter(|x| x.scenario == r.scenario && x.step.is_none())
        {
            match x.property {
                Some(id) => match r.properties.iter_mut().find(|p| p.id == id) {
                    Some(p) if p.verdict == PropertyVerdict::Fail => {
                        p.expected_failure = Some(x.reason.clone());
                    }
                    _ => r.expectations.push(ExpectationFailure {
                        step: 0,
                        line: 0,
                        unexpected_pass: true,
                        message: format!(
                            "{} was expected to fail ({}) but did not: remove it from the expectations",
                            id.as_str(),
                            x.reason
                        ),
                        expected: None,
                    }),
                },
                None => {
                    if r.verdict == Verdict::Fail {
                        r.expected_failure = Some(x.reason.clone());
                    } else {
                        r.expectations.push(ExpectationFailure {
                            step: 0,
                            line: 0,
                            unexpected_pass: true,
                            message: format!(
                                "the scenario was expected to fail ({}) but passed: remove it from the expectations",
                                x.reason
                            ),
                            expected: None,
                        });
                    }
                }
            }
        }
        r.verdict = r.recompute_verdict();
    }
}
