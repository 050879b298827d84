//! RSA-2048 key material without the wait.
//!
//! Every signing key of a world (an Entra tenant's, a cluster issuer's, an app certificate's,
//! ACR's) is RSA-2048, as the real services' are, and generating one is a prime search of tens of
//! milliseconds: on the critical path it would be most of a world's build. Isolation evidence only
//! needs keys that no other world running at the same time has. So keys come from a store:
//!
//! - **Handed out once per process.** [`take`] removes the key it returns; no two worlds of one
//!   process, concurrent or not, ever share a key, and no world has a key twice.
//! - **Cached across runs, claimed per process.** Generated keys are appended to a cache file (PKCS#8
//!   DER records, mode 0600) that the generating process holds an exclusive lock on
//!   ([`File::try_lock`], `flock`) for as long as it lives. A later process claims whole files whose
//!   lock it can take, and their keys are then its own: two processes running at the same time never
//!   hold the same file, so never share a key, while sequential runs reuse the same material (the
//!   time a key was used before does not matter to any property: only worlds alive together could
//!   confuse their tokens).
//! - **Generated when the cache has none left**, by the caller (so concurrent callers generate in
//!   parallel), and appended to this process's own cache file for the runs after it.
//!
//! The cache folder is `$CREDSIM_KEY_CACHE`; else `credsim-keys` in the Cargo `target` folder the
//! running executable is in (tests, benchmarks, `cargo run`); else `$XDG_CACHE_HOME/credsim/keys`
//! (or `~/.cache/credsim/keys`). `CREDSIM_KEY_CACHE=off` keeps keys in memory only: every key is
//! then generated in this process.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};

/// Why a key could not be made or a token not minted.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("generating an RSA key failed")]
    Generate,
    #[error("the RSA key is not a usable RSA-2048 PKCS#8 key: {0}")]
    Rejected(String),
    #[error("encoding an RSA key failed: {0}")]
    Encode(String),
    #[error("making the key's certificate failed")]
    Certificate(#[source] rcgen::Error),
    #[error("serialising JWT claims failed")]
    Claims(#[source] serde_json::Error),
    #[error("signing failed")]
    Sign,
    #[error("the key store failed: {0}")]
    Store(String),
}

/// The variable naming the cache folder (or `off`).
pub const CACHE_VARIABLE: &str = "CREDSIM_KEY_CACHE";

/// The first bytes of a cache file; a file without them is not read.
const MAGIC: &[u8] = b"credsim rsa-2048 pkcs8 v1\n";

/// The most of a cache file that is read.
const MAX_FILE: u64 = 16 << 20;

/// A key store over one cache folder (or none). The process has one ([`take`]); tests make their
/// own to show what two processes see.
#[derive(Debug)]
pub struct KeyStore {
    dir: Option<PathBuf>,
    state: Mutex<State>,
    taken: AtomicUsize,
    generated: AtomicUsize,
}

#[derive(Debug, Default)]
struct State {
    /// Keys this process owns and has not handed out.
    ready: VecDeque<Vec<u8>>,
    /// Cache files not looked at yet.
    unclaimed: Option<Vec<PathBuf>>,
    /// Files this process holds the lock of (claimed ones, and its own).
    held: Vec<File>,
    /// This process's own cache file, where generated keys go.
    own: Option<File>,
}

impl KeyStore {
    /// A store over the cache folder `dir` (`None`: memory only).
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self {
            dir,
            state: Mutex::new(State::default()),
            taken: AtomicUsize::new(0),
            generated: AtomicUsize::new(0),
        }
    }

    /// The store of this process, over the folder the environment names (module documentation).
    pub fn global() -> &'static KeyStore {
        static STORE: OnceLock<KeyStore> = OnceLock::new();
        STORE.get_or_init(|| KeyStore::new(cache_dir()))
    }

    /// The cache folder, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// A key (PKCS#8 DER) that this store hands out to nobody else.
    pub fn take(&self) -> Result<Vec<u8>, KeyError> {
        self.taken.fetch_add(1, Ordering::Relaxed);
        if let Some(key) = self.cached() {
            return Ok(key);
        }
        let key = generate()?;
        self.generated.fetch_add(1, Ordering::Relaxed);
        self.keep(&key);
        Ok(key)
    }

    /// How many keys this store has handed out, and how many of them it had to generate.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.taken.load(Ordering::Relaxed),
            self.generated.load(Ordering::Relaxed),
        )
    }

    /// Claims cache files until one has keys left, or none is left to claim.
    fn cached(&self) -> Option<Vec<u8>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(key) = state.ready.pop_front() {
                return Some(key);
            }
            let dir = self.dir.as_ref()?;
            let unclaimed = state.unclaimed.get_or_insert_with(|| list(dir));
            let path = unclaimed.pop()?;
            if let Some((file, keys)) = claim(&path) {
                state.held.push(file);
                state.ready.extend(keys);
            }
        }
    }

    /// Appends a generated key to this process's own cache file, made (and locked) on first use.
    /// The cache is an optimisation: when it cannot be written, keys are simply not kept.
    fn keep(&self, key: &[u8]) {
        let Some(dir) = &self.dir else { return };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.own.is_none() {
            state.own = own_file(dir);
        }
        if let Some(file) = &mut state.own {
            let mut record = Vec::with_capacity(key.len() + 4);
            record.extend_from_slice(&(key.len() as u32).to_be_bytes());
            record.extend_from_slice(key);
            if file.write_all(&record).is_err() {
                state.own = None;
            }
        }
    }
}

