//! `credsim explore`: many schedules of each scenario against one implementation, the properties
//! as the oracle, and every failure shrunk to a minimal scenario that `credsim run` reproduces.
//!
//! A schedule is a scenario whose steps a few seeded mutations changed:
//! - **reorder**: two adjacent request steps with no world change between them swap places;
//! - **overlap**: two adjacent request steps become one `concurrently` step (the requests are
//!   outstanding at the same time, on one shard or several);
//! - **repeat**: a copy of one of the scenario's requests (the same project again, or another
//!   project's) is inserted at another point;
//! - **advance**: the clock moves forward at a point, by a bound that makes caching interesting:
//!   just past the ten minutes after which a cached exchange must be redone, past an ACR access
//!   token's and a refresh token's lifetime.
//!
//! Expectations written for the original order do not carry over, so a schedule fails only on a
//! property, judged as every run judges it: from what each returned credential unlocked against
//! what the asking project's own identities may pull at that moment (the world's ground truth),
//! the journals and what the implementation wrote. A schedule whose run is an `error` is counted,
//! never a finding.
//!
//! A failure is shrunk (steps removed one at a time, and requests taken out of `concurrently`
//! steps, while the same property still fails; then the world loses what no step names: projects,
//! registries, shards with the federated credentials that trust them) and written as a
//! reproducer: the minimal scenario, its expectations those the reference implementation meets
//! on it, its seed in its tags and description; it is run three more times, and the report says
//! in how many the property failed again (a failure that depends on how concurrent requests
//! interleave may not show every time; only one that shows every time ends a `stop_at` search).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use scenarios::model::{Action, Outcome, PropertyId, Request, Scenario, Step};

use crate::generate::Rng;
use crate::implementation::Launcher;
use crate::properties::PropertyVerdict;
use crate::result::{Observed, ScenarioResult, Verdict};
use crate::run::run_scenario;

/// How long to explore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// This many schedules in all.
    Cases(usize),
    /// Schedules until this much time has passed.
    Time(Duration),
}

impl Default for Budget {
    /// 240 schedules: four for each scenario of the corpus and each of the 24 worlds
    /// `credsim explore` generates by default.
    fn default() -> Self {
        Budget::Cases(240)
    }
}

/// Why a `--budget` value is neither a number of schedules nor a time.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    #[error("{0:?}: a budget is a number of schedules or a time (90s, 5m)")]
    NotANumber(String),
    #[error("{0:?}: the unit of a time budget is s, m or h")]
    Unit(String),
}

impl std::str::FromStr for Budget {
    type Err = BudgetError;
    /// `300` (schedules) or a duration: `90s`, `5m`.
    fn from_str(s: &str) -> Result<Self, BudgetError> {
        if let Ok(n) = s.parse::<usize>() {
            return Ok(Budget::Cases(n.max(1)));
        }
        let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
        let n: u64 = n
            .parse()
            .map_err(|_| BudgetError::NotANumber(s.to_owned()))?;
        let seconds = match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            _ => return Err(BudgetError::Unit(s.to_owned())),
        };
        Ok(Budget::Time(Duration::from_secs(seconds.max(1))))
    }
}

/// What to explore with.
#[derive(Clone, Debug)]
pub struct Options {
    pub seed: u64,
    pub budget: Budget,
    pub jobs: usize,
    /// Stop at the first finding (after shrinking it) of this property, or of any with
    /// `Some(None)`; `None` explores the whole budget.
    pub stop_at: Option<Option<PropertyId>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            seed: 1,
            budget: Budget::default(),
            jobs: 1,
            stop_at: None,
        }
    }
}

/// A property failure found in a schedule, shrunk.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The scenario the schedule came from.
    pub scenario: String,
    pub property: PropertyId,
    /// The schedule's number: with the seed, it is made again exactly.
    pub case: usize,
    pub seed: u64,
    /// Steps in the schedule as found, and in the shrunk one.
    pub found_steps: usize,
    /// The shrunk scenario, with the reproducer's name, tags and description.
    pub minimal: Scenario,
    /// The property's headline on the shrunk scenario.
    pub reason: String,
    /// In how many of [`REPRODUCE_RUNS`] runs the shrunk scenario failed the property again (a
    /// failure that depends on how concurrent requests interleave may not show every time).
    pub reproduced: usize,
}

/// How often a shrunk scenario is run again to say how reliably it reproduces.
pub const REPRODUCE_RUNS: usize = 3;

impl Finding {
    /// The number of requests in the shrunk scenario.
    pub fn requests(&self) -> usize {
        count_requests(&self.minimal.steps)
    }
}

