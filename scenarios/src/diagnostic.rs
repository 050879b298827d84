//! Errors and warnings that say where: `file:line:col: path: message (did you mean ...?)`.

use std::fmt;

use crate::located::Pos;

/// Whether a diagnostic stops the scenario from loading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    /// A world lint: reported, never fixed silently, and the scenario still loads.
    Warning,
}

/// One problem in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    pub at: Pos,
    /// The field path (`world.tenants[0].apps[1].name`), when known.
    pub path: Option<String>,
    pub message: String,
    /// A suggestion, e.g. `did you mean `kind`?`.
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(file: &str, at: Pos, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            file: file.to_owned(),
            at,
            path: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn warning(file: &str, at: Pos, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(file, at, message)
        }
    }

    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub fn hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An unknown position still prints as `file:1:1` so every line has the same shape and
        // editors can jump to it.
        let (line, col) = if self.at.is_known() {
            (self.at.line, self.at.col.max(1))
        } else {
            (1, 1)
        };
        write!(f, "{}:{line}:{col}: ", self.file)?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        if let Some(path) = &self.path {
            write!(f, "{path}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// `did you mean `x`?` when one candidate is close to `wrong`.
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(wrong, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The candidate closest to `wrong`, if it is close enough to be a likely typo.
pub fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = wrong.to_ascii_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != wrong)
        .map(|c| {
            let score = strsim::jaro_winkler(&lower, &c.to_ascii_lowercase());
            (score, c)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_close_candidates() {
        assert_eq!(closest("knd", ["name", "kind"]), Some("kind"));
        assert_eq!(
            closest("projet-a", ["project-a", "project-b"]),
            Some("project-a")
        );
        assert_eq!(closest("zzz", ["name", "kind"]), None);
        assert_eq!(closest("Kind", ["kind"]), Some("kind"));
    }

    #[test]
    fn displays_file_line_col_path_message_hint() {
        let d = Diagnostic::error("a.yaml", Pos::new(6, 5), "unknown field `knd`")
            .path("world.tenants[0]")
            .hint(Some("did you mean `kind`?".into()));
        assert_eq!(
            d.to_string(),
            "a.yaml:6:5: world.tenants[0]: unknown field `knd` (did you mean `kind`?)"
        );
        let w = Diagnostic::warning("a.yaml", Pos::UNKNOWN, "two clusters share an issuer");
        assert_eq!(
            w.to_string(),
            "a.yaml:1:1: warning: two clusters share an issuer"
        );
    }
}
