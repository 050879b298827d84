//! Scenarios as tests of your own suite: one test per scenario under `cargo test` and
//! `cargo nextest`, listed and filtered by name, in the spirit of sqllogictest-rs's harness.
//!
//! Add a test target with `harness = false` and give its `main` to a [`Harness`]:
//!
//! ```toml
//! [[test]]
//! name = "credsim"
//! harness = false
//! ```
//!
//! and let `tests/credsim.rs`'s `fn main()` be:
//!
//! ```no_run
//! credsim::harness::Harness::folder("tests/scenarios")
//!     .command("./target/debug/my-credential-provider", "exec")
//!     .expectations("tests/credsim-expectations.yaml")
//!     .report_dir("target/credsim-report")
//!     .main()
//! ```
//!
//! Each test is named `<prefix>::<scenario>` (`credsim::` unless [`Harness::prefix`] says
//! otherwise), so `cargo test --test credsim -- entra-` runs the scenarios whose name contains
//! `entra-`, and `--list` lists them (nextest uses that). A scenario file that does not load is a
//! failing test of its own that prints `file:line:col: message`; a scenario the implementation
//! fails prints the human report: the step, the property's claim and the evidence. The
//! implementation is a command speaking one of credsim's protocols (any language), or an
//! in-process Rust [`Launcher`] ([`Harness::implementation`]).
//!
//! [`Harness::run`] hands back every [`ScenarioResult`] for a suite that wants to assert more
//! than the verdicts:
//!
//! ```
//! use credsim::harness::Harness;
//! use credsim::implementation::RefusalKind;
//! use credsim::result::Verdict;
//!
//! # fn main() -> Result<(), credsim::harness::HarnessError> {
//! // The corpus's scenarios whose name matches, against a deliberately empty implementation
//! // that answers every request `not-configured`.
//! let outcome = Harness::corpus()
//!     .implementation(credsim::inprocess::refuses(RefusalKind::NotConfigured))
//!     .filter("tenant-missing")
//!     .run_quietly()?;
//! assert_eq!(outcome.results.len(), 1);
//! // Refusing everything is safe: every property holds, but the happy-path expectation fails.
//! let r = &outcome.results[0];
//! assert!(r.properties.iter().all(|p| p.verdict != credsim::properties::PropertyVerdict::Fail));
//! assert_ne!(r.verdict, Verdict::Error);
//! # Ok(())
//! # }
//! ```

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Conclusion, Failed, Trial};
use scenarios::Scenario;

use crate::expectations::Expectations;
use crate::implementation::Launcher;
use crate::report::{Event, Human, Reporter, Summary};
use crate::result::{ScenarioResult, Verdict};
use crate::run::run_scenario;

