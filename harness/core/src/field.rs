//! The field report (`credsim field`): implementations from upstream, built unmodified from pinned
//! modules, run over the corpus and the scenarios written in their conventions, each with its
//! expectations file; the result rendered as `docs/field-report.md`.
//!
//! The manifest (`clients/field/field.yaml`) names each implementation: its package and the
//! module whose pinned version it was built from (read from the `go.mod` that pins it), the
//! protocol and command, the scenarios (`corpus` or folders), the expectations file and the
//! upstream documents about it. Paths are relative to the workspace root the command is given.
//!
//! The report is deterministic for a given build: it holds verdicts, counts, and one line of
//! evidence per failure with every per-run value (secret fingerprints, times, ports) masked, so
//! that `credsim field --check` can compare it with the committed copy.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use scenarios::model::PropertyId;
use serde::Deserialize;

use crate::exec::SplitError;
use crate::expectations::{Expectations, ExpectationsError};
use crate::implementation::Launcher;
use crate::properties::PropertyVerdict;
use crate::report::Summary;
use crate::result::{ScenarioResult, Verdict};
use crate::suite::UnknownProtocol;

/// `clients/field/field.yaml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub implementations: Vec<FieldImplementation>,
}

/// One implementation of the field.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FieldImplementation {
    pub name: String,
    pub title: String,
    /// The Go package that does the work.
    pub package: String,
    /// The module whose version the report gives.
    pub module: String,
    /// The `go.mod` that pins it.
    pub go_mod: PathBuf,
    /// `exec`, `docker-credential-helper` or `kubelet-credential-provider`.
    pub protocol: String,
    /// The command line; words naming a file under the root are made absolute.
    pub command: String,
    /// How the implementation is driven (shim or none).
    pub via: String,
    /// `corpus`, or folders of scenario files.
    pub scenarios: Vec<String>,
    pub expectations: PathBuf,
    /// How long one request may take, when not the protocol's default.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Upstream documents about the implementation.
    #[serde(default)]
    pub upstream: Vec<String>,
}

/// Why the field could not be run. Causes are sources, not part of the message: print the chain
/// (`credsim_world::error_chain`).
#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    #[error("{path}: cannot read")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{name}: {message}")]
    Implementation { name: String, message: String },
    /// The implementation's expectations file did not load.
    #[error("{name}: its expectations do not load")]
    Expectations {
        name: String,
        #[source]
        source: ExpectationsError,
    },
    /// The implementation's command does not split into words.
    #[error("{name}: its command does not split into words")]
    Command {
        name: String,
        #[source]
        source: SplitError,
    },
    /// The manifest names a protocol credsim does not speak.
    #[error("{name}: its launcher cannot be made")]
    Protocol {
        name: String,
        #[source]
        source: UnknownProtocol,
    },
    #[error("running {name} failed")]
    Run {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Self, FieldError> {
        let text = std::fs::read_to_string(path).map_err(|source| FieldError::Read {
            path: path.to_owned(),
            source,
        })?;
        let m: Manifest = serde_saphyr::from_str(&text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!("{}:{}", l.line(), l.column()))
                .unwrap_or_else(|| "1:1".into());
            let message = e.without_snippet().to_string();
            let message = message.split(" at line ").next().unwrap_or_default();
            FieldError::Invalid {
                path: PathBuf::from(format!("{}:{at}", path.display())),
                message: message.to_owned(),
            }
        })?;
        let mut names: Vec<&str> = m.implementations.iter().map(|i| i.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(FieldError::Invalid {
                path: path.to_owned(),
                message: format!("two implementations are named {}", w[0]),
            });
        }
        Ok(m)
    }
}

