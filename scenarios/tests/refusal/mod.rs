//! The errors a refused file is refused with, for the tests that check where each is reported.

use scenarios::{Diagnostic, LoadError, load_str};

/// The errors refusing `text`, loaded as `file` (a refused file lists its warnings too; they are
/// left out).
pub fn errors(file: &str, text: &str) -> Vec<Diagnostic> {
    match load_str(file, text) {
        Ok(_) => panic!("loaded but must be refused:\n{text}"),
        Err(e @ LoadError::Invalid(_)) => e
            .diagnostics()
            .into_iter()
            .filter(Diagnostic::is_error)
            .collect(),
        Err(e) => panic!("{e}"),
    }
}
