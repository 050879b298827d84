//! An append-only log that tests and the harness query.
//!
//! Every fake keeps its evidence (token requests, exchanges, TokenRequests, egress) in a
//! [`Journal`]. Entries get a sequence number on append, so a reader can ask for "everything since
//! I last looked" and can wait for an entry that has not been written yet (a request still in
//! flight) without sleeping in a loop. A bounded journal ([`Journal::bounded`], for long-running
//! `credsim up`) drops its oldest entries past a capacity; sequence numbers stay global and
//! [`Journal::dropped`] says how many were let go.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

/// A shared, append-only, queryable log of `E`. Cloning shares it.
#[derive(Debug)]
pub struct Journal<E> {
    inner: Arc<Inner<E>>,
}

#[derive(Debug)]
struct Inner<E> {
    entries: Mutex<Entries<E>>,
    appended: Notify,
}

#[derive(Debug)]
struct Entries<E> {
    kept: VecDeque<E>,
    /// How many of the oldest entries were dropped (the sequence number of `kept[0]`).
    dropped: usize,
    capacity: Option<usize>,
}

impl<E> Clone for Journal<E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<E> Default for Journal<E> {
    fn default() -> Self {
        Self::with_capacity(None)
    }
}

impl<E> Journal<E> {
    fn with_capacity(capacity: Option<usize>) -> Self {
        Self {
            inner: Arc::new(Inner {
                entries: Mutex::new(Entries {
                    kept: VecDeque::new(),
                    dropped: 0,
                    capacity,
                }),
                appended: Notify::new(),
            }),
        }
    }

    /// A journal that keeps at most `capacity` entries, dropping the oldest.
    pub fn bounded(capacity: usize) -> Self {
        Self::with_capacity(Some(capacity.max(1)))
    }

    /// How many of the oldest entries a bounded journal has dropped.
    pub fn dropped(&self) -> usize {
        self.inner.entries.lock().expect("journal lock").dropped
    }
}

impl<E: Clone> Journal<E> {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `entry`; returns its sequence number (0-based, dense, never reused).
    pub fn push(&self, entry: E) -> usize {
        let seq = {
            let mut e = self.inner.entries.lock().expect("journal lock");
            e.kept.push_back(entry);
            if e.capacity.is_some_and(|c| e.kept.len() > c) {
                e.kept.pop_front();
                e.dropped += 1;
            }
            e.dropped + e.kept.len() - 1
        };
        self.inner.appended.notify_waiters();
        seq
    }

    /// Appends the entry `make` builds from its sequence number (an entry that carries its own
    /// number); returns that number.
    pub fn push_numbered(&self, make: impl FnOnce(usize) -> E) -> usize {
        let seq = {
            let mut e = self.inner.entries.lock().expect("journal lock");
            let seq = e.dropped + e.kept.len();
            e.kept.push_back(make(seq));
            if e.capacity.is_some_and(|c| e.kept.len() > c) {
                e.kept.pop_front();
                e.dropped += 1;
            }
            seq
        };
        self.inner.appended.notify_waiters();
        seq
    }

    /// The sequence number the next entry will get (every entry ever appended, dropped or not).
    pub fn next_seq(&self) -> usize {
        let e = self.inner.entries.lock().expect("journal lock");
        e.dropped + e.kept.len()
    }