/// The version a `go.mod` requires of `module` (a `require` line, alone or in a block).
pub fn required_version(go_mod: &str, module: &str) -> Option<String> {
    let mut in_block = false;
    for line in go_mod.lines() {
        let line = line.split("//").next().unwrap_or_default().trim();
        let entry = if in_block {
            if line == ")" {
                in_block = false;
                continue;
            }
            line
        } else if line == "require (" {
            in_block = true;
            continue;
        } else if let Some(rest) = line.strip_prefix("require ") {
            rest.trim()
        } else {
            continue;
        };
        let mut words = entry.split_whitespace();
        if words.next() == Some(module) {
            return words.next().map(str::to_owned);
        }
    }
    None
}

/// The command with every word that names a file or folder under `root` made absolute, so it
/// means the same from any working directory.
pub fn rooted_command(command: &str, root: &Path) -> Result<String, SplitError> {
    let words = crate::exec::split_words(command)?;
    Ok(words
        .iter()
        .map(|w| {
            let p = root.join(w);
            let w = if !w.starts_with('/') && w.contains('/') && p.exists() {
                p.display().to_string()
            } else {
                w.clone()
            };
            format!("'{}'", w.replace('\'', r"'\''"))
        })
        .collect::<Vec<_>>()
        .join(" "))
}

/// One implementation's run.
#[derive(Debug)]
pub struct FieldRun {
    pub implementation: FieldImplementation,
    pub version: String,
    pub expectations: Expectations,
    pub results: Vec<ScenarioResult>,
    pub summary: Summary,
}

/// Runs one implementation over its scenarios, with its expectations applied; `reporter` hears
/// of every scenario (the CLI's progress; [`crate::report::Silent`] for none).
pub async fn run_one(
    imp: &FieldImplementation,
    root: &Path,
    jobs: usize,
    reporter: &mut dyn crate::report::Reporter,
) -> Result<FieldRun, FieldError> {
    let fail = |message: String| FieldError::Implementation {
        name: imp.name.clone(),
        message,
    };
    let go_mod_path = root.join(&imp.go_mod);
    let go_mod = std::fs::read_to_string(&go_mod_path).map_err(|source| FieldError::Read {
        path: go_mod_path.clone(),
        source,
    })?;
    let version = required_version(&go_mod, &imp.module).ok_or_else(|| {
        fail(format!(
            "{} does not require {}",
            imp.go_mod.display(),
            imp.module
        ))
    })?;
    let mut scenarios = Vec::new();
    for entry in &imp.scenarios {
        let paths = if entry == "corpus" {
            Vec::new()
        } else {
            vec![root.join(entry)]
        };
        let (loaded, errors) = crate::suite::load(&paths);
        if !errors.is_empty() {
            return Err(fail(errors.join("\n")));
        }
        scenarios.extend(loaded);
    }
    let expectations = Expectations::load(&root.join(&imp.expectations)).map_err(|source| {
        FieldError::Expectations {
            name: imp.name.clone(),
            source,
        }
    })?;
    let names: Vec<String> = scenarios.iter().map(|s| s.name.clone()).collect();
    let unknown = expectations.unknown_entries(&names);
    if !unknown.is_empty() {
        return Err(fail(unknown.join("; ")));
    }
    let command = rooted_command(&imp.command, root).map_err(|source| FieldError::Command {
        name: imp.name.clone(),
        source,
    })?;
    let program = crate::exec::split_words(&command)
        .ok()
        .and_then(|w| w.into_iter().next())
        .unwrap_or_default();
    if !Path::new(&program).exists() {
        return Err(fail(format!(
            "{program} is not built (scripts/install-go-clients builds it)"
        )));
    }
    let launcher: Arc<dyn Launcher> = crate::suite::launcher_with_timeout(
        &command,
        &imp.protocol,
        imp.timeout_seconds.map(std::time::Duration::from_secs),
    )
    .map_err(|source| FieldError::Protocol {
        name: imp.name.clone(),
        source,
    })?;
    let (results, summary) = crate::suite::run_with(
        scenarios,
        launcher,
        jobs,
        &expectations,
        reporter,
        &mut std::io::sink(),
    )
    .await
    .map_err(|source| FieldError::Run {
        name: imp.name.clone(),
        source,
    })?;
    Ok(FieldRun {
        implementation: imp.clone(),
        version,
        expectations,
        results,
        summary,
    })
}

