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

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::leak::{self, Form};

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

/// What kind of secret a fake minted. Closed: a new kind is a compile error in every `match` that
/// decides where a secret may go (the harness's `credential-destination`), until it is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    /// An Entra access token (v1 or v2), from the token endpoint or IMDS.
    EntraAccessToken,
    /// An app's client secret.
    EntraClientSecret,
    /// An ACR refresh token (the registry login's password), from `/oauth2/exchange`.
    AcrRefreshToken,
    /// An ACR access token, from `/oauth2/token`.
    AcrAccessToken,
    /// A registry's admin user password.
    AcrAdminPassword,
    /// A repository-scoped token's password (ACR tokens and scope maps).
    AcrTokenPassword,
    /// The signature of a blob storage SAS URL a registry redirects to.
    AcrBlobSas,
    /// A ServiceAccount token (TokenRequest, a projected volume).
    K8sServiceAccountToken,
    /// A cluster's administrator bearer token.
    K8sAdminToken,
    /// The App Service managed-identity endpoint's `X-IDENTITY-HEADER` value.
    ImdsIdentityHeader,
    /// A value a test or a user plants to see where it goes: allowed nowhere.
    Canary,
}

impl SecretKind {
    pub const ALL: [SecretKind; 11] = [
        SecretKind::EntraAccessToken,
        SecretKind::EntraClientSecret,
        SecretKind::AcrRefreshToken,
        SecretKind::AcrAccessToken,
        SecretKind::AcrAdminPassword,
        SecretKind::AcrTokenPassword,
        SecretKind::AcrBlobSas,
        SecretKind::K8sServiceAccountToken,
        SecretKind::K8sAdminToken,
        SecretKind::ImdsIdentityHeader,
        SecretKind::Canary,
    ];

    /// The kebab-case name evidence uses (`acr-refresh-token`).
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::EntraAccessToken => "entra-access-token",
            SecretKind::EntraClientSecret => "entra-client-secret",
            SecretKind::AcrRefreshToken => "acr-refresh-token",
            SecretKind::AcrAccessToken => "acr-access-token",
            SecretKind::AcrAdminPassword => "acr-admin-password",
            SecretKind::AcrTokenPassword => "acr-token-password",
            SecretKind::AcrBlobSas => "acr-blob-sas",
            SecretKind::K8sServiceAccountToken => "k8s-service-account-token",
            SecretKind::K8sAdminToken => "k8s-admin-token",
            SecretKind::ImdsIdentityHeader => "imds-identity-header",
            SecretKind::Canary => "canary",
        }
    }

    /// Secrets minted for a request (a token, a SAS signature), as opposed to the world's own
    /// (client secrets, passwords, admin tokens, canaries): the ones a bounded registry forgets,
    /// oldest first.
    pub fn is_per_request(self) -> bool {
        match self {
            SecretKind::EntraAccessToken
            | SecretKind::AcrRefreshToken
            | SecretKind::AcrAccessToken
            | SecretKind::AcrBlobSas
            | SecretKind::K8sServiceAccountToken => true,
            SecretKind::EntraClientSecret
            | SecretKind::AcrAdminPassword
            | SecretKind::AcrTokenPassword
            | SecretKind::K8sAdminToken
            | SecretKind::ImdsIdentityHeader
            | SecretKind::Canary => false,
        }
    }

    /// Secrets a registry mints, whose label starts with that registry's login server.
    pub fn is_registry_secret(self) -> bool {
        matches!(
            self,
            SecretKind::AcrRefreshToken
                | SecretKind::AcrAccessToken
                | SecretKind::AcrAdminPassword
                | SecretKind::AcrTokenPassword
                | SecretKind::AcrBlobSas
        )
    }
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for SecretKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What a registered secret is, for evidence ("an ACR refresh token for contosoacr").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    pub fingerprint: Fingerprint,
    pub kind: SecretKind,
    /// Free text naming whose secret it is, e.g. `contoso/ci-app`. Never the value.
    pub label: String,
}