    /// Waits until an entry numbered `seq` or later has been appended, at most `timeout`;
    /// whether one was.
    pub async fn wait_past(&self, seq: usize, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, async {
            loop {
                let notified = self.inner.appended.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.next_seq() > seq {
                    return;
                }
                notified.await;
            }
        })
        .await
        .is_ok()
    }

    /// How many entries are kept (all that were appended, unless bounded).
    pub fn len(&self) -> usize {
        self.inner.entries.lock().expect("journal lock").kept.len()
    }

    /// True when nothing has been appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of every entry, in order.
    pub fn snapshot(&self) -> Vec<E> {
        let e = self.inner.entries.lock().expect("journal lock");
        e.kept.iter().cloned().collect()
    }

    /// The kept entries with sequence number `seq` and later.
    pub fn since(&self, seq: usize) -> Vec<E> {
        let e = self.inner.entries.lock().expect("journal lock");
        e.kept
            .iter()
            .skip(seq.saturating_sub(e.dropped))
            .cloned()
            .collect()
    }

    /// Like [`Journal::since`], with the sequence number the next entry will get: a follower
    /// passes it back next time and sees each entry once, whatever was dropped in between.
    pub fn since_with_next(&self, seq: usize) -> (Vec<E>, usize) {
        let e = self.inner.entries.lock().expect("journal lock");
        let kept = e
            .kept
            .iter()
            .skip(seq.saturating_sub(e.dropped))
            .cloned()
            .collect();
        (kept, e.dropped + e.kept.len())
    }

    /// The entries that satisfy `pred`, in order.
    pub fn filter(&self, pred: impl Fn(&E) -> bool) -> Vec<E> {
        let entries = self.inner.entries.lock().expect("journal lock");
        entries.kept.iter().filter(|e| pred(e)).cloned().collect()
    }

    /// How many entries satisfy `pred`.
    pub fn count(&self, pred: impl Fn(&E) -> bool) -> usize {
        let entries = self.inner.entries.lock().expect("journal lock");
        entries.kept.iter().filter(|e| pred(e)).count()
    }

    /// The first entry that satisfies `pred`.
    pub fn find(&self, pred: impl Fn(&E) -> bool) -> Option<E> {
        let entries = self.inner.entries.lock().expect("journal lock");
        entries.kept.iter().find(|e| pred(e)).cloned()
    }

    /// Waits until an entry satisfying `pred` exists (already, or appended later), at most
    /// `timeout`. Returns `None` on timeout.
    pub async fn wait_for(&self, pred: impl Fn(&E) -> bool, timeout: Duration) -> Option<E> {
        tokio::time::timeout(timeout, async {
            loop {
                // Register interest before looking, so an append between the look and the
                // wait is not missed.
                let notified = self.inner.appended.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if let Some(found) = self.find(&pred) {
                    return found;
                }
                notified.await;
            }
        })
        .await
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_assigns_dense_sequence_numbers_and_queries_see_them() {
        let j = Journal::new();
        assert!(j.is_empty());
        assert_eq!(j.push("a"), 0);
        assert_eq!(j.push("bb"), 1);
        assert_eq!(j.push("ccc"), 2);
        assert_eq!(j.len(), 3);
        assert_eq!(j.snapshot(), vec!["a", "bb", "ccc"]);
        assert_eq!(j.since(1), vec!["bb", "ccc"]);
        assert_eq!(j.since(3), Vec::<&str>::new());
        assert_eq!(j.since(99), Vec::<&str>::new());
        assert_eq!(j.filter(|e| e.len() > 1), vec!["bb", "ccc"]);
        assert_eq!(j.count(|e| e.starts_with('c')), 1);
        assert_eq!(j.find(|e| e.len() == 2), Some("bb"));
        assert_eq!(j.find(|e| e.is_empty()), None);
    }

    #[tokio::test]
    async fn numbered_entries_carry_their_number_and_waiting_past_one_sees_the_next() {
        let j = Journal::bounded(2);
        assert_eq!(j.push_numbered(|n| (n, 'a')), 0);
        assert_eq!(j.push_numbered(|n| (n, 'b')), 1);
        assert_eq!(j.push_numbered(|n| (n, 'c')), 2);
        assert_eq!(j.snapshot(), vec![(1, 'b'), (2, 'c')]);
        assert_eq!(j.next_seq(), 3);
        assert!(j.wait_past(2, Duration::from_millis(1)).await);
        assert!(!j.wait_past(3, Duration::from_millis(20)).await);
        let writer = j.clone();
        let waiting = tokio::spawn(async move { j.wait_past(3, Duration::from_secs(10)).await });
        tokio::task::yield_now().await;
        writer.push_numbered(|n| (n, 'd'));
        assert!(waiting.await.unwrap());
    }

    #[test]
    fn bounded_journals_drop_the_oldest_and_keep_global_sequence_numbers() {
        let j = Journal::bounded(2);
        assert_eq!(j.push('a'), 0);
        assert_eq!(j.push('b'), 1);
        assert_eq!(j.push('c'), 2);
        assert_eq!(j.snapshot(), vec!['b', 'c']);
        assert_eq!(j.dropped(), 1);
        assert_eq!(j.len(), 2);
        assert_eq!(j.since(0), vec!['b', 'c']);
        assert_eq!(j.since(2), vec!['c']);
        assert_eq!(j.since(3), Vec::<char>::new());
        assert_eq!(j.since_with_next(0), (vec!['b', 'c'], 3));
        assert_eq!(j.since_with_next(3), (Vec::<char>::new(), 3));
    }

    #[test]
    fn clones_share_one_log() {
        let j = Journal::new();
        let k = j.clone();
        k.push(7);
        assert_eq!(j.snapshot(), vec![7]);
    }

    #[tokio::test]
    async fn wait_for_sees_entries_appended_later_and_times_out_otherwise() {
        let j = Journal::new();
        let writer = j.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            writer.push(1);
            writer.push(42);
        });
        let got = j.wait_for(|e| *e == 42, Duration::from_secs(5)).await;
        assert_eq!(got, Some(42));
        task.await.unwrap();
        let none = j.wait_for(|e| *e == 43, Duration::from_millis(30)).await;
        assert_eq!(none, None);
    }
}