/// How an exploration went.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Schedules run.
    pub cases: usize,
    /// Schedules whose run was an `error` (a harness or protocol problem, never a finding).
    pub errors: usize,
    pub findings: Vec<Finding>,
    pub elapsed: Duration,
}

/// Progress, for a bar or lines.
#[derive(Clone, Debug)]
pub struct Progress {
    pub cases: usize,
    /// Of how many, when the budget is a number of schedules.
    pub of: Option<usize>,
    pub findings: usize,
    pub elapsed: Duration,
}

fn count_requests(steps: &[Step]) -> usize {
    steps
        .iter()
        .map(|s| match &s.action {
            Action::Request(_) => 1,
            Action::Concurrently(rs) => rs.len(),
            _ => 0,
        })
        .sum()
}

fn is_request(s: &Step) -> bool {
    matches!(s.action, Action::Request(_) | Action::Concurrently(_))
}

fn requests_of(s: &Step) -> Vec<Request> {
    match &s.action {
        Action::Request(r) => vec![r.clone()],
        Action::Concurrently(rs) => rs.clone(),
        _ => Vec::new(),
    }
}

/// The durations worth advancing by in `s`: past the reference's ten-minute bound on a cached
/// exchange, and past the registry's access and refresh tokens' lifetimes.
fn interesting_advances(s: &Scenario) -> [Duration; 3] {
    let o = &s.world.options;
    [
        Duration::from_secs(601),
        o.acr_access_token_lifetime + Duration::from_secs(1),
        o.acr_refresh_token_lifetime + Duration::from_secs(1),
    ]
}

/// Schedule `case` of `s` under `seed`: one to three mutations of its steps.
pub fn schedule(s: &Scenario, seed: u64, case: usize) -> Scenario {
    let mut rng = Rng::new(seed, case);
    let mut out = s.clone();
    let all_requests: Vec<(Step, Request)> = s
        .steps
        .iter()
        .flat_map(|st| requests_of(st).into_iter().map(move |r| (st.clone(), r)))
        .collect();
    if all_requests.is_empty() {
        return out;
    }
    let mutations = 1 + rng.below(3);
    for _ in 0..mutations {
        // A mutation that leaves no valid scenario (a request moved before the `addProject` that
        // creates its project) is undone.
        let before = out.steps.clone();
        mutate(&mut out.steps, &mut rng, s, &all_requests);
        if resolved(&out).is_none() {
            out.steps = before;
        }
    }
    out
}

/// One random change to a schedule's steps: two requests swapped or sent at once, a request
/// repeated, or a clock advance inserted.
fn mutate(steps: &mut Vec<Step>, rng: &mut Rng, s: &Scenario, all_requests: &[(Step, Request)]) {
    match rng.below(5) {
        // reorder
        0 => {
            let pairs: Vec<usize> = (0..steps.len().saturating_sub(1))
                .filter(|&i| is_request(&steps[i]) && is_request(&steps[i + 1]))
                .collect();
            if !pairs.is_empty() {
                let i = pairs[rng.below(pairs.len())];
                steps.swap(i, i + 1);
            }
        }
        // overlap
        1 | 2 => {
            let pairs: Vec<usize> = (0..steps.len().saturating_sub(1))
                .filter(|&i| is_request(&steps[i]) && is_request(&steps[i + 1]))
                .collect();
            if !pairs.is_empty() {
                let i = pairs[rng.below(pairs.len())];
                let mut rs = requests_of(&steps[i]);
                rs.extend(requests_of(&steps[i + 1]));
                let at = steps[i].at;
                steps.splice(
                    i..=i + 1,
                    [Step {
                        at,
                        action: Action::Concurrently(rs),
                    }],
                );
            }
        }
        // repeat
        3 => {
            let (step, r) = &all_requests[rng.below(all_requests.len())];
            let at = rng.below(steps.len() + 1);
            steps.insert(
                at,
                Step {
                    at: step.at,
                    action: Action::Request(r.clone()),
                },
            );
        }
        // advance
        _ => {
            let bounds = interesting_advances(s);
            let d = bounds[rng.below(bounds.len())];
            let at = 1 + rng.below(steps.len());
            let pos = steps.get(at.min(steps.len() - 1)).map(|st| st.at);
            steps.insert(
                at.min(steps.len()),
                Step {
                    at: pos.unwrap_or_default(),
                    action: Action::Advance(d),
                },
            );
        }
    }
}