/// Why a [`Harness`] could not make its tests.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// `--protocol` (or [`Harness::command`]'s protocol) is not one credsim speaks.
    #[error(transparent)]
    Protocol(#[from] crate::suite::UnknownProtocol),
    /// The expectations file did not load.
    #[error(transparent)]
    Expectations(#[from] crate::expectations::ExpectationsError),
    /// No implementation was given: neither [`Harness::command`] nor [`Harness::implementation`].
    #[error("no implementation: give the harness a command or an in-process launcher")]
    NoImplementation,
    /// The filter or the paths selected no scenario.
    #[error(transparent)]
    NothingSelected(#[from] crate::suite::SelectError),
    /// A scenario file did not load (only from [`Harness::run_quietly`]; [`Harness::trials`]
    /// makes each such file a failing test): its diagnostics, as `credsim check` prints them.
    #[error("{0}")]
    Load(String),
    /// A runtime for the scenarios could not be built.
    #[error("building the runtime failed")]
    Runtime(#[source] std::io::Error),
    /// Writing the report directory failed.
    #[error("writing the report directory {} failed", .0.display())]
    Report(PathBuf, #[source] std::io::Error),
}

/// Where the scenarios come from.
#[derive(Clone, Debug)]
enum Source {
    /// The corpus embedded in this crate (`scenarios/corpus`).
    Corpus,
    /// Scenario files, and folders searched for `*.yaml`.
    Paths(Vec<PathBuf>),
}

/// A suite of scenarios against one implementation, as tests.
#[derive(Clone)]
pub struct Harness {
    source: Source,
    launcher: Option<Result<Arc<dyn Launcher>, crate::suite::UnknownProtocol>>,
    expectations: Option<PathBuf>,
    report_dir: Option<PathBuf>,
    filter: Option<String>,
    prefix: String,
    worker_threads: usize,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("source", &self.source)
            .field(
                "implementation",
                &self.launcher.as_ref().map(|l| match l {
                    Ok(l) => l.describe(),
                    Err(e) => e.to_string(),
                }),
            )
            .field("expectations", &self.expectations)
            .field("report_dir", &self.report_dir)
            .field("filter", &self.filter)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// What [`Harness::run`] and [`Harness::run_quietly`] found.
#[derive(Debug)]
pub struct Outcome {
    /// The scenarios that ran (or were skipped), sorted by name.
    pub results: Vec<ScenarioResult>,
    pub summary: Summary,
    /// libtest's conclusion (counts of passed, failed and filtered tests); `None` from
    /// [`Harness::run_quietly`], which runs no test harness.
    pub conclusion: Option<Conclusion>,
}

impl Harness {
    /// The corpus that ships with credsim.
    pub fn corpus() -> Self {
        Self::with(Source::Corpus)
    }

    /// The scenario files in a folder (searched recursively for `*.yaml`), or one file.
    pub fn folder(path: impl Into<PathBuf>) -> Self {
        Self::with(Source::Paths(vec![path.into()]))
    }

    /// Several files and folders.
    pub fn paths(paths: impl IntoIterator<Item = impl Into<PathBuf>>) -> Self {
        Self::with(Source::Paths(paths.into_iter().map(Into::into).collect()))
    }

    fn with(source: Source) -> Self {
        Self {
            source,
            launcher: None,
            expectations: None,
            report_dir: None,
            filter: None,
            prefix: "credsim".into(),
            worker_threads: 2,
        }
    }

    /// The implementation is a program: `command` is split into words as a shell would
    /// (quotes, no expansion) and speaks `protocol` (`exec`, `docker-credential-helper` or
    /// `kubelet-credential-provider`); every scenario starts it afresh, in the sandbox.
    pub fn command(mut self, command: &str, protocol: &str) -> Self {
        self.launcher = Some(crate::suite::launcher(command, protocol));
        self
    }

    /// The implementation is Rust code in this process.
    pub fn implementation(mut self, launcher: impl Launcher + 'static) -> Self {
        self.launcher = Some(Ok(Arc::new(launcher)));
        self
    }

    /// [`Harness::implementation`] for a launcher already shared.
    pub fn shared_implementation(mut self, launcher: Arc<dyn Launcher>) -> Self {
        self.launcher = Some(Ok(launcher));
        self
    }

    /// The implementation's expected failures and skips (the format of `credsim run
    /// --expectations`): an expected failure that passes fails its test, so the list cannot rot.
    pub fn expectations(mut self, path: impl Into<PathBuf>) -> Self {
        self.expectations = Some(path.into());
        self
    }

    /// After the tests, write the report directory there (`summary.json`, `junit.xml`,
    /// `report.html`, transcripts) for the scenarios that ran.
    pub fn report_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.report_dir = Some(path.into());
        self
    }

    /// Only the scenarios whose name matches this glob (`*`, `?`), before libtest's own filter.
    pub fn filter(mut self, glob: impl Into<String>) -> Self {
        self.filter = Some(glob.into());
        self
    }

    /// The first part of every test's name (`credsim` by default).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Tokio worker threads per scenario (2 by default).
    pub fn worker_threads(mut self, n: usize) -> Self {
        self.worker_threads = n.max(1);
        self
    }

    /// Parses libtest's arguments, runs the tests, writes the report directory, and exits with
    /// libtest's status. Errors in the harness's own setup exit with status 2 and the reason.
    pub fn main(self) -> ! {
        let args = Arguments::from_args();
        match self.run(&args) {
            Ok(outcome) => match outcome.conclusion {
                Some(c) => c.exit(),
                None => std::process::exit(0),
            },
            Err(e) => {
                #[allow(clippy::print_stderr)] // a test binary's main: stderr is its report
                {
                    eprintln!("credsim harness: {}", credsim_world::error_chain(&e));
                }
                std::process::exit(2)
            }
        }
    }

    /// Runs the tests with libtest's `args` and returns what they found.
    pub fn run(self, args: &Arguments) -> Result<Outcome, HarnessError> {
        let results: Arc<Mutex<Vec<ScenarioResult>>> = Arc::default();
        let report_dir = self.report_dir.clone();
        let trials = self.trials_into(results.clone())?;
        let conclusion = libtest_mimic::run(args, trials);
        let mut results = std::mem::take(&mut *results.lock().unwrap_or_else(|e| e.into_inner()));
        results.sort_by(|a, b| a.scenario.cmp(&b.scenario));
        let summary = summary_of(&results);
        if let Some(dir) = report_dir {
            crate::report::write_dir(&dir, &results, &summary)
                .map_err(|e| HarnessError::Report(dir.clone(), e))?;
        }
        Ok(Outcome {
            results,
            summary,
            conclusion: Some(conclusion),
        })
    }

    /// The tests, for a suite that runs libtest-mimic itself.
    pub fn trials(self) -> Result<Vec<Trial>, HarnessError> {
        self.trials_into(Arc::default())
    }

    /// Runs every selected scenario one after another, without a test harness, and returns the
    /// results (with the expectations applied). A scenario file that does not load is an error.
    pub fn run_quietly(self) -> Result<Outcome, HarnessError> {
        let (scenarios, errors) = self.load();
        if let Some(first) = errors.into_iter().next() {
            return Err(HarnessError::Load(first));
        }
        let plan = self.plan(scenarios)?;
        let mut results = Vec::new();
        for s in &plan.scenarios {
            results.push(plan.run_one(s)?);
        }
        let summary = summary_of(&results);
        if let Some(dir) = &self.report_dir {
            crate::report::write_dir(dir, &results, &summary)
                .map_err(|e| HarnessError::Report(dir.clone(), e))?;
        }
        Ok(Outcome {
            results,
            summary,
            conclusion: None,
        })
    }

    fn load(&self) -> (Vec<Scenario>, Vec<String>) {
        match &self.source {
            Source::Corpus => crate::suite::load(&[]),
            Source::Paths(paths) => crate::suite::load(paths),
        }
    }

    fn plan(&self, scenarios: Vec<Scenario>) -> Result<Plan, HarnessError> {
        let launcher = match &self.launcher {
            None => return Err(HarnessError::NoImplementation),
            Some(Err(e)) => return Err(HarnessError::Protocol(e.clone())),
            Some(Ok(l)) => l.clone(),
        };
        let expectations = match &self.expectations {
            None => Expectations::default(),
            Some(p) => Expectations::load(p)?,
        };
        let scenarios = crate::suite::select_some(
            scenarios,
            self.filter.as_deref(),
            crate::suite::Partition { k: 1, n: 1 },
        )?;
        Ok(Plan {
            launcher,
            expectations: Arc::new(expectations),
            scenarios,
            worker_threads: self.worker_threads,
        })
    }

    fn trials_into(
        self,
        sink: Arc<Mutex<Vec<ScenarioResult>>>,
    ) -> Result<Vec<Trial>, HarnessError> {
        let (scenarios, errors) = self.load();
        let mut trials: Vec<Trial> = errors
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                Trial::test(format!("{}::load-error-{i}", self.prefix), move || {
                    Err(e.into())
                })
            })
            .collect();
        if scenarios.is_empty() && !trials.is_empty() {
            return Ok(trials);
        }
        let plan = Arc::new(self.plan(scenarios)?);
        for s in plan.scenarios.clone() {
            let plan = plan.clone();
            let sink = sink.clone();
            let name = format!("{}::{}", self.prefix, s.name);
            trials.push(Trial::test(name, move || {
                let r = plan
                    .run_one(&s)
                    .map_err(|e| Failed::from(credsim_world::error_chain(&e)))?;
                let verdict = r.verdict;
                let report =
                    (verdict != Verdict::Pass && verdict != Verdict::Skip).then(|| human(&r));
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(r);
                match (verdict, report) {
                    (Verdict::Pass | Verdict::Skip, _) => Ok(()),
                    (_, report) => Err(report.unwrap_or_default().into()),
                }
            }));
        }
        Ok(trials)
    }
}

/// What every test of a harness shares.
struct Plan {
    launcher: Arc<dyn Launcher>,
    expectations: Arc<Expectations>,
    scenarios: Vec<Scenario>,
    worker_threads: usize,
}

impl Plan {
    fn run_one(&self, s: &Scenario) -> Result<ScenarioResult, HarnessError> {
        if let Some(reason) = self.expectations.skip_reason(&s.name) {
            return Ok(ScenarioResult::skipped(
                s,
                &self.launcher.describe(),
                reason,
            ));
        }
        mock_kit::install_crypto_provider();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.worker_threads)
            .enable_all()
            .build()
            .map_err(HarnessError::Runtime)?;
        let mut r = rt.block_on(run_scenario(s, self.launcher.as_ref()));
        self.expectations.apply(&mut r);
        Ok(r)
    }
}

fn summary_of(results: &[ScenarioResult]) -> Summary {
    let mut summary = Summary::on_this_machine();
    for r in results {
        summary.add(r);
    }
    summary
}

/// The human report of one scenario.
fn human(r: &ScenarioResult) -> String {
    let mut out = Vec::new();
    match Human.event(Event::ScenarioFinished(r), &mut out) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(e) => format!(
            "{}: {} (the report could not be written: {e})",
            r.scenario,
            r.verdict.as_str()
        ),
    }
}
