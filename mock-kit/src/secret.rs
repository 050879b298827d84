//! Secrets as a type, and the registry of every secret the fakes mint.
//!
//! [`Secret<T>`] has no `Display` and a redacting `Debug`, so a token cannot end up in a log line by
//! accident; [`Secret::expose`] is the one place the raw value is read. Every token, client secret,
//! password and assertion a fake mints is registered in the run's [`SecretRegistry`] under a
//! [`Fingerprint`] (a truncated SHA-256), so that leak checks can search any text (an IUT's stderr,
//! a file it wrote, a request to `attacker.example`) for every one of them at once, and evidence can
//! name a secret without repeating it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

/// What a registered secret is, for evidence ("an ACR refresh token for contosoacr").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    pub fingerprint: Fingerprint,
    /// A closed-ish vocabulary chosen by the minting fake, e.g. `entra-access-token`.
    pub kind: String,
    /// Free text naming whose secret it is, e.g. `contoso/ci-app`. Never the value.
    pub label: String,
}

/// One occurrence of a registered secret in a searched text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretHit {
    pub secret: SecretInfo,
    /// Byte offset of the occurrence in the searched text.
    pub offset: usize,
    /// 1-based line of the occurrence, for `file:line` evidence.
    pub line: usize,
}

/// Why a value was not registered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// Short values would match ordinary text and make leak checks cry wolf.
    #[error("a secret must be at least {min} characters long to be searchable, got {len}")]
    TooShort { len: usize, min: usize },
}

/// The shortest value the registry accepts.
pub const MIN_SECRET_LEN: usize = 12;

/// Every secret minted in a run. Cloning shares it.
#[derive(Clone, Default)]
pub struct SecretRegistry {
    inner: Arc<RwLock<Inner>>,
}

/// Secrets are indexed by their last [`MIN_SECRET_LEN`] bytes. Minted secrets end in random
/// characters (a JWT ends in its signature), so the buckets stay tiny however many tokens a run
/// mints; registering is O(1) and a search is one hash lookup per byte of the searched text.
#[derive(Default)]
struct Inner {
    values: Vec<String>,
    infos: Vec<SecretInfo>,
    by_tail: HashMap<[u8; MIN_SECRET_LEN], Vec<usize>>,
}

fn tail(value: &[u8]) -> [u8; MIN_SECRET_LEN] {
    value[value.len() - MIN_SECRET_LEN..]
        .try_into()
        .expect("registered secrets are at least MIN_SECRET_LEN long")
}

impl fmt::Debug for SecretRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.read().expect("secret registry lock");
        f.debug_struct("SecretRegistry")
            .field("secrets", &inner.infos.len())
            .finish()
    }
}