/// `s` written and read back through the format: `None` when it is no longer a valid scenario
/// (a step names what no earlier step or the world has).
fn resolved(s: &Scenario) -> Option<Scenario> {
    let yaml = scenarios::render::to_yaml(s).ok()?;
    scenarios::load_str(&s.file, &yaml).ok().map(|l| l.scenario)
}

/// The properties that failed in `r` (none for a run that was an `error`).
fn failed_properties(r: &ScenarioResult) -> Vec<(PropertyId, String)> {
    if r.verdict == Verdict::Error {
        return Vec::new();
    }
    r.properties
        .iter()
        .filter(|p| p.verdict == PropertyVerdict::Fail)
        .map(|p| (p.id, p.reason.clone().unwrap_or_default()))
        .collect()
}

/// Every candidate one simplification smaller than `s`: a step removed, or one request taken out
/// of a `concurrently` step (a step of two becomes a request); only those still valid (removing
/// the `addProject` a later request needs is not a simplification).
fn smaller(s: &Scenario) -> Vec<Scenario> {
    smaller_steps(s)
        .into_iter()
        .filter(|c| resolved(c).is_some())
        .collect()
}

fn smaller_steps(s: &Scenario) -> Vec<Scenario> {
    let mut out = Vec::new();
    for i in (0..s.steps.len()).rev() {
        let mut c = s.clone();
        c.steps.remove(i);
        if count_requests(&c.steps) > 0 {
            out.push(c);
        }
    }
    for (i, st) in s.steps.iter().enumerate() {
        if let Action::Concurrently(rs) = &st.action {
            for j in 0..rs.len() {
                let mut rest = rs.clone();
                rest.remove(j);
                let mut c = s.clone();
                c.steps[i].action = if rest.len() == 1 {
                    Action::Request(rest.remove(0))
                } else {
                    Action::Concurrently(rest)
                };
                out.push(c);
            }
        }
    }
    out
}

/// Every candidate with one thing fewer in its world that no remaining step names: a project of
/// a cluster, a registry, a shard (with the federated credentials that trust its issuer). Each
/// is written and read back through the format, and kept only if it is still a valid scenario.
fn smaller_worlds(s: &Scenario) -> Vec<Scenario> {
    let requests: Vec<Request> = s.steps.iter().flat_map(requests_of).collect();
    let mut out = Vec::new();
    let drop_fics =
        |c: &mut Scenario, keep: &dyn Fn(&scenarios::model::FederatedCredential) -> bool| {
            for t in &mut c.world.tenants {
                for m in &mut t.managed_identities {
                    m.federated_credentials.retain(|f| keep(f));
                }
                for a in &mut t.apps {
                    a.federated_credentials.retain(|f| keep(f));
                }
            }
        };
    for (ci, cluster) in s.world.clusters.iter().enumerate() {
        for (pi, project) in cluster.projects.iter().enumerate() {
            if requests
                .iter()
                .any(|r| r.shard == cluster.name && r.project == project.name)
            {
                continue;
            }
            let mut c = s.clone();
            c.world.clusters[ci].projects.remove(pi);
            let (cname, pname) = (cluster.name.clone(), project.name.clone());
            drop_fics(&mut c, &|f| {
                !(f.cluster.as_deref() == Some(cname.as_str())
                    && f.service_account
                        .as_ref()
                        .is_some_and(|sa| sa.namespace == pname))
            });
            out.push(c);
        }
        if cluster.controller.is_some() && !requests.iter().any(|r| r.shard == cluster.name) {
            let mut c = s.clone();
            c.world.clusters.remove(ci);
            let cname = cluster.name.clone();
            drop_fics(&mut c, &|f| f.cluster.as_deref() != Some(cname.as_str()));
            out.push(c);
        }
    }
    for (ri, registry) in s.world.registries.iter().enumerate() {
        let named = requests.iter().any(|r| {
            matches!(&r.target, scenarios::model::RegistryTarget::Named { name, .. } if *name == registry.name)
        });
        if !named {
            let mut c = s.clone();
            c.world.registries.remove(ri);
            out.push(c);
        }
    }
    out.iter().filter_map(resolved).collect()
}