/// One occurrence of a registered secret in a searched text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretHit {
    pub secret: SecretInfo,
    /// Byte offset of the occurrence in the searched text: the raw value's, or the start of the
    /// encoded text it was decoded from.
    pub offset: usize,
    /// Bytes from `offset` that hold it (the raw value, or the whole encoded text), so that a
    /// redaction can replace them.
    pub len: usize,
    /// 1-based line of the occurrence, for `file:line` evidence.
    pub line: usize,
    /// How it was found: raw, or through which encodings.
    #[serde(default)]
    pub form: Form,
}

impl SecretHit {
    /// The bytes of the searched text that hold the secret.
    pub fn span(&self) -> Range<usize> {
        self.offset..self.offset + self.len
    }
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
    /// Every secret kept, by the order it was registered in.
    entries: BTreeMap<u64, Entry>,
    next: u64,
    by_tail: HashMap<[u8; MIN_SECRET_LEN], Vec<u64>>,
    /// The per-request secrets kept, oldest first, when the registry is bounded.
    per_request: VecDeque<u64>,
    capacity: Option<usize>,
    dropped: usize,
}

struct Entry {
    value: String,
    info: SecretInfo,
    /// For a JWT, the length of its signature segment, which counts as the secret on its own
    /// (it shares the JWT's tail, so the same index finds it).
    signature_len: Option<usize>,
}

impl Inner {
    fn forget(&mut self, id: u64) {
        let Some(entry) = self.entries.remove(&id) else {
            return;
        };
        let key = tail(entry.value.as_bytes());
        if let Some(ids) = self.by_tail.get_mut(&key) {
            ids.retain(|&i| i != id);
            if ids.is_empty() {
                self.by_tail.remove(&key);
            }
        }
        self.dropped += 1;
    }
}

/// A raw occurrence: which secret, where it starts and ends, and whether only its JWT signature
/// segment appeared.
struct RawHit {
    id: u64,
    start: usize,
    end: usize,
    signature_only: bool,
}

impl Inner {
    /// Every registered secret in `bytes`, raw.
    fn raw_hits(&self, bytes: &[u8]) -> Vec<RawHit> {
        let mut hits = Vec::new();
        if self.entries.is_empty() || bytes.len() < MIN_SECRET_LEN {
            return hits;
        }
        for end in MIN_SECRET_LEN..=bytes.len() {
            let window: &[u8; MIN_SECRET_LEN] = bytes[end - MIN_SECRET_LEN..end]
                .try_into()
                .expect("window has the key length");
            let Some(ids) = self.by_tail.get(window) else {
                continue;
            };
            for &id in ids {
                let Some(entry) = self.entries.get(&id) else {
                    continue;
                };
                let value = entry.value.as_bytes();
                if end >= value.len() && &bytes[end - value.len()..end] == value {
                    hits.push(RawHit {
                        id,
                        start: end - value.len(),
                        end,
                        signature_only: false,
                    });
                } else if let Some(n) = entry.signature_len
                    && end >= n
                    && bytes[end - n..end] == value[value.len() - n..]
                {
                    hits.push(RawHit {
                        id,
                        start: end - n,
                        end,
                        signature_only: true,
                    });
                }
            }
        }
        hits
    }

    /// Every registered secret in `text` as it stands there, as hits.
    fn raw_secret_hits(&self, text: &[u8]) -> Vec<SecretHit> {
        self.raw_hits(text)
            .into_iter()
            .filter_map(|raw| Some((self.entries.get(&raw.id)?, raw)))
            .map(|(entry, raw)| SecretHit {
                secret: entry.info.clone(),
                offset: raw.start,
                len: raw.end - raw.start,
                line: line_of(text, raw.start),
                form: Form {
                    jwt_signature: raw.signature_only,
                    ..Form::raw()
                },
            })
            .collect()
    }

