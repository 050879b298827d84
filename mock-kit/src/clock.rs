//! The virtual clock every fake reads instead of the system clock.
//!
//! Scenarios say "three hours later" and expect tokens to have expired; waiting is not an option.
//! The clock is `start + elapsed real time + offset`, where the offset only grows ([`Clock::advance`],
//! [`Clock::set`]), so virtual time never moves backwards. A frozen clock ([`Clock::frozen_at`]) does
//! not follow real time at all, for deterministic tests and snapshots.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

/// A shared virtual clock. Cloning shares it.
#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    start: Timestamp,
    real_start: Option<Instant>,
    offset: Duration,
}

/// Why the clock refused to move.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClockError {
    /// The requested time lies before the current virtual time.
    #[error("the virtual clock never moves backwards: {requested} is before now ({now})")]
    Backwards {
        requested: Timestamp,
        now: Timestamp,
    },
}

impl Clock {
    /// A clock that starts at the real current time and then runs at real speed.
    pub fn system() -> Self {
        Self::running_from(Timestamp::now())
    }

    /// A clock that starts at `start` and then runs at real speed.
    pub fn running_from(start: Timestamp) -> Self {
        Self::with_state(State {
            start,
            real_start: Some(Instant::now()),
            offset: Duration::ZERO,
        })
    }

    /// A clock that stays at `start` until advanced.
    pub fn frozen_at(start: Timestamp) -> Self {
        Self::with_state(State {
            start,
            real_start: None,
            offset: Duration::ZERO,
        })
    }

    fn with_state(state: State) -> Self {
        Self {
            inner: Arc::new(Mutex::new(state)),
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> Timestamp {
        let state = self.inner.lock().expect("clock lock");
        state.now()
    }

    /// The current virtual time in whole seconds since the Unix epoch (JWT `iat`/`exp` style).
    pub fn unix_seconds(&self) -> i64 {
        self.now().as_second()
    }

    /// Moves virtual time forward by `by`; returns the new time.
    pub fn advance(&self, by: Duration) -> Timestamp {
        let mut state = self.inner.lock().expect("clock lock");
        state.offset += by;
        state.now()
    }

    /// Moves virtual time forward to `to`. Refuses to move backwards.
    pub fn set(&self, to: Timestamp) -> Result<Timestamp, ClockError> {
        let mut state = self.inner.lock().expect("clock lock");
        let now = state.now();
        if to < now {
            return Err(ClockError::Backwards { requested: to, now });
        }
        let gap = to.duration_since(now);
        state.offset += gap.unsigned_abs();
        Ok(state.now())
    }
}

impl State {
    fn now(&self) -> Timestamp {
        let real = self.real_start.map(|s| s.elapsed()).unwrap_or_default();
        let total = SignedDuration::try_from(real + self.offset).unwrap_or(SignedDuration::MAX);
        self.start.saturating_add(total).unwrap_or(Timestamp::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn frozen_clock_only_moves_when_advanced() {
        let clock = Clock::frozen_at(t("2026-11-29T18:00:00Z"));
        assert_eq!(clock.now(), t("2026-11-29T18:00:00Z"));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now(), t("2026-11-29T18:00:00Z"));
        assert_eq!(
            clock.advance(Duration::from_secs(3 * 3600)),
            t("2026-11-29T21:00:00Z")
        );
        assert_eq!(clock.unix_seconds(), t("2026-11-29T21:00:00Z").as_second());
    }

    #[test]
    fn set_moves_forward_and_refuses_backwards() {
        let clock = Clock::frozen_at(t("2026-11-29T18:00:00Z"));
        assert_eq!(
            clock.set(t("2026-11-30T00:00:00Z")).unwrap(),
            t("2026-11-30T00:00:00Z")
        );
        let err = clock.set(t("2026-11-29T23:59:59Z")).unwrap_err();
        assert_eq!(
            err,
            ClockError::Backwards {
                requested: t("2026-11-29T23:59:59Z"),
                now: t("2026-11-30T00:00:00Z")
            }
        );
        assert_eq!(clock.now(), t("2026-11-30T00:00:00Z"));
        // Setting to exactly now is allowed and changes nothing.
        assert_eq!(
            clock.set(t("2026-11-30T00:00:00Z")).unwrap(),
            t("2026-11-30T00:00:00Z")
        );
    }

    #[test]
    fn running_clock_follows_real_time_plus_offset_and_is_shared() {
        let clock = Clock::running_from(t("2026-01-01T00:00:00Z"));
        let shared = clock.clone();
        let a = clock.now();
        std::thread::sleep(Duration::from_millis(20));
        let b = shared.now();
        assert!(b > a, "real time flows: {a} then {b}");
        shared.advance(Duration::from_secs(3600));
        let c = clock.now();
        assert!(c.duration_since(b) >= SignedDuration::from_secs(3600));
        assert!(c.duration_since(b) < SignedDuration::from_secs(3700));
    }
}