/// Shrinks `s` while `property` still fails on it; the last run's headline with it.
async fn shrink(
    mut s: Scenario,
    mut reason: String,
    property: PropertyId,
    launcher: &dyn Launcher,
) -> (Scenario, String) {
    loop {
        let mut smaller_found = false;
        for c in smaller(&s).into_iter().chain(smaller_worlds(&s)) {
            // A failure that shows only in some interleavings must show twice running to count:
            // the reproducer must fail when it is run, not once in a while.
            let mut why = None;
            for _ in 0..2 {
                let r = run_scenario(&c, launcher).await;
                why = failed_properties(&r)
                    .into_iter()
                    .find(|(p, _)| *p == property)
                    .map(|(_, w)| w);
                if why.is_none() {
                    break;
                }
            }
            if let Some(why) = why {
                s = c;
                reason = why;
                smaller_found = true;
                break;
            }
        }
        if !smaller_found {
            return (s, reason);
        }
    }
}

/// Turns the shrunk scenario into a reproducer: a name and tags that say where it came from, and
/// the expectations the reference implementation meets on it (`reference`: its observed answers,
/// in step order), so that a correct implementation passes it and the explored one fails the
/// property.
pub fn reproducer(
    mut s: Scenario,
    original: &str,
    property: PropertyId,
    seed: u64,
    case: usize,
    reference: &[Observed],
) -> Scenario {
    s.name = format!("{original}-explored-{seed}-{case}");
    s.description = Some(format!(
        "Found by `credsim explore --seed {seed}` (schedule {case} of {original}) and shrunk: \
         an implementation that fails `{}` here. Expectations are what the reference \
         implementation does on these steps.",
        property.as_str()
    ));
    s.tags.retain(|t| t != "explored");
    s.tags.push("explored".into());
    s.tags.push(format!("seed-{seed}"));
    let mut observed = reference.iter();
    for st in &mut s.steps {
        let rs: Vec<&mut Request> = match &mut st.action {
            Action::Request(r) => vec![r],
            Action::Concurrently(rs) => rs.iter_mut().collect(),
            _ => continue,
        };
        for r in rs {
            let Some(o) = observed.next() else { continue };
            let Some(outcome) = o.outcome else { continue };
            if outcome != r.expect.outcome {
                r.expect.error = None;
            }
            r.expect.outcome = outcome;
            if outcome == Outcome::Granted {
                let unlocked: BTreeSet<_> = o.unlocked.iter().cloned().collect();
                r.expect.unlocks = unlocked.iter().cloned().collect();
                r.expect.must_not_unlock.retain(|m| !unlocked.contains(m));
            } else {
                r.expect.unlocks.clear();
                r.expect.must_not_unlock.clear();
            }
        }
    }
    s
}