    /// Hits in `bytes` decoded through `layers` (outermost first) from the text's `span`; then one
    /// layer deeper, while `layers` allows.
    fn decoded_hits(
        &self,
        bytes: &[u8],
        layers: &mut Vec<leak::Layer>,
        wrapped: bool,
        outer: &Outer<'_>,
        out: &mut Vec<SecretHit>,
    ) {
        for raw in self.raw_hits(bytes) {
            let Some(entry) = self.entries.get(&raw.id) else {
                continue;
            };
            out.push(outer.hit(
                &entry.info,
                Form {
                    layers: layers.clone(),
                    jwt_signature: raw.signature_only,
                    wrapped,
                    context: outer.context,
                },
            ));
        }
        if layers.len() >= leak::MAX_LAYERS {
            return;
        }
        for c in leak::candidates(bytes) {
            layers.push(c.layer);
            self.decoded_hits(&c.bytes, layers, wrapped || c.wrapped, outer, out);
            layers.pop();
        }
    }
}

/// The outermost encoded text a nested search started from.
struct Outer<'a> {
    text: &'a [u8],
    start: usize,
    end: usize,
    context: Option<leak::Context>,
}

impl Outer<'_> {
    fn hit(&self, info: &SecretInfo, form: Form) -> SecretHit {
        SecretHit {
            secret: info.clone(),
            offset: self.start,
            len: self.end - self.start,
            line: line_of(self.text, self.start),
            form,
        }
    }
}

fn line_of(text: &[u8], offset: usize) -> usize {
    text[..offset].iter().filter(|&&b| b == b'\n').count() + 1
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
            .field("secrets", &inner.entries.len())
            .field("dropped", &inner.dropped)
            .finish()
    }
}

impl SecretRegistry {
    /// An empty registry that keeps every secret.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty registry that keeps at most `capacity` per-request secrets
    /// ([`SecretKind::is_per_request`]), forgetting the oldest; the world's own are always kept.
    pub fn bounded(capacity: usize) -> Self {
        let registry = Self::default();
        if let Ok(mut inner) = registry.inner.write() {
            inner.capacity = Some(capacity.max(1));
        }
        registry
    }

    /// How many per-request secrets a bounded registry has forgotten (0 for an unbounded one).
    pub fn dropped(&self) -> usize {
        self.inner.read().expect("secret registry lock").dropped
    }

    /// Registers `value` (idempotent for the same value) and wraps it.
    pub fn register(
        &self,
        kind: SecretKind,
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
        let known = inner.by_tail.get(&key).is_some_and(|ids| {
            ids.iter()
                .any(|i| inner.entries.get(i).is_some_and(|e| e.value == value))
        });
        if !known {
            let id = inner.next;
            inner.next += 1;
            inner.entries.insert(
                id,
                Entry {
                    signature_len: leak::jwt_signature_len(&value),
                    value: value.clone(),
                    info: SecretInfo {
                        fingerprint: fingerprint.clone(),
                        kind,
                        label: label.to_owned(),
                    },
                },
            );
            inner.by_tail.entry(key).or_default().push(id);
            if let Some(capacity) = inner.capacity
                && kind.is_per_request()
            {
                inner.per_request.push_back(id);
                while inner.per_request.len() > capacity {
                    if let Some(oldest) = inner.per_request.pop_front() {
                        inner.forget(oldest);
                    }
                }
            }
        }
        Ok((Secret::new(value), fingerprint))
    }

    /// Mints a fresh random secret of `len` URL-safe characters after `prefix`, registers it.
    pub fn mint(&self, kind: SecretKind, label: &str, prefix: &str, len: usize) -> Secret<String> {
        let value = format!("{prefix}{}", random_token(len.max(MIN_SECRET_LEN)));
        self.register(kind, label, value)
            .expect("minted secrets are long enough")
            .0
    }

