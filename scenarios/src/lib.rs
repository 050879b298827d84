//! The scenario format (`apiVersion: credsim.dev/v1alpha1`): what contributors write, how it is
//! loaded, and what the harness gets. Depends on no other workspace crate but `entra-rules` (a
//! crate of rules): the format does not know who runs it.
//!
//! - [`v1alpha1`]: the file format, decoded strictly (unknown fields are errors); the source of
//!   the JSON Schema ([`schema`]).
//! - [`vocab`]: the closed vocabularies (properties, outcomes, roles, steps' enums).
//! - [`decode`]: text to document: `apiVersion`/`kind` peeked first, then strict decoding with
//!   the field path of the first error.
//! - [`resolve`]: document to [`model::Scenario`]: references resolved, defaults filled, every
//!   semantic error collected.
//! - [`lint`]: warnings about legal but suspicious worlds.
//! - Entra's federated-credential rules and the name-derived GUIDs are the `entra-rules` crate's,
//!   the ones mock-entra applies, so a file that loads has a world the fake accepts.
//! - [`model`]: the resolved scenario the harness consumes.
//! - [`render`]: model back to a file (the round-trip property).
//! - [`steps_file`]: steps on their own, against a running world's document (`credsim ctl
//!   apply`).
//! - [`diagnostic`], [`located`], [`duration`]: `file:line:col` errors, positions, durations.
//!
//! Entry points: [`load_file`], [`load_str`], [`load_steps`], [`find_files`], [`schema`].

use std::path::{Path, PathBuf};

pub mod decode;
pub mod diagnostic;
pub mod duration;
pub mod lint;
pub mod located;
pub mod model;
pub mod render;
pub mod resolve;
pub mod steps_file;
pub mod v1alpha1;
pub mod vocab;

pub use diagnostic::{Diagnostic, Severity};
pub use model::Scenario;
pub use steps_file::{LoadedSteps, load_steps};

/// The format version this crate writes, and the newest it reads.
///
/// Changelog:
/// - `credsim.dev/v1alpha1`: the first version. World (tenants with apps, managed identities,
///   federated credentials and resources; registries with repositories, role assignments and
///   tokens; clusters with projects, namespaces, ServiceAccounts, objects and a controller (its
///   RBAC, workload identity and token file, node, install-time env, `tokenAttributes`);
///   nodes; faults; leniency; options), steps (`request`, `advance`, `addRoleAssignment`,
///   `removeRoleAssignment`, `addFederatedCredential`, `deleteFederatedCredential`, `annotate`,
///   `rotateKeys`, `fault`), properties and policy.
///   Additive since: `policy.tokenResources` (resources an identity may also ask Entra or IMDS
///   for); the `concurrently` step (two or more requests sent at once, each answered on its own);
///   the `addTenant`, `addIdentity` and `addProject` steps (what they add exists for the steps
///   after them).
pub const API_VERSION: &str = "credsim.dev/v1alpha1";

/// Every `apiVersion` this crate reads.
pub const SUPPORTED_API_VERSIONS: &[&str] = &[API_VERSION];

/// The only `kind`.
pub const KIND: &str = "Scenario";

/// A scenario that loaded, and the lints it raised.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub scenario: Scenario,
    pub warnings: Vec<Diagnostic>,
}

/// Why a scenario did not load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read; the I/O error is the source.
    #[error("{file}: cannot read the file")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// Every error found (and any warnings), each printable as `file:line:col: message`.
    #[error("{}", render_all(.0))]
    Invalid(Vec<Diagnostic>),
}

impl LoadError {
    /// The diagnostics, one per problem (a read failure is one diagnostic at `1:1`).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            LoadError::Read { file, source } => vec![Diagnostic::error(
                file,
                located::Pos::new(1, 1),
                format!("cannot read the file: {source}"),
            )],
            LoadError::Invalid(d) => d.clone(),
        }
    }
}

fn render_all(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Loads the scenario in `path`; errors and warnings name the path as given.
pub fn load_file(path: &Path) -> Result<Loaded, LoadError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        file: file.clone(),
        source,
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => load_str(&file, &text),
        Err(e) => Err(LoadError::Invalid(vec![Diagnostic::error(
            &file,
            located::Pos::new(1, 1),
            format!(
                "the file is not UTF-8 (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )])),
    }
}

/// Loads a scenario from `text`, naming it `file` in diagnostics.
pub fn load_str(file: &str, text: &str) -> Result<Loaded, LoadError> {
    let doc = decode::decode(file, text).map_err(|d| LoadError::Invalid(vec![d]))?;
    let (scenario, mut diags) = resolve::resolve(file, &doc);
    match scenario {
        Some(scenario) => {
            // Resolving warns too: a step Entra will refuse when it runs.
            let mut warnings = diags;
            warnings.extend(lint::lint(file, &doc, &scenario));
            warnings.sort_by_key(|d| (d.at.line, d.at.col));
            Ok(Loaded { scenario, warnings })
        }
        None => {
            diags.sort_by_key(|d| (d.at.line, d.at.col));
            Err(LoadError::Invalid(diags))
        }
    }
}

/// The scenario files under `paths`: files as given, folders searched recursively for `*.yaml`
/// (and `*.yml`), each folder's files in name order.
pub fn find_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for e in entries {
        if e.is_dir() {
            walk(&e, out)?;
        } else if e.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(e);
        }
    }
    Ok(())
}

/// The JSON Schema of the file format, for editors (`credsim schema`).
pub fn schema() -> serde_json::Value {
    let schema = schemars::schema_for!(v1alpha1::Document);
    let mut value = schema.to_value();
    if let Some(obj) = value.as_object_mut() {
        obj.insert(
            "$id".into(),
            format!(
                "https://credsim.dev/schema/{}.json",
                API_VERSION.rsplit('/').next().unwrap_or(API_VERSION)
            )
            .into(),
        );
    }
    value
}

/// The schema as committed: pretty JSON with a final newline.
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_false_located(b: &located::Located<bool>) -> bool {
    !b.value
}

fn is_true(b: &bool) -> bool {
    *b
}

fn yes() -> bool {
    true
}
