//! Steps on their own, for a world that is already running (`credsim ctl apply FILE`): a YAML
//! list of steps (`- advance: 3h`), or a mapping with only `steps:`, resolved against the world
//! and the steps applied before, with the same `file:line:col` diagnostics as a whole scenario.
//!
//! The steps are resolved as if they were appended to the scenario's own (`world.steps`, the
//! steps applied so far): a step may delete a federated credential an earlier one added, and the
//! 21st credential of an identity is the same warning. Field paths count from the new steps
//! (`steps[0]` is the file's first step), so a diagnostic points into the file the user wrote.

use serde::Deserialize;

use crate::diagnostic::Diagnostic;
use crate::located::{Located, Pos};
use crate::v1alpha1::{Document, Step};
use crate::{LoadError, decode, model, resolve};

/// A steps file that loaded: its steps as written (to append to the document) and resolved.
#[derive(Clone, Debug)]
pub struct LoadedSteps {
    /// As written, to append to the running scenario's document.
    pub written: Vec<Located<Step>>,
    /// Resolved against the world, in order.
    pub steps: Vec<model::Step>,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepsDoc {
    steps: Vec<Located<Step>>,
}

/// Loads the steps in `text` (named `file` in diagnostics) against `scenario`, the running
/// world's document with the steps applied so far.
pub fn load_steps(file: &str, text: &str, scenario: &Document) -> Result<LoadedSteps, LoadError> {
    let written = decode_steps(file, text).map_err(|d| LoadError::Invalid(vec![d]))?;
    if written.is_empty() {
        return Err(LoadError::Invalid(vec![Diagnostic::error(
            file,
            Pos::new(1, 1),
            "no steps: write a list of steps, e.g. `- advance: 3h`",
        )]));
    }
    let before = scenario.steps.len();
    let mut doc = scenario.clone();
    doc.steps.extend(written.iter().cloned());
    let (resolved, diags) = resolve::resolve(file, &doc);
    // Only what the new steps raised: the document's own world and steps loaded before.
    let mut diags: Vec<Diagnostic> = diags
        .into_iter()
        .filter_map(|d| renumber(d, before))
        .collect();
    diags.sort_by_key(|d| (d.at.line, d.at.col));
    match resolved {
        Some(s) => Ok(LoadedSteps {
            written,
            steps: s.steps.into_iter().skip(before).collect(),
            warnings: diags,
        }),
        None => Err(LoadError::Invalid(diags)),
    }
}

/// The steps as written: a YAML list, or a mapping with `steps:`.
fn decode_steps(file: &str, text: &str) -> Result<Vec<Located<Step>>, Diagnostic> {
    if text.len() > decode::MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            file,
            Pos::new(1, 1),
            format!(
                "the file is {} bytes; steps files are limited to {}",
                text.len(),
                decode::MAX_FILE_BYTES
            ),
        ));
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---");
    let Some(first) = first else {
        return Err(Diagnostic::error(
            file,
            Pos::new(1, 1),
            "the file is empty; write a list of steps, e.g. `- advance: 3h`",
        ));
    };
    if first.starts_with('-') {
        strict::<Vec<Located<Step>>>(file, text)
    } else {
        strict::<StepsDoc>(file, text).map(|d| d.steps)
    }
}

/// Decodes `text` strictly, with the field path of the first error.
fn strict<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, Diagnostic> {
    let mut path = None;
    serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = Some(e.path().to_string());
            e.into_inner()
        })
    })
    .map_err(|e| decode::from_yaml(file, &e, path.as_deref()))
}

/// A diagnostic about the new steps, its path counted from the first of them; `None` for one
/// about the world or the steps before (which loaded, so there are none but warnings).
fn renumber(mut d: Diagnostic, before: usize) -> Option<Diagnostic> {
    let Some(path) = d.path.clone() else {
        return Some(d);
    };
    let rest = path.strip_prefix("steps[")?;
    let (index, tail) = rest.split_once(']')?;
    let index: usize = index.parse().ok()?;
    let new = index.checked_sub(before)?;
    d.path = Some(format!("steps[{new}]{tail}"));
    Some(d)
}