/// A key from the process's store ([`KeyStore::global`]).
pub fn take() -> Result<Vec<u8>, KeyError> {
    KeyStore::global().take()
}

/// A freshly generated RSA-2048 key, PKCS#8 DER.
pub fn generate() -> Result<Vec<u8>, KeyError> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
    let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|e| KeyError::Encode(e.to_string()))?;
    Ok(der.as_ref().to_vec())
}

/// The cache folder the environment names (module documentation).
fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os(CACHE_VARIABLE) {
        Some(v) if v.eq_ignore_ascii_case("off") => return None,
        Some(v) if !v.is_empty() => return Some(PathBuf::from(v)),
        _ => {}
    }
    let exe = std::env::current_exe().ok();
    if let Some(target) = exe.as_deref().and_then(|e| {
        e.ancestors()
            .find(|a| a.file_name().is_some_and(|n| n == "target"))
    }) {
        return Some(target.join("credsim-keys"));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("credsim").join("keys"))
}

/// The cache files in `dir`.
fn list(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "keys"))
        .collect();
    files.sort();
    files
}

/// Locks the cache file at `path` for this process and reads its keys; `None` when another
/// process holds it or it cannot be read. A record cut short (a process killed while writing)
/// ends the file.
fn claim(path: &Path) -> Option<(File, Vec<Vec<u8>>)> {
    let mut file = OpenOptions::new().read(true).append(true).open(path).ok()?;
    file.try_lock().ok()?;
    // A cache file holds a few thousand keys at most (about 1.2 KB each); read no more than that.
    let mut bytes = Vec::new();
    (&mut file).take(MAX_FILE).read_to_end(&mut bytes).ok()?;
    let mut rest = bytes.strip_prefix(MAGIC)?;
    let mut keys = Vec::new();
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_be_bytes(*len) as usize;
        let Some(key) = tail.get(..len) else { break };
        keys.push(key.to_vec());
        rest = &tail[len..];
    }
    Some((file, keys))
}

/// A new cache file of this process's, locked, with the header written.
fn own_file(dir: &Path) -> Option<File> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .ok()?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = dir.join(format!("{}-{nanos}.keys", std::process::id()));
    let mut file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .ok()?;
    file.try_lock().ok()?;
    file.write_all(MAGIC).ok()?;
    Some(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_processes_never_share_a_key_and_a_later_one_reuses_them() {
        let dir = tempfile::tempdir().unwrap();
        // Two stores over one folder stand for two processes (flock locks are per open file).
        let first = KeyStore::new(Some(dir.path().to_path_buf()));
        let a: Vec<Vec<u8>> = (0..3).map(|_| first.take().unwrap()).collect();
        assert_eq!(first.counts(), (3, 3), "an empty cache: all generated");
        let second = KeyStore::new(Some(dir.path().to_path_buf()));
        let b: Vec<Vec<u8>> = (0..2).map(|_| second.take().unwrap()).collect();
        assert_eq!(second.counts(), (2, 2), "the first one's file is locked");
        for k in &b {
            assert!(!a.contains(k), "a key handed to two live stores");
        }
        let mut all = a.clone();
        all.extend(b.clone());
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 5, "every key distinct");

        // Once both are gone, a third claims their files: no generation, keys used before.
        drop(first);
        drop(second);
        let third = KeyStore::new(Some(dir.path().to_path_buf()));
        let c: Vec<Vec<u8>> = (0..5).map(|_| third.take().unwrap()).collect();
        assert_eq!(third.counts(), (5, 0));
        let mut c_sorted = c.clone();
        c_sorted.sort();
        c_sorted.dedup();
        assert_eq!(c_sorted.len(), 5, "never the same key twice in one store");
        for k in &c {
            assert!(KeyPair::from_pkcs8(k).is_ok());
        }
        // The sixth is new.
        third.take().unwrap();
        assert_eq!(third.counts(), (6, 1));
    }

    #[test]
    fn a_cut_or_foreign_file_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.keys"), b"not a cache file").unwrap();
        let key = generate().unwrap();
        let mut cut = MAGIC.to_vec();
        cut.extend_from_slice(&(key.len() as u32).to_be_bytes());
        cut.extend_from_slice(&key);
        cut.extend_from_slice(&(key.len() as u32).to_be_bytes());
        cut.extend_from_slice(&key[..10]);
        std::fs::write(dir.path().join("y.keys"), cut).unwrap();
        let store = KeyStore::new(Some(dir.path().to_path_buf()));
        assert_eq!(store.take().unwrap(), key, "the whole record");
        let next = store.take().unwrap();
        assert_ne!(next, key);
        assert_eq!(store.counts(), (2, 1), "the cut record is not a key");
    }

    #[test]
    fn without_a_folder_every_key_is_generated() {
        let store = KeyStore::new(None);
        let a = store.take().unwrap();
        let b = store.take().unwrap();
        assert_ne!(a, b);
        assert_eq!(store.counts(), (2, 2));
    }
}
