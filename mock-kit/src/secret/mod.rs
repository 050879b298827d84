//! Secrets as a type, and the registry of every secret the fakes mint.
//!
//! [`Secret<T>`] has no `Display` and a redacting `Debug`, so a token cannot end up in a log line by
//! accident; [`Secret::expose`] is the one place the raw value is read. Every token, client secret,
//! password and assertion a fake mints is registered in the run's [`SecretRegistry`] under a
//! [`Fingerprint`] (a truncated SHA-256), so that leak checks can search any text (an IUT's stderr,
//! a file it wrote, a request to `attacker.example`) for every one of them at once, and evidence can
//! name a secret without repeating it.
//!
//! A registry may be bounded ([`SecretRegistry::bounded`]): then it keeps at most that many of the
//! secrets minted per request (tokens, SAS signatures; [`SecretKind::is_per_request`]), forgetting
//! the oldest, and counts what it forgot ([`SecretRegistry::dropped`]). The world's own secrets
//! (client secrets, passwords, admin tokens, canaries) are always kept. A long-running `credsim up`
//! stays in bounded memory that way; a scenario run whose registry forgot anything is an error,
//! since a leak of a forgotten token would not be found.
//!
//! Submodules (private; everything public is re-exported here):
//! - `kind`: [`SecretKind`], the closed list of what the fakes mint.
//! - `registry`: [`SecretRegistry`]: registering and minting, the tail index, the bound, and
//!   looking a secret up by value or fingerprint ([`SecretInfo`]).
//! - `search`: the leak search, [`SecretRegistry::find_in`] (raw) and [`SecretRegistry::search`]
//!   (raw and through the encodings of [`crate::leak`]), each occurrence a [`SecretHit`].

mod kind;
mod registry;
mod search;

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use kind::SecretKind;
pub use registry::{MIN_SECRET_LEN, SecretError, SecretInfo, SecretRegistry};
pub use search::SecretHit;

/// A value that must never be printed. Read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The raw value, for the one place that needs it (a request header, a response body).
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the raw value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A stable, non-reversible name for a secret: `sha256:` and the first 16 hex digits of its digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of `value`.
    pub fn of(value: &str) -> Self {
        let digest = Sha256::digest(value.as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("sha256:{hex}"))
    }

    /// The textual form, `sha256:0123456789abcdef`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `len` random characters from the base64url alphabet.
pub fn random_token(len: usize) -> String {
    use rand::RngCore as _;
    let mut bytes = vec![0u8; len.div_ceil(4) * 3];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    s.truncate(len);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_redacts_and_expose_reveals() {
        let s = Secret::new("hunter2-hunter2".to_owned());
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret(<redacted>))");
        assert_eq!(s.expose(), "hunter2-hunter2");
    }

    #[test]
    fn fingerprints_are_stable_and_do_not_contain_the_value() {
        let f = Fingerprint::of("abc");
        // sha256("abc") = ba7816bf8f01cfea...
        assert_eq!(f.as_str(), "sha256:ba7816bf8f01cfea");
        assert_eq!(Fingerprint::of("abc"), f);
        assert_ne!(Fingerprint::of("abd"), f);
    }
}
