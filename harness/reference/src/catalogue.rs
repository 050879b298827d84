//! The catalogue of deliberately broken implementations, the verdict table they must get on the
//! corpus, and the mutation score.
//!
//! Each [`Flaw`] is the reference with exactly one thing wrong (`credsim reference --flaw NAME`
//! is it as an exec-protocol program). `harness/reference/flaws.yaml`, reviewed like code, says for every
//! flaw which property it exists to trip, what that property's evidence must say, and exactly
//! which (property, scenario) pairs fail and which scenarios' expectations fail. [`run`] replays
//! the corpus against the reference and every flaw; [`Observed::diff`] names every difference
//! from the table (the reference must fail nothing; no run may be an `error`); [`score`] counts,
//! per property, the flaws catalogued for it that the corpus caught. A flaw the corpus misses
//! means a missing scenario, and the fix is the scenario.
//!
//! `credsim flaws` prints the score and the differences; `harness/tests/catalogue.rs` fails on
//! any difference.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::flaw::Flaw;
use crate::programs::{FlawedLauncher, ReferenceLauncher};
use credsim::implementation::Launcher;
use credsim::properties::PropertyVerdict as P;
use credsim::report::Reporter;
use credsim::result::{ScenarioResult, Verdict};

/// The verdict table, as committed.
pub const TABLE: &str = include_str!("../flaws.yaml");

/// The verdict table.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub flaws: Vec<Row>,
}

/// What one flaw must get.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// The flaw's name (`credsim reference --flaw NAME`).
    pub flaw: String,
    /// The property this flaw exists to trip.
    pub property: String,
    /// Text the property's evidence must contain in at least one failing scenario.
    pub evidence: String,
    /// property → the scenarios where it fails (and nowhere else).
    pub fails: BTreeMap<String, BTreeSet<String>>,
    /// Scenarios whose expectations (outcome, `unlocks`, error codes) fail.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub expectations: BTreeSet<String>,
}

/// The committed verdict table does not decode (its cause in the text).
#[derive(Debug, thiserror::Error)]
#[error("harness/reference/flaws.yaml: {0}")]
pub struct TableError(Box<serde_saphyr::Error>);

impl Table {
    /// The committed table.
    pub fn committed() -> Result<Self, TableError> {
        serde_saphyr::from_str(TABLE).map_err(|e| TableError(Box::new(e)))
    }

    pub fn row(&self, flaw: Flaw) -> Option<&Row> {
        self.flaws.iter().find(|r| r.flaw == flaw.as_str())
    }
}

/// What an implementation got on the corpus.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub fails: BTreeMap<String, BTreeSet<String>>,
    pub expectations: BTreeSet<String>,
    /// `scenario: why` for every run that was an `error`.
    pub errors: Vec<String>,
    /// property → evidence lines of its failures.
    pub evidence: BTreeMap<String, Vec<String>>,
}

impl Observed {
    pub fn of(results: &[ScenarioResult]) -> Self {
        let mut o = Self::default();
        for r in results {
            if r.verdict == Verdict::Error {
                o.errors.push(format!(
                    "{}: {}",
                    r.scenario,
                    r.error.as_deref().unwrap_or("error")
                ));
            }
            if !r.expectations.is_empty() {
                o.expectations.insert(r.scenario.clone());
            }
            for p in r.properties.iter().filter(|p| p.verdict == P::Fail) {
                o.fails
                    .entry(p.id.as_str().to_owned())
                    .or_default()
                    .insert(r.scenario.clone());
                o.evidence
                    .entry(p.id.as_str().to_owned())
                    .or_default()
                    .extend(p.evidence.iter().cloned());
            }
        }
        o
    }

    /// Every difference from `row` (`None`: the reference, which must fail nothing).
    pub fn diff(&self, row: Option<&Row>) -> Vec<String> {
        let mut out: Vec<String> = self.errors.iter().map(|e| format!("error: {e}")).collect();
        let empty = BTreeMap::new();
        let want = row.map_or(&empty, |r| &r.fails);
        let properties: BTreeSet<&String> = want.keys().chain(self.fails.keys()).collect();
        for p in properties {
            let want = want.get(p).cloned().unwrap_or_default();
            let got = self.fails.get(p).cloned().unwrap_or_default();
            for s in got.difference(&want) {
                out.push(format!("{p} fails in {s}, which the table does not list"));
            }
            for s in want.difference(&got) {
                out.push(format!("{p} passes in {s}, where the table says it fails"));
            }
        }
        let no_expectations = BTreeSet::new();
        let want = row.map_or(&no_expectations, |r| &r.expectations);
        for s in self.expectations.difference(want) {
            out.push(format!(
                "the expectations of {s} fail, which the table does not list"
            ));
        }
        for s in want.difference(&self.expectations) {
            out.push(format!(
                "the expectations of {s} hold, where the table says they fail"
            ));
        }
        if let Some(row) = row {
            if !self.fails.contains_key(&row.property) {
                out.push(format!(
                    "{} never fails: the flaw is not caught by the property it exists for",
                    row.property
                ));
            } else if !self
                .evidence
                .get(&row.property)
                .is_some_and(|ev| ev.iter().any(|e| e.contains(&row.evidence)))
            {
                out.push(format!(
                    "no {} evidence mentions {:?}: {:?}",
                    row.property,
                    row.evidence,
                    self.evidence.get(&row.property)
                ));
            }
        }
        out
    }

