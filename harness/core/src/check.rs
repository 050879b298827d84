//! `credsim check PATH ...`: load and validate scenario files without running them.
//!
//! Every error and warning is written as `file:line:col: message`, one per line; scenario names
//! must also be unique across the files checked (reports and test names use them). The caller
//! maps [`CheckSummary::ok`] to the exit status (`0` or `2`, `docs/cli.md`).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use scenarios::{Diagnostic, Scenario};

/// What a check found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckSummary {
    pub files: usize,
    pub errors: usize,
    pub warnings: usize,
}

impl CheckSummary {
    /// Whether every file parsed and validated (warnings do not count against it).
    pub fn ok(&self) -> bool {
        self.errors == 0 && self.files > 0
    }
}

/// Loads every scenario file under `paths` (folders are searched for `*.yaml`), writing each
/// diagnostic to `out`, and returns the counts and the scenarios that loaded.
pub fn check(
    paths: &[PathBuf],
    out: &mut dyn Write,
) -> std::io::Result<(CheckSummary, Vec<Scenario>)> {
    let mut summary = CheckSummary::default();
    let mut loaded = Vec::new();
    let files = match scenarios::find_files(paths) {
        Ok(files) => files,
        Err(e) => {
            writeln!(out, "credsim check: listing scenario files failed: {e}")?;
            summary.errors += 1;
            return Ok((summary, loaded));
        }
    };
    if files.is_empty() {
        writeln!(
            out,
            "credsim check: no scenario files (*.yaml) under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        return Ok((summary, loaded));
    }
    let mut names: HashMap<String, String> = HashMap::new();
    for file in files {
        summary.files += 1;
        match scenarios::load_file(&file) {
            Ok(l) => {
                for w in &l.warnings {
                    summary.warnings += 1;
                    writeln!(out, "{w}")?;
                }
                let s = l.scenario;
                if let Some(first) = names.get(&s.name) {
                    summary.errors += 1;
                    let d = Diagnostic::error(
                        &s.file,
                        s.name_at,
                        format!("scenario name `{}` is already used by {first}", s.name),
                    )
                    .path("metadata.name");
                    writeln!(out, "{d}")?;
                } else {
                    names.insert(s.name.clone(), s.file.clone());
                }
                loaded.push(s);
            }
            Err(e) => {
                for d in e.diagnostics() {
                    if d.is_error() {
                        summary.errors += 1;
                    } else {
                        summary.warnings += 1;
                    }
                    writeln!(out, "{d}")?;
                }
            }
        }
    }
    Ok((summary, loaded))
}
