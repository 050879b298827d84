//! From text to a [`Document`]: peek `apiVersion` and `kind`, then decode strictly.
//!
//! Like kind's config loader: a first lenient pass reads only the header, so an unknown version
//! is reported as such (with the supported ones listed) rather than as a pile of unknown fields;
//! the second pass refuses unknown fields and duplicate keys and records the field path of the
//! first error with `serde_path_to_error`.

use serde::Deserialize;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::located::{Located, Pos};
use crate::v1alpha1::Document;
use crate::{API_VERSION, KIND, SUPPORTED_API_VERSIONS};

/// The largest scenario file accepted (a scenario is a page or two; this only stops accidents).
pub const MAX_FILE_BYTES: usize = 4 << 20;

#[derive(Deserialize)]
struct Header {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<Located<String>>,
    #[serde(default)]
    kind: Option<Located<String>>,
}

/// Decodes `text` (read from `file`) as a v1alpha1 document.
pub fn decode(file: &str, text: &str) -> Result<Document, Diagnostic> {
    if text.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            file,
            Pos::new(1, 1),
            format!(
                "the file is {} bytes; scenario files are limited to {MAX_FILE_BYTES}",
                text.len()
            ),
        ));
    }
    if text.trim().is_empty() {
        return Err(Diagnostic::error(
            file,
            Pos::new(1, 1),
            format!("the file is empty; a scenario starts with `apiVersion: {API_VERSION}`"),
        ));
    }
    let header: Header = serde_saphyr::from_str(text).map_err(|e| from_yaml(file, &e, None))?;
    let Some(version) = header.api_version else {
        return Err(Diagnostic::error(
            file,
            Pos::new(1, 1),
            format!("missing `apiVersion`; this credsim reads {}", supported()),
        ));
    };
    if !SUPPORTED_API_VERSIONS.contains(&version.as_str()) {
        return Err(Diagnostic::error(
            file,
            version.at,
            format!(
                "unsupported apiVersion `{}`; this credsim reads {}",
                version.value,
                supported()
            ),
        )
        .path("apiVersion"));
    }
    match header.kind {
        Some(kind) if kind.value == KIND => {}
        Some(kind) => {
            return Err(Diagnostic::error(
                file,
                kind.at,
                format!("unsupported kind `{}`; expected `{KIND}`", kind.value),
            )
            .path("kind"));
        }
        None => {
            return Err(Diagnostic::error(
                file,
                Pos::new(1, 1),
                format!("missing `kind: {KIND}`"),
            ));
        }
    }
    let mut path = None;
    serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = Some(e.path().to_string());
            e.into_inner()
        })
    })
    .map_err(|e| from_yaml(file, &e, path.as_deref()))
}

fn supported() -> String {
    SUPPORTED_API_VERSIONS
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A YAML or decode error as a diagnostic: the message without the library's own position
/// suffix, the field path without the internals of [`Located`], and a suggestion for a
/// misspelt field or value.
pub(crate) fn from_yaml(file: &str, e: &serde_saphyr::Error, path: Option<&str>) -> Diagnostic {
    let at = e
        .location()
        .map(|l| {
            Pos::new(
                u32::try_from(l.line()).unwrap_or(u32::MAX),
                u32::try_from(l.column()).unwrap_or(u32::MAX),
            )
        })
        .filter(|p| p.is_known())
        .unwrap_or(Pos::new(1, 1));
    let mut message = e.without_snippet().to_string();
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        let key = key.split(',').next().unwrap_or(key);
        message = format!("duplicate key `{key}` (each key may appear once in a mapping)");
    }
    let hint = suggestion(&message);
    let message = quote_expected(&message);
    let mut d = Diagnostic::error(file, at, message).hint(hint);
    if let Some(path) = path.and_then(clean_path) {
        d = d.path(path);
    }
    d
}

/// The field path as authors think of it: no `.value` segments of [`Located`], nothing for the
/// root or an unknown path.
fn clean_path(path: &str) -> Option<String> {
    let cleaned: Vec<&str> = path
        .split('.')
        .filter(|seg| *seg != "value" && *seg != "?")
        .collect();
    let cleaned = cleaned.join(".");
    (!cleaned.is_empty() && cleaned != ".").then_some(cleaned)
}

/// `unknown field `knd`, expected one of name, kind` → `did you mean `kind`?`.
fn suggestion(message: &str) -> Option<String> {
    let wrong = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (wrong, rest) = wrong.split_once('`')?;
    let list = expected_list(rest)?;
    did_you_mean(wrong, list.iter().map(String::as_str))
}

fn expected_list(rest: &str) -> Option<Vec<String>> {
    let list = rest
        .split_once("expected one of ")
        .map(|(_, l)| l)
        .or_else(|| rest.split_once("expected ").map(|(_, l)| l))?;
    Some(
        list.split(", ")
            .flat_map(|s| s.split(" or "))
            .map(|s| s.trim().trim_matches('`'))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

/// Puts the accepted values in backticks so a value with spaces (`Container Registry Repository
/// Reader`) reads as one.
fn quote_expected(message: &str) -> String {
    let Some((head, list)) = message.split_once("expected one of ") else {
        return message.to_owned();
    };
    if list.contains('`') {
        return message.to_owned();
    }
    let quoted: Vec<String> = list.split(", ").map(|v| format!("`{v}`")).collect();
    format!("{head}expected one of {}", quoted.join(", "))
}