impl SecretRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `value` (idempotent for the same value) and wraps it.
    pub fn register(
        &self,
        kind: &str,
        label: &str,
        value: impl Into<String>,
    ) -> Result<(Secret<String>, Fingerprint), SecretError> {
        let value = value.into();
        if value.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort {
                len: value.len(),
                min: MIN_SECRET_LEN,
            });
        }
        let fingerprint = Fingerprint::of(&value);
        let mut inner = self.inner.write().expect("secret registry lock");
        let key = tail(value.as_bytes());
        let known = inner
            .by_tail
            .get(&key)
            .is_some_and(|ids| ids.iter().any(|&i| inner.values[i] == value));
        if !known {
            let id = inner.values.len();
            inner.values.push(value.clone());
            inner.infos.push(SecretInfo {
                fingerprint: fingerprint.clone(),
                kind: kind.to_owned(),
                label: label.to_owned(),
            });
            inner.by_tail.entry(key).or_default().push(id);
        }
        Ok((Secret::new(value), fingerprint))
    }

    /// Mints a fresh random secret of `len` URL-safe characters after `prefix`, registers it.
    pub fn mint(&self, kind: &str, label: &str, prefix: &str, len: usize) -> Secret<String> {
        let value = format!("{prefix}{}", random_token(len.max(MIN_SECRET_LEN)));
        self.register(kind, label, value)
            .expect("minted secrets are long enough")
            .0
    }

    /// How many secrets are registered.
    pub fn len(&self) -> usize {
        self.inner.read().expect("secret registry lock").infos.len()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What is known about every registered secret (never the values).
    pub fn infos(&self) -> Vec<SecretInfo> {
        self.inner
            .read()
            .expect("secret registry lock")
            .infos
            .clone()
    }

    /// What is known about the secret with this fingerprint.
    pub fn info(&self, fingerprint: &Fingerprint) -> Option<SecretInfo> {
        let inner = self.inner.read().expect("secret registry lock");
        inner
            .infos
            .iter()
            .find(|i| &i.fingerprint == fingerprint)
            .cloned()
    }

    /// The registered secret whose value is exactly `value`, if any.
    pub fn identify(&self, value: &str) -> Option<SecretInfo> {
        if value.len() < MIN_SECRET_LEN {
            return None;
        }
        let inner = self.inner.read().expect("secret registry lock");
        let ids = inner.by_tail.get(&tail(value.as_bytes()))?;
        let at = ids.iter().find(|&&i| inner.values[i] == value)?;
        Some(inner.infos[*at].clone())
    }

    /// Every occurrence of every registered secret in `text`, in order of position.
    pub fn find_in(&self, text: &str) -> Vec<SecretHit> {
        let bytes = text.as_bytes();
        let inner = self.inner.read().expect("secret registry lock");
        if inner.values.is_empty() || bytes.len() < MIN_SECRET_LEN {
            return Vec::new();
        }
        let mut hits = Vec::new();
        for end in MIN_SECRET_LEN..=bytes.len() {
            let window: &[u8; MIN_SECRET_LEN] = bytes[end - MIN_SECRET_LEN..end]
                .try_into()
                .expect("window has the key length");
            let Some(ids) = inner.by_tail.get(window) else {
                continue;
            };
            for &id in ids {
                let value = inner.values[id].as_bytes();
                if end >= value.len() && &bytes[end - value.len()..end] == value {
                    let start = end - value.len();
                    hits.push(SecretHit {
                        secret: inner.infos[id].clone(),
                        offset: start,
                        line: bytes[..start].iter().filter(|&&b| b == b'\n').count() + 1,
                    });
                }
            }
        }
        hits.sort_by_key(|h| h.offset);
        hits
    }

    /// The distinct secrets that occur in any of `texts`, in order of first appearance.
    pub fn distinct_in<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> Vec<SecretInfo> {
        let mut out: Vec<SecretInfo> = Vec::new();
        for text in texts {
            for hit in self.find_in(text) {
                if !out.iter().any(|s| s.fingerprint == hit.secret.fingerprint) {
                    out.push(hit.secret);
                }
            }
        }
        out
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

    #[test]
    fn registry_finds_every_registered_secret_with_lines() {
        let reg = SecretRegistry::new();
        let (a, fa) = reg
            .register("entra-access-token", "contoso/app", "eyJhbGciOi.canary-one")
            .unwrap();
        let b = reg.mint("acr-refresh-token", "contosoacr", "acr_", 24);
        assert_eq!(reg.len(), 2);
        let text = format!(
            "starting\nAuthorization: Bearer {}\nok\npassword={} and again {}\n",
            a.expose(),
            b.expose(),
            a.expose()
        );
        let hits = reg.find_in(&text);
        assert_eq!(hits.len(), 3, "{hits:?}");
        assert_eq!(hits[0].secret.fingerprint, fa);
        assert_eq!(hits[0].line, 2);
        assert_eq!(hits[1].secret.kind, "acr-refresh-token");
        assert_eq!(hits[1].line, 4);
        assert_eq!(hits[2].line, 4);
        assert_eq!(&text[hits[1].offset..hits[1].offset + 4], "acr_");
        let distinct = reg.distinct_in([text.as_str(), "nothing here"]);
        assert_eq!(distinct.len(), 2);
        assert!(reg.find_in("no secrets in this text at all").is_empty());
    }

    #[test]
    fn registration_is_idempotent_and_refuses_short_values() {
        let reg = SecretRegistry::new();
        reg.register("k", "l", "the-same-value-twice").unwrap();
        reg.register("k", "l", "the-same-value-twice").unwrap();
        assert_eq!(reg.len(), 1);
        assert_eq!(
            reg.register("k", "l", "short").unwrap_err(),
            SecretError::TooShort { len: 5, min: 12 }
        );
        assert_eq!(
            reg.identify("the-same-value-twice").unwrap().fingerprint,
            Fingerprint::of("the-same-value-twice")
        );
        assert!(reg.identify("unknown-value-here").is_none());
    }

    #[test]
    fn minted_secrets_are_unique() {
        let reg = SecretRegistry::new();
        let a = reg.mint("k", "l", "p_", 32);
        let b = reg.mint("k", "l", "p_", 32);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 34);
        assert!(a.expose().starts_with("p_"));
    }

    #[test]
    fn secrets_sharing_a_prefix_are_told_apart() {
        let reg = SecretRegistry::new();
        let a = "eyJhbGciOiJSUzI1NiJ9.same-claims.signature-AAAAAAAAAAAA";
        let b = "eyJhbGciOiJSUzI1NiJ9.same-claims.signature-BBBBBBBBBBBB";
        reg.register("jwt", "a", a).unwrap();
        reg.register("jwt", "b", b).unwrap();
        let hits = reg.find_in(&format!("token={b}"));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].secret.label, "b");
        assert_eq!(hits[0].offset, 6);
        // A truncated copy is not the secret.
        assert!(reg.find_in(&a[..a.len() - 1]).is_empty());
        // Thousands of registrations stay searchable.
        for i in 0..5000 {
            reg.mint("jwt", &format!("n{i}"), "eyJhbGciOiJSUzI1NiJ9.", 40);
        }
        assert_eq!(reg.find_in(a).len(), 1);
    }

    #[test]
    fn empty_registry_finds_nothing() {
        assert!(SecretRegistry::new().find_in("anything").is_empty());
    }
}
