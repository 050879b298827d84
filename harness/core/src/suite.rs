//! A run of many scenarios: which ones (files, folders or the embedded corpus; `--filter`;
//! `--partition K/N`), how many at once (`--jobs`), and the reports.
//!
//! Scenarios are sorted by name before partitioning, so every machine of a CI matrix computes the
//! same disjoint slices. Results are reported in that order whatever order they finish in.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use credsim_world::error_chain;
use scenarios::Scenario;

use crate::expectations::Expectations;
use crate::implementation::Launcher;
use crate::report::{Event, Reporter, Summary};
use crate::result::ScenarioResult;
use crate::run::run_scenario;

include!(concat!(env!("OUT_DIR"), "/corpus.rs"));

/// `--partition K/N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    pub k: usize,
    pub n: usize,
}

/// Why a `--partition` value is not `K/N` with `1 <= K <= N`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PartitionError {
    #[error("{0:?} is not K/N")]
    NotKOfN(String),
    #[error("{0:?}: K is not a number")]
    K(String),
    #[error("{0:?}: N is not a number")]
    N(String),
    #[error("{0:?}: need 1 <= K <= N")]
    OutOfRange(String),
}

impl std::str::FromStr for Partition {
    type Err = PartitionError;
    fn from_str(s: &str) -> Result<Self, PartitionError> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| PartitionError::NotKOfN(s.to_owned()))?;
        let k: usize = k.parse().map_err(|_| PartitionError::K(s.to_owned()))?;
        let n: usize = n.parse().map_err(|_| PartitionError::N(s.to_owned()))?;
        if n == 0 || k == 0 || k > n {
            return Err(PartitionError::OutOfRange(s.to_owned()));
        }
        Ok(Self { k, n })
    }
}

/// The scenarios to run: loaded, or the diagnostics of those that did not load.
pub fn load(paths: &[PathBuf]) -> (Vec<Scenario>, Vec<String>) {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    if paths.is_empty() {
        for (file, text) in CORPUS {
            match scenarios::load_str(file, text) {
                Ok(l) => ok.push(l.scenario),
                Err(e) => errors.push(error_chain(&e)),
            }
        }
        return (ok, errors);
    }
    match scenarios::find_files(paths) {
        Err(e) => errors.push(format!("listing scenario files failed: {e}")),
        Ok(files) if files.is_empty() => errors.push("no scenario files (*.yaml) found".into()),
        Ok(files) => {
            for f in files {
                match scenarios::load_file(&f) {
                    Ok(l) => ok.push(l.scenario),
                    Err(e) => errors.push(error_chain(&e)),
                }
            }
        }
    }
    (ok, errors)
}

pub use crate::glob::glob_match;

/// Sorts by name, applies the filter, keeps the partition's slice.
pub fn select(mut all: Vec<Scenario>, filter: Option<&str>, partition: Partition) -> Vec<Scenario> {
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all.into_iter()
        .filter(|s| filter.is_none_or(|f| glob_match(f, &s.name)))
        .enumerate()
        .filter(|(i, _)| i % partition.n == partition.k - 1)
        .map(|(_, s)| s)
        .collect()
}

/// The protocols `--protocol` names.
pub const PROTOCOLS: [&str; 3] = [
    "exec",
    "docker-credential-helper",
    "kubelet-credential-provider",
];

/// Why [`select_some`] selected no scenario.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("no scenario selected: the paths hold no scenario")]
    NoScenarios,
    #[error(
        "no scenario selected: --filter {filter:?} matches none of the {count} scenario(s)' names"
    )]
    FilterMatchesNone { filter: String, count: usize },
    #[error(
        "no scenario selected: partition {}/{} of {matching} scenario(s) is empty",
        partition.k,
        partition.n
    )]
    EmptyPartition {
        partition: Partition,
        matching: usize,
    },
}

/// [`select`], and why nothing was selected when nothing was: a filter that matches no name, or
/// a partition slice that is empty, is an error (as nextest treats "no tests to run"), never a
/// silent success of zero scenarios.
pub fn select_some(
    all: Vec<Scenario>,
    filter: Option<&str>,
    partition: Partition,
) -> Result<Vec<Scenario>, SelectError> {
    let count = all.len();
    let matching = all
        .iter()
        .filter(|s| filter.is_none_or(|f| glob_match(f, &s.name)))
        .count();
    let selected = select(all, filter, partition);
    if !selected.is_empty() {
        return Ok(selected);
    }
    Err(match filter {
        _ if count == 0 => SelectError::NoScenarios,
        Some(f) if matching == 0 => SelectError::FilterMatchesNone {
            filter: f.to_owned(),
            count,
        },
        _ => SelectError::EmptyPartition {
            partition,
            matching,
        },
    })
}