    /// How many secrets are registered.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .expect("secret registry lock")
            .entries
            .len()
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
            .entries
            .values()
            .map(|e| e.info.clone())
            .collect()
    }

    /// What is known about the secret with this fingerprint.
    pub fn info(&self, fingerprint: &Fingerprint) -> Option<SecretInfo> {
        let inner = self.inner.read().expect("secret registry lock");
        inner
            .entries
            .values()
            .find(|e| &e.info.fingerprint == fingerprint)
            .map(|e| e.info.clone())
    }

    /// The registered secret whose value is exactly `value`, if any.
    pub fn identify(&self, value: &str) -> Option<SecretInfo> {
        if value.len() < MIN_SECRET_LEN {
            return None;
        }
        let inner = self.inner.read().expect("secret registry lock");
        let ids = inner.by_tail.get(&tail(value.as_bytes()))?;
        ids.iter()
            .filter_map(|i| inner.entries.get(i))
            .find(|e| e.value == value)
            .map(|e| e.info.clone())
    }

    /// Every occurrence of every registered secret in `text` as it was minted (a JWT also by its
    /// signature segment alone), in order of position.
    pub fn find_in(&self, text: &str) -> Vec<SecretHit> {
        let bytes = text.as_bytes();
        let inner = self.inner.read().expect("secret registry lock");
        let mut hits = inner.raw_secret_hits(bytes);
        hits.sort_by_key(|h| h.offset);
        hits
    }

    /// Every occurrence of every registered secret in `text`, raw or in any of the encodings
    /// credentials take in logs, files and requests (see [`crate::leak`]): one hit per secret
    /// and place, the plainest form first, in order of position.
    pub fn search(&self, text: &[u8]) -> Vec<SecretHit> {
        let inner = self.inner.read().expect("secret registry lock");
        if inner.entries.is_empty() || text.len() < MIN_SECRET_LEN {
            return Vec::new();
        }
        let mut hits = inner.raw_secret_hits(text);
        for c in leak::candidates(text) {
            let outer = Outer {
                text,
                start: c.start,
                end: c.end,
                context: leak::context_before(text, c.start),
            };
            let mut layers = vec![c.layer];
            inner.decoded_hits(&c.bytes, &mut layers, c.wrapped, &outer, &mut hits);
        }
        // One hit per secret and place (overlapping spans are the same occurrence, found again
        // from another alignment or line join): the plainest form wins.
        hits.sort_by(|a, b| {
            let plainness = |h: &SecretHit| {
                (
                    h.form.layers.len(),
                    h.form.wrapped,
                    h.form.jwt_signature,
                    h.offset,
                )
            };
            plainness(a).cmp(&plainness(b))
        });
        let mut kept: Vec<SecretHit> = Vec::new();
        for h in hits {
            let seen = kept.iter().any(|k| {
                k.secret.fingerprint == h.secret.fingerprint
                    && k.offset < h.offset + h.len.max(1)
                    && h.offset < k.offset + k.len.max(1)
            });
            if !seen {
                kept.push(h);
            }
        }
        kept.sort_by_key(|h| h.offset);
        kept
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
    fn a_bounded_registry_forgets_its_oldest_tokens_and_keeps_the_worlds_secrets() {
        let reg = SecretRegistry::bounded(3);
        let client_secret = reg.mint(SecretKind::EntraClientSecret, "contoso/app", "cs~", 32);
        let tokens: Vec<_> = (0..5)
            .map(|i| reg.mint(SecretKind::EntraAccessToken, &format!("t{i}"), "at.", 40))
            .collect();
        let canary = reg.mint(SecretKind::Canary, "canary", "canary-", 20);
        assert_eq!(reg.dropped(), 2);
        assert_eq!(
            reg.len(),
            5,
            "three tokens, the client secret and the canary"
        );
        let text = format!(
            "{} {} {} {}",
            client_secret.expose(),
            tokens[0].expose(),
            tokens[4].expose(),
            canary.expose()
        );
        let found: Vec<String> = reg
            .search(text.as_bytes())
            .into_iter()
            .map(|h| h.secret.label)
            .collect();
        assert_eq!(found, ["contoso/app", "t4", "canary"]);
        assert!(reg.identify(tokens[1].expose()).is_none());
        assert_eq!(reg.identify(tokens[2].expose()).unwrap().label, "t2");
        let labels: Vec<String> = reg.infos().into_iter().map(|i| i.label).collect();
        assert_eq!(labels, ["contoso/app", "t2", "t3", "t4", "canary"]);
        // Registering a kept value again changes nothing.
        reg.register(
            SecretKind::EntraAccessToken,
            "again",
            tokens[4].expose().clone(),
        )
        .unwrap();
        assert_eq!((reg.len(), reg.dropped()), (5, 2));
        // Unbounded: nothing is forgotten.
        let all = SecretRegistry::new();
        for i in 0..50 {
            all.mint(SecretKind::AcrAccessToken, &format!("{i}"), "acr.", 40);
        }
        assert_eq!((all.len(), all.dropped()), (50, 0));
    }

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
            .register(
                SecretKind::EntraAccessToken,
                "contoso/app",
                "eyJhbGciOi.canary-one",
            )
            .unwrap();
        let b = reg.mint(SecretKind::AcrRefreshToken, "contosoacr", "acr_", 24);
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
        reg.register(SecretKind::Canary, "l", "the-same-value-twice")
            .unwrap();
        reg.register(SecretKind::Canary, "l", "the-same-value-twice")
            .unwrap();
        assert_eq!(reg.len(), 1);
        assert_eq!(
            reg.register(SecretKind::Canary, "l", "short").unwrap_err(),
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
        let a = reg.mint(SecretKind::Canary, "l", "p_", 32);
        let b = reg.mint(SecretKind::Canary, "l", "p_", 32);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 34);
        assert!(a.expose().starts_with("p_"));
    }

    #[test]
    fn secrets_sharing_a_prefix_are_told_apart() {
        let reg = SecretRegistry::new();
        let a = "eyJhbGciOiJSUzI1NiJ9.same-claims.signature-AAAAAAAAAAAA";
        let b = "eyJhbGciOiJSUzI1NiJ9.same-claims.signature-BBBBBBBBBBBB";
        reg.register(SecretKind::Canary, "a", a).unwrap();
        reg.register(SecretKind::Canary, "b", b).unwrap();
        let hits = reg.find_in(&format!("token={b}"));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].secret.label, "b");
        assert_eq!(hits[0].offset, 6);
        // A truncated copy is not the secret.
        assert!(reg.find_in(&a[..a.len() - 1]).is_empty());
        // Thousands of registrations stay searchable.
        for i in 0..5000 {
            reg.mint(
                SecretKind::Canary,
                &format!("n{i}"),
                "eyJhbGciOiJSUzI1NiJ9.",
                40,
            );
        }
        assert_eq!(reg.find_in(a).len(), 1);
    }

    /// A registry with one ACR refresh token (a JWT) and one client secret.
    fn canaries() -> (SecretRegistry, String, String) {
        let reg = SecretRegistry::new();
        let jwt = format!(
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcm9qZWN0LWEifQ.{}",
            random_token(342)
        );
        reg.register(
            SecretKind::AcrRefreshToken,
            "contosoacr.azurecr.io for a",
            jwt.clone(),
        )
        .unwrap();
        let cs = reg
            .mint(SecretKind::EntraClientSecret, "contoso/app", "cs8Q~", 35)
            .into_inner();
        (reg, jwt, cs)
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn forms(reg: &SecretRegistry, text: &str) -> Vec<(usize, SecretKind, String)> {
        reg.search(text.as_bytes())
            .into_iter()
            .map(|h| (h.line, h.secret.kind, h.form.to_string()))
            .collect()
    }

    #[test]
    fn encoded_secrets_are_found_with_their_form() {
        let (reg, jwt, cs) = canaries();
        let basic = b64(format!("00000000-0000-0000-0000-000000000000:{jwt}").as_bytes());
        let text = format!("GET /v2/ HTTP/1.1\nAuthorization: Basic {basic}\n");
        assert_eq!(
            forms(&reg, &text),
            [(
                2,
                SecretKind::AcrRefreshToken,
                "as base64 in an HTTP Basic header".to_owned()
            )]
        );
        // Docker's config.json: auths.<host>.auth is base64 of user:password.
        let config = format!(
            "{{\n  \"auths\": {{\n    \"contosoacr.azurecr.io\": {{\n      \"auth\": \"{basic}\"\n    }}\n  }}\n}}\n"
        );
        assert_eq!(
            forms(&reg, &config),
            [(
                4,
                SecretKind::AcrRefreshToken,
                "as base64 in a Docker config `auth` field".to_owned()
            )]
        );
        // A Kubernetes Secret: base64 of that config.json, wrapped at 76 characters.
        let secret_data = b64(config.as_bytes());
        let wrapped: Vec<String> = secret_data
            .as_bytes()
            .chunks(76)
            .map(|c| format!("    {}", String::from_utf8_lossy(c)))
            .collect();
        let manifest = format!("data:\n  .dockerconfigjson: |\n{}\n", wrapped.join("\n"));
        let found = forms(&reg, &manifest);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 3);
        assert_eq!(found[0].2, "as base64 inside base64, line-wrapped");
        // base64url without padding, at every alignment of the blob.
        for prefix in ["", "a", "ab", "abc", "abcd"] {
            let blob = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!("{prefix}:{cs}:suffix"));
            let found = forms(&reg, &format!("cache={blob}"));
            assert_eq!(found.len(), 1, "prefix {prefix:?}: {found:?}");
            assert_eq!(found[0].1, SecretKind::EntraClientSecret);
            // "base64url" when the text uses `-` or `_`; random text may use neither.
            assert!(found[0].2.starts_with("as base64"), "{found:?}");
        }
        // A base64 blob glued to other text still decodes from the right offset.
        let glued = format!("x{}", b64(format!("::{cs}").as_bytes()));
        assert_eq!(forms(&reg, &glued).len(), 1, "{glued}");
    }

    #[test]
    fn escaped_and_partial_forms_are_found() {
        let (reg, jwt, cs) = canaries();
        let sig = jwt.rsplit('.').next().unwrap();
        assert_eq!(
            forms(&reg, &format!("signature: {sig}\n")),
            [(
                1,
                SecretKind::AcrRefreshToken,
                "as its JWT signature segment".to_owned()
            )]
        );
        let pct: String = cs.bytes().map(|b| format!("%{b:02X}")).collect();
        assert_eq!(
            forms(&reg, &format!("POST /x?client_secret={pct}&a=b")),
            [(
                1,
                SecretKind::EntraClientSecret,
                "as percent-encoding".to_owned()
            )]
        );
        assert_eq!(
            forms(
                &reg,
                &format!("{{\"secret\":\"{}\"}}", cs.replace('~', "\\u007e"))
            ),
            [(
                1,
                SecretKind::EntraClientSecret,
                "as JSON string escapes".to_owned()
            )]
        );
        assert_eq!(
            forms(&reg, &format!("export S={}", cs.replace('~', "\\~"))),
            [(
                1,
                SecretKind::EntraClientSecret,
                "as shell escapes".to_owned()
            )]
        );
        // The raw value is found once, raw, not again through a decoding of its own characters.
        assert_eq!(
            forms(&reg, &format!("a\n{jwt} and {cs}")),
            [
                (2, SecretKind::AcrRefreshToken, "raw".to_owned()),
                (2, SecretKind::EntraClientSecret, "raw".to_owned())
            ]
        );
        // Text that merely looks encoded finds nothing.
        let noise = b64(&[7u8; 600]);
        assert!(
            reg.search(format!("{noise} %41%42 a\\x41").as_bytes())
                .is_empty()
        );
        // Spans cover the encoded text, so a redaction can replace all of it.
        let basic = b64(format!("u:{cs}").as_bytes());
        let text = format!("Authorization: Basic {basic} done");
        let hit = &reg.search(text.as_bytes())[0];
        assert_eq!(&text[hit.span()], basic);
    }

    #[test]
    fn empty_registry_finds_nothing() {
        assert!(SecretRegistry::new().find_in("anything").is_empty());
    }
}