    /// This observation as a table row (for `credsim flaws --print-table`, to review and commit).
    pub fn as_row(&self, flaw: Flaw, committed: Option<&Row>) -> Row {
        Row {
            flaw: flaw.as_str().to_owned(),
            property: committed.map_or_else(String::new, |r| r.property.clone()),
            evidence: committed.map_or_else(String::new, |r| r.evidence.clone()),
            fails: self.fails.clone(),
            expectations: self.expectations.clone(),
        }
    }
}

/// One implementation's results on the corpus.
#[derive(Debug)]
pub struct Outcome {
    /// `None`: the reference.
    pub flaw: Option<Flaw>,
    pub observed: Observed,
}

/// Runs `scenarios` against the reference and every catalogued flaw (or only those in `only`,
/// when it is not empty), `jobs` scenarios at once; `reporter` hears of every scenario of every
/// run (the CLI's progress; [`credsim::report::Silent`] for none).
/// How many suite runs [`run`] makes for `only`: the reference's and one per flaw.
pub fn runs(only: &[Flaw]) -> usize {
    1 + Flaw::ALL
        .into_iter()
        .filter(|f| only.is_empty() || only.contains(f))
        .count()
}

pub async fn run(
    scenarios: &[scenarios::Scenario],
    jobs: usize,
    only: &[Flaw],
    reporter: &mut dyn Reporter,
) -> std::io::Result<Vec<Outcome>> {
    let mut out = Vec::new();
    let flaws = Flaw::ALL
        .into_iter()
        .filter(|f| only.is_empty() || only.contains(f));
    for flaw in std::iter::once(None).chain(flaws.map(Some)) {
        let launcher: Arc<dyn Launcher> = match flaw {
            None => Arc::new(ReferenceLauncher),
            Some(f) => Arc::new(FlawedLauncher(f)),
        };
        let (results, _) = credsim::suite::run_all(
            scenarios.to_vec(),
            launcher,
            jobs,
            reporter,
            &mut std::io::sink(),
        )
        .await?;
        out.push(Outcome {
            flaw,
            observed: Observed::of(&results),
        });
    }
    Ok(out)
}

/// Per property: the flaws catalogued for it, and those the corpus caught.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Score {
    pub property: String,
    pub catalogued: Vec<String>,
    pub caught: Vec<String>,
}

/// The mutation score per property (every property of the catalogue, even one no flaw targets).
pub fn score(table: &Table, outcomes: &[Outcome]) -> Vec<Score> {
    let mut by_property: BTreeMap<String, Score> = scenarios::vocab::PropertyId::ALL
        .iter()
        .map(|p| {
            (
                p.as_str().to_owned(),
                Score {
                    property: p.as_str().to_owned(),
                    ..Score::default()
                },
            )
        })
        .collect();
    for o in outcomes {
        let Some(flaw) = o.flaw else { continue };
        let Some(row) = table.row(flaw) else { continue };
        let s = by_property.entry(row.property.clone()).or_default();
        s.property.clone_from(&row.property);
        s.catalogued.push(flaw.as_str().to_owned());
        if o.observed.fails.contains_key(&row.property) {
            s.caught.push(flaw.as_str().to_owned());
        }
    }
    by_property.into_values().collect()
}

/// The score as a table for people.
pub fn render_score(scores: &[Score]) -> String {
    let mut out =
        String::from("mutation score: the catalogued flaws the corpus catches, per property\n");
    let (mut total, mut caught) = (0, 0);
    for s in scores {
        total += s.catalogued.len();
        caught += s.caught.len();
        let missed: Vec<&String> = s
            .catalogued
            .iter()
            .filter(|f| !s.caught.contains(f))
            .collect();
        out.push_str(&format!(
            "  {:<28} {}/{}  {}{}\n",
            s.property,
            s.caught.len(),
            s.catalogued.len(),
            s.caught.join(", "),
            if missed.is_empty() {
                String::new()
            } else {
                format!(
                    "  MISSED: {}",
                    missed
                        .iter()
                        .map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
    }
    out.push_str(&format!("  total: {caught}/{total} flaws caught\n"));
    out
}