impl FieldRun {
    /// Whether the run is what its expectations say: no unexpected failure and no error.
    pub fn as_expected(&self) -> bool {
        self.summary.failed == 0 && self.summary.errors == 0
    }
}

/// Masks what differs from run to run: secret fingerprints, timestamps, loopback ports.
pub fn stable(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default();
    let mut out = String::with_capacity(first.len());
    let chars: Vec<char> = first.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let rest: String = chars[i..chars.len().min(i + 20)].iter().collect();
        if rest.starts_with("sha256:") {
            out.push_str("sha256:…");
            i += 7;
            while i < chars.len() && chars[i].is_ascii_hexdigit() {
                i += 1;
            }
            continue;
        }
        if rest.starts_with("127.0.0.1:") {
            out.push_str("127.0.0.1:…");
            i += 10;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            continue;
        }
        // An RFC 3339 timestamp: dddd-dd-dd[T ]dd:dd:dd...
        let is = |k: usize, f: fn(char) -> bool| chars.get(i + k).is_some_and(|&c| f(c));
        let digit = |c: char| c.is_ascii_digit();
        if (0..4).all(|k| is(k, digit))
            && is(4, |c| c == '-')
            && is(7, |c| c == '-')
            && is(10, |c| c == 'T' || c == ' ')
            && is(13, |c| c == ':')
        {
            out.push_str("<time>");
            i += 11;
            while i < chars.len() && (chars[i].is_ascii_digit() || ":.Z+-".contains(chars[i])) {
                i += 1;
            }
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    const MAX: usize = 300;
    if out.chars().count() > MAX {
        let cut: String = out.chars().take(MAX).collect();
        return format!("{cut}…");
    }
    out
}

/// One failure as the report lists it.
struct Failure {
    scenario: String,
    what: String,
    line: Option<u32>,
    evidence: String,
    known: Option<String>,
    source: Option<String>,
}

fn failures(run: &FieldRun) -> Vec<Failure> {
    let source_of = |scenario: &str, property: Option<PropertyId>, step: Option<usize>| {
        run.expectations
            .expected_failures
            .iter()
            .find(|x| {
                x.scenario == scenario
                    && (x.property == property && x.step == step
                        || x.property.is_none() && x.step.is_none())
            })
            .and_then(|x| x.source.clone())
    };
    let mut out = Vec::new();
    for r in &run.results {
        for x in r.expectations.iter().filter(|x| x.line != 0) {
            let observed = r
                .observed
                .iter()
                .find(|o| o.step == x.step)
                .map(|o| o.outcome.map_or("internal", |o| o.as_str()));
            let evidence = match (x.message.strip_prefix("expected `"), observed) {
                (Some(rest), Some(got)) => {
                    let want = rest.split('`').next().unwrap_or_default();
                    format!("expected `{want}`, got `{got}`")
                }
                _ => stable(&x.message),
            };
            out.push(Failure {
                scenario: r.scenario.clone(),
                what: format!("step {}", x.step + 1),
                line: Some(x.line),
                evidence,
                known: x.expected.clone().or_else(|| r.expected_failure.clone()),
                source: source_of(&r.scenario, None, Some(x.step + 1)),
            });
        }
        for p in r
            .properties
            .iter()
            .filter(|p| p.verdict == PropertyVerdict::Fail)
        {
            let mut evidence = stable(p.reason.as_deref().unwrap_or("failed"));
            if let Some(first) = p.evidence.first() {
                evidence.push_str(": ");
                evidence.push_str(&stable(first));
            }
            out.push(Failure {
                scenario: r.scenario.clone(),
                what: format!("`{}`", p.id.as_str()),
                line: p.line,
                evidence,
                known: p
                    .expected_failure
                    .clone()
                    .or_else(|| r.expected_failure.clone()),
                source: source_of(&r.scenario, Some(p.id), None),
            });
        }
        if let Some(e) = &r.error {
            out.push(Failure {
                scenario: r.scenario.clone(),
                what: r.verdict.as_str().to_owned(),
                line: None,
                evidence: stable(e),
                known: None,
                source: None,
            });
        }
    }
    out
}

/// `docs/field-report.md`.
pub fn render(runs: &[FieldRun]) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Field report\n\n\
         <!-- Generated by `credsim field` from clients/field/field.yaml; do not edit. CI runs \
         `credsim field --check`, which fails when this file drifts from what credsim sees. -->\n\n\
         What credsim sees when it runs implementations that people ship, built unmodified from \
         pinned module versions (`scripts/install-go-clients`), over the corpus and the \
         scenarios written in each one's conventions (`scenarios/field/`). Each implementation's \
         expectations file (`clients/field/expectations/`) gives the reason for every known \
         failure; where upstream documents the same behaviour, the source is linked. A verdict \
         here is credsim's evidence, not upstream's claim.\n"
    );
    let _ = writeln!(
        md,
        "| implementation | version | protocol | scenarios | passed | failed as expected | failed | errors | skipped |\n|---|---|---|---|---|---|---|---|---|"
    );
    for run in runs {
        let known = run
            .results
            .iter()
            .filter(|r| {
                r.verdict == Verdict::Pass
                    && (r.expected_failure.is_some()
                        || r.expectations.iter().any(|x| x.expected.is_some())
                        || r.properties.iter().any(|p| p.expected_failure.is_some()))
            })
            .count();
        let _ = writeln!(
            md,
            "| [{}](#{}) | `{}` | {} | {} | {} | {} | {} | {} | {} |",
            run.implementation.name,
            run.implementation.name,
            run.version,
            run.implementation.protocol,
            run.summary.scenarios,
            run.summary.passed - known,
            known,
            run.summary.failed,
            run.summary.errors,
            run.summary.skipped
        );
    }
    for run in runs {
        render_one(&mut md, run);
    }
    md
}