/// A protocol credsim does not speak (not one of [`PROTOCOLS`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown protocol {protocol} (exec, docker-credential-helper or kubelet-credential-provider)"
)]
pub struct UnknownProtocol {
    pub protocol: String,
}

/// Whether `protocol` is one credsim speaks, or why not.
pub fn check_protocol(protocol: &str) -> Result<(), UnknownProtocol> {
    if PROTOCOLS.contains(&protocol) {
        Ok(())
    } else {
        Err(UnknownProtocol {
            protocol: protocol.to_owned(),
        })
    }
}

/// The launcher for a command and a protocol.
pub fn launcher(command: &str, protocol: &str) -> Result<Arc<dyn Launcher>, UnknownProtocol> {
    launcher_with_timeout(command, protocol, None)
}

/// [`launcher`] with the time a request may take instead of the protocol's default (a helper
/// whose HTTP client retries for 30 s before it gives up needs longer).
pub fn launcher_with_timeout(
    command: &str,
    protocol: &str,
    timeout: Option<std::time::Duration>,
) -> Result<Arc<dyn Launcher>, UnknownProtocol> {
    check_protocol(protocol)?;
    Ok(match (command, protocol) {
        (cmd, "kubelet-credential-provider") => {
            let mut l = crate::kubelet_provider::KubeletProviderLauncher::new(cmd);
            l.timeout = timeout.unwrap_or(l.timeout);
            Arc::new(l)
        }
        (cmd, "docker-credential-helper") => {
            let mut l = crate::docker_helper::DockerHelperLauncher::new(cmd);
            l.timeout = timeout.unwrap_or(l.timeout);
            Arc::new(l)
        }
        (cmd, _) => {
            let mut l = crate::exec::ExecLauncher::new(cmd);
            if let Some(t) = timeout {
                l.timeouts.request = t;
            }
            Arc::new(l)
        }
    })
}

/// Runs `scenarios` with at most `jobs` at once, feeding `reporter` in order.
pub async fn run_all(
    scenarios: Vec<Scenario>,
    launcher: Arc<dyn Launcher>,
    jobs: usize,
    reporter: &mut dyn Reporter,
    out: &mut dyn Write,
) -> std::io::Result<(Vec<ScenarioResult>, Summary)> {
    run_with(
        scenarios,
        launcher,
        jobs,
        &Expectations::default(),
        reporter,
        out,
    )
    .await
}

/// [`run_all`] with an implementation's expectations: skips are not run, expected failures
/// are applied to the results.
pub async fn run_with(
    scenarios: Vec<Scenario>,
    launcher: Arc<dyn Launcher>,
    jobs: usize,
    expectations: &Expectations,
    reporter: &mut dyn Reporter,
    out: &mut dyn Write,
) -> std::io::Result<(Vec<ScenarioResult>, Summary)> {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let count = scenarios.len();
    for (i, s) in scenarios.into_iter().enumerate() {
        let launcher = launcher.clone();
        let semaphore = semaphore.clone();
        let skip = expectations.skip_reason(&s.name).map(str::to_owned);
        set.spawn(async move {
            if let Some(reason) = skip {
                return (
                    i,
                    ScenarioResult::skipped(&s, &launcher.describe(), &reason),
                );
            }
            let _permit = semaphore.acquire_owned().await.expect("never closed");
            (i, run_scenario(&s, launcher.as_ref()).await)
        });
    }
    let mut slots: Vec<Option<ScenarioResult>> = (0..count).map(|_| None).collect();
    let mut next = 0;
    let mut summary = Summary::on_this_machine();
    let mut results = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (i, mut r) = joined.map_err(std::io::Error::other)?;
        expectations.apply(&mut r);
        slots[i] = Some(r);
        while next < count && slots[next].is_some() {
            let r = slots[next].take().expect("checked");
            summary.add(&r);
            reporter.event(Event::ScenarioFinished(&r), out)?;
            out.flush()?;
            results.push(r);
            next += 1;
        }
    }
    reporter.event(Event::RunFinished(&summary), out)?;
    Ok((results, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_partitions() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("entra-*", "entra-missing-tenant"));
        assert!(!glob_match("entra-*", "acr-abac"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert_eq!(
            "2/3".parse::<Partition>().unwrap(),
            Partition { k: 2, n: 3 }
        );
        assert!("0/3".parse::<Partition>().is_err());
        assert!("4/3".parse::<Partition>().is_err());
        assert!("x".parse::<Partition>().is_err());
    }

    #[test]
    fn the_embedded_corpus_loads() {
        let (ok, errors) = load(&[]);
        assert!(errors.is_empty(), "{errors:#?}");
        assert_eq!(ok.len(), CORPUS.len());
        assert!(!ok.is_empty());
    }
}
