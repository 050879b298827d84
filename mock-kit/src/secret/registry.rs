//! [`SecretRegistry`]: every secret minted in a run, indexed by its tail, optionally bounded.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use super::{Fingerprint, Secret, SecretKind, random_token};
use crate::leak;

/// What a registered secret is, for evidence ("an ACR refresh token for contosoacr").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    pub fingerprint: Fingerprint,
    pub kind: SecretKind,
    /// Free text naming whose secret it is, e.g. `contoso/ci-app`. Never the value.
    pub label: String,
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
    pub(super) inner: Arc<RwLock<Inner>>,
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
        if !inner.holds(&value) {
            let info = SecretInfo {
                fingerprint: fingerprint.clone(),
                kind,
                label: label.to_owned(),
            };
            inner.insert(value.clone(), info);
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

/// Secrets are indexed by their last [`MIN_SECRET_LEN`] bytes. Minted secrets end in random
/// characters (a JWT ends in its signature), so the buckets stay tiny however many tokens a run
/// mints; registering is O(1) and a search is one hash lookup per byte of the searched text.
#[derive(Default)]
pub(super) struct Inner {
    /// Every secret kept, by the order it was registered in.
    pub(super) entries: BTreeMap<u64, Entry>,
    next: u64,
    pub(super) by_tail: HashMap<[u8; MIN_SECRET_LEN], Vec<u64>>,
    /// The per-request secrets kept, oldest first, when the registry is bounded.
    per_request: VecDeque<u64>,
    capacity: Option<usize>,
    dropped: usize,
}

pub(super) struct Entry {
    pub(super) value: String,
    pub(super) info: SecretInfo,
    /// For a JWT, the length of its signature segment, which counts as the secret on its own
    /// (it shares the JWT's tail, so the same index finds it).
    pub(super) signature_len: Option<usize>,
}

impl Inner {
    /// Whether exactly `value` is kept.
    fn holds(&self, value: &str) -> bool {
        self.by_tail
            .get(&tail(value.as_bytes()))
            .is_some_and(|ids| {
                ids.iter()
                    .any(|i| self.entries.get(i).is_some_and(|e| e.value == value))
            })
    }

    /// Keeps a new secret; in a bounded registry, a per-request one may push out the oldest.
    fn insert(&mut self, value: String, info: SecretInfo) {
        let id = self.next;
        self.next += 1;
        let key = tail(value.as_bytes());
        let per_request = info.kind.is_per_request();
        self.entries.insert(
            id,
            Entry {
                signature_len: leak::jwt_signature_len(&value),
                value,
                info,
            },
        );
        self.by_tail.entry(key).or_default().push(id);
        if let Some(capacity) = self.capacity
            && per_request
        {
            self.per_request.push_back(id);
            while self.per_request.len() > capacity {
                if let Some(oldest) = self.per_request.pop_front() {
                    self.forget(oldest);
                }
            }
        }
    }

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

/// The index key of a value at least [`MIN_SECRET_LEN`] long.
pub(super) fn tail(value: &[u8]) -> [u8; MIN_SECRET_LEN] {
    value[value.len() - MIN_SECRET_LEN..]
        .try_into()
        .expect("registered secrets are at least MIN_SECRET_LEN long")
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
}