fn render_one(md: &mut String, run: &FieldRun) {
    let imp = &run.implementation;
    let _ = writeln!(md, "\n## {}\n\n{}.\n", imp.name, imp.title);
    let _ = writeln!(md, "- package: `{}`", imp.package);
    let _ = writeln!(
        md,
        "- version: `{} {}` (pinned in `{}`)",
        imp.module,
        run.version,
        imp.go_mod.display()
    );
    let _ = writeln!(md, "- protocol: {}, {}", imp.protocol, imp.via);
    let _ = writeln!(md, "- scenarios: {}", imp.scenarios.join(", "));
    let _ = writeln!(md, "- expectations: `{}`", imp.expectations.display());
    for u in &imp.upstream {
        let _ = writeln!(md, "- upstream: <{u}>");
    }
    // Verdict per property, over the scenarios that ran.
    let mut table: BTreeMap<&'static str, [usize; 3]> = BTreeMap::new();
    for r in &run.results {
        for p in &r.properties {
            let row = table.entry(p.id.as_str()).or_default();
            match p.verdict {
                PropertyVerdict::Pass => row[0] += 1,
                PropertyVerdict::Fail => row[1] += 1,
                PropertyVerdict::NotApplicable => row[2] += 1,
            }
        }
    }
    let _ = writeln!(
        md,
        "\n| property | verdict | pass | fail | not applicable |\n|---|---|---|---|---|"
    );
    for (id, [pass, fail, na]) in &table {
        let verdict = if *fail > 0 {
            "**fail**"
        } else if *pass > 0 {
            "pass"
        } else {
            "not applicable"
        };
        let _ = writeln!(md, "| `{id}` | {verdict} | {pass} | {fail} | {na} |");
    }
    let skipped: Vec<&ScenarioResult> = run
        .results
        .iter()
        .filter(|r| r.verdict == Verdict::Skip)
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(md, "\nSkipped:\n");
        for r in skipped {
            let _ = writeln!(
                md,
                "- `{}`: {}",
                r.scenario,
                stable(r.error.as_deref().unwrap_or("skipped"))
            );
        }
    }
    let list = failures(run);
    if list.is_empty() {
        let _ = writeln!(md, "\nNo failures.");
        return;
    }
    let _ = writeln!(
        md,
        "\nFailures, by scenario, each group under the reason its expectations give:\n"
    );
    let mut group: Option<(String, Option<String>, Option<String>)> = None;
    for f in list {
        let key = (f.scenario.clone(), f.known.clone(), f.source.clone());
        if group.as_ref() != Some(&key) {
            let _ = write!(md, "- `{}`: ", f.scenario);
            match &f.known {
                Some(why) => {
                    let _ = write!(md, "known: {why}.");
                }
                None => {
                    let _ = write!(md, "**not in the expectations.**");
                }
            }
            if let Some(s) = &f.source {
                let _ = write!(md, " Source: <{s}>");
            }
            md.push('\n');
            group = Some(key);
        }
        let at = f.line.map(|l| format!(" (line {l})")).unwrap_or_default();
        let _ = writeln!(md, "  - {}{at}: {}", f.what, f.evidence);
    }
}