/// Explores `scenarios` against `launcher`; `reference` runs the reference implementation, whose
/// answers give reproducers their expectations. `progress` is called after every schedule.
pub async fn explore(
    scenarios: &[Scenario],
    launcher: &dyn Launcher,
    reference: &dyn Launcher,
    options: &Options,
    progress: &mut dyn FnMut(&Progress),
) -> Report {
    let started = Instant::now();
    let mut report = Report::default();
    if scenarios.is_empty() {
        return report;
    }
    let of = match options.budget {
        Budget::Cases(n) => Some(n),
        Budget::Time(_) => None,
    };
    let within = |case: usize, started: Instant| match options.budget {
        Budget::Cases(n) => case < n,
        Budget::Time(t) => started.elapsed() < t,
    };
    let mut seen: BTreeSet<(String, PropertyId)> = BTreeSet::new();
    let mut next = 0usize;
    let batch = options.jobs.max(1) * 2;
    'explore: while within(next, started) {
        let cases: Vec<usize> = (next..)
            .take_while(|&c| within(c, started))
            .take(batch)
            .collect();
        next += cases.len();
        let runs = futures::stream::iter(cases.into_iter().map(|case| {
            let original = &scenarios[case % scenarios.len()];
            let s = schedule(original, options.seed, case);
            async move {
                let r = run_scenario(&s, launcher).await;
                (case, original, s, r)
            }
        }))
        .buffer_unordered(options.jobs.max(1))
        .collect::<Vec<_>>()
        .await;
        let mut runs = runs;
        runs.sort_by_key(|(case, ..)| *case);
        for (case, original, s, r) in runs {
            report.cases += 1;
            if r.verdict == Verdict::Error {
                report.errors += 1;
            }
            for (property, reason) in failed_properties(&r) {
                if !seen.insert((original.name.clone(), property)) {
                    continue;
                }
                let found_steps = s.steps.len();
                let (minimal, reason) = shrink(s.clone(), reason, property, launcher).await;
                let mut reproduced = 0;
                for _ in 0..REPRODUCE_RUNS {
                    let again = run_scenario(&minimal, launcher).await;
                    if failed_properties(&again)
                        .iter()
                        .any(|(p, _)| *p == property)
                    {
                        reproduced += 1;
                    }
                }
                let observed = run_scenario(&minimal, reference).await.observed;
                let minimal = reproducer(
                    minimal,
                    &original.name,
                    property,
                    options.seed,
                    case,
                    &observed,
                );
                report.findings.push(Finding {
                    scenario: original.name.clone(),
                    property,
                    case,
                    seed: options.seed,
                    found_steps,
                    minimal,
                    reason,
                    reproduced,
                });
                // Only a reproducer that fails every time ends the search.
                if let Some(wanted) = options.stop_at
                    && wanted.is_none_or(|w| w == property)
                    && reproduced == REPRODUCE_RUNS
                {
                    break 'explore;
                }
            }
            progress(&Progress {
                cases: report.cases,
                of,
                findings: report.findings.len(),
                elapsed: started.elapsed(),
            });
        }
    }
    report.elapsed = started.elapsed();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus_scenario(name: &str) -> Scenario {
        crate::suite::load(&[])
            .0
            .into_iter()
            .find(|s| s.name == name)
            .expect("a corpus scenario")
    }

    #[test]
    fn schedules_and_shrinking_keep_what_steps_add_before_the_steps_that_need_it() {
        // project-c exists only from its `addProject` step on: no schedule moves a request for
        // it earlier, and no smaller candidate drops the step and keeps the request.
        let s = corpus_scenario("project-onboarded-while-running");
        let mut moved = 0;
        for c in 0..200 {
            let sched = schedule(&s, 11, c);
            assert!(
                resolved(&sched).is_some(),
                "schedule {c}: {:#?}",
                sched.steps
            );
            moved += usize::from(sched.steps != s.steps);
            for smaller in smaller(&sched) {
                assert!(resolved(&smaller).is_some(), "{:#?}", smaller.steps);
            }
        }
        assert!(
            moved > 100,
            "only {moved} schedules differ from the scenario"
        );
        // Dropping `addProject` alone is not a candidate; dropping a request is.
        let candidates = smaller(&s);
        assert!(candidates.iter().all(|c| {
            c.steps
                .iter()
                .any(|st| matches!(st.action, Action::AddProject { .. }))
        }));
        assert!(candidates.len() < smaller_steps(&s).len());
    }

    #[test]
    fn schedules_are_deterministic_per_seed_and_case_and_vary_between_cases() {
        let s = corpus_scenario("interleaved-projects");
        assert_eq!(schedule(&s, 7, 3).steps, schedule(&s, 7, 3).steps);
        let distinct: BTreeSet<String> = (0..40)
            .map(|c| format!("{:?}", schedule(&s, 7, c).steps))
            .collect();
        assert!(distinct.len() > 20, "{} distinct schedules", distinct.len());
        // Every mutation keeps the requests runnable: each is one of the scenario's own.
        let own: Vec<Request> = s.steps.iter().flat_map(requests_of).collect();
        for c in 0..40 {
            for st in &schedule(&s, 7, c).steps {
                for r in requests_of(st) {
                    assert!(own.contains(&r));
                }
            }
        }
        // Overlaps happen.
        assert!((0..40).any(|c| {
            schedule(&s, 7, c)
                .steps
                .iter()
                .any(|st| matches!(st.action, Action::Concurrently(_)))
        }));
    }

    #[test]
    fn budgets_parse_as_cases_or_time() {
        assert_eq!("300".parse::<Budget>(), Ok(Budget::Cases(300)));
        assert_eq!(
            "90s".parse::<Budget>(),
            Ok(Budget::Time(Duration::from_secs(90)))
        );
        assert_eq!(
            "5m".parse::<Budget>(),
            Ok(Budget::Time(Duration::from_secs(300)))
        );
        assert!("5x".parse::<Budget>().is_err());
        assert!("".parse::<Budget>().is_err());
    }

    #[test]
    fn smaller_candidates_remove_steps_and_split_overlaps() {
        let mut s = corpus_scenario("interleaved-projects");
        let n = s.steps.len();
        let rs: Vec<Request> = s.steps.drain(..2).flat_map(|st| requests_of(&st)).collect();
        s.steps.insert(
            0,
            Step {
                at: Default::default(),
                action: Action::Concurrently(rs),
            },
        );
        let c = smaller(&s);
        // n-1 steps now: each removed once, and the overlap split two ways.
        assert_eq!(c.len(), (n - 1) + 2);
        assert!(
            c.iter()
                .all(|x| count_requests(&x.steps) < count_requests(&s.steps))
        );
    }
}