/// Where `new` first differs from `old`, for `--check`: the line number and both lines.
pub fn first_difference(old: &str, new: &str) -> Option<(usize, String, String)> {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    (0..a.len().max(b.len())).find_map(|i| {
        let (x, y) = (a.get(i).copied(), b.get(i).copied());
        (x != y).then(|| {
            (
                i + 1,
                x.unwrap_or("(end of file)").to_owned(),
                y.unwrap_or("(end of file)").to_owned(),
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_require_lines_alone_or_in_blocks() {
        let m = "module x\n\ngo 1.26.0\n\nrequire github.com/a/b v1.2.3\n\nrequire (\n\tgithub.com/c/d v0.0.0-2023-abc // indirect\n\tgithub.com/e/f v4.5.6\n)\n";
        assert_eq!(
            required_version(m, "github.com/a/b").as_deref(),
            Some("v1.2.3")
        );
        assert_eq!(
            required_version(m, "github.com/c/d").as_deref(),
            Some("v0.0.0-2023-abc")
        );
        assert_eq!(
            required_version(m, "github.com/e/f").as_deref(),
            Some("v4.5.6")
        );
        assert_eq!(required_version(m, "github.com/e"), None);
        assert_eq!(required_version(m, "module"), None);
    }

    #[test]
    fn per_run_values_are_masked_and_lines_cut() {
        assert_eq!(
            stable(
                "secret sha256:73cde869a6f138a1: at 2026-12-02T06:26:27Z via 127.0.0.1:41234/x\nmore"
            ),
            "secret sha256:…: at <time> via 127.0.0.1:…/x"
        );
        assert_eq!(stable("E1202 2026-12-02 06:26:27Z x"), "E1202 <time> x");
        let long = "a".repeat(400);
        assert_eq!(stable(&long).chars().count(), 301);
    }

    #[test]
    fn commands_are_rooted_and_quoted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/prog"), "").unwrap();
        let c = rooted_command("bin/prog --flag=1 bin/missing 'it''s'", dir.path()).unwrap();
        assert_eq!(
            c,
            format!(
                "'{}' '--flag=1' 'bin/missing' 'its'",
                dir.path().join("bin/prog").display()
            )
        );
        // Words with spaces and quotes survive the round trip; an unbalanced quote is refused.
        let c = rooted_command(r#"'b c' "it's""#, dir.path()).unwrap();
        assert_eq!(
            crate::exec::split_words(&c).unwrap(),
            vec!["b c".to_owned(), "it's".to_owned()]
        );
        assert!(rooted_command("a 'b", dir.path()).is_err());
    }

    #[test]
    fn the_first_difference_names_the_line() {
        assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
        assert_eq!(
            first_difference("a\nb\n", "a\nc\n"),
            Some((2, "b".into(), "c".into()))
        );
        assert_eq!(
            first_difference("a\n", "a\nb\n"),
            Some((2, "(end of file)".into(), "b".into()))
        );
    }
}
