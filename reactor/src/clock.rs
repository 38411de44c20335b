//! A cheap answer to "has the clock certainly not reached this deadline?".
//!
//! A timer polled for the first time must know whether its deadline has
//! passed. Reading `Instant::now()` (the kernel's `CLOCK_MONOTONIC` through
//! the vDSO) reads the hardware counter; `CLOCK_MONOTONIC_COARSE` is the
//! same clock as of the last tick, a plain load, and so several times
//! cheaper. It is never ahead of the fine clock
//! and, on a running CPU, behind by about a tick (its resolution). So a
//! deadline later than the coarse time plus twice its resolution has not
//! passed, and a timeout of a second or more is set without the fine read.
//!
//! It rests on std's `Instant` being `CLOCK_MONOTONIC` on Linux, as std
//! documents it today.
//!
//! This module must never be used to decide that a deadline *has* passed:
//! only `Instant::now()` says that, so a timer never fires early. Nor may a
//! wrong answer lose a wake: a timer asks only before it registers. If the
//! coarse clock ever lagged further than assumed, a timer whose deadline
//! had just passed would register instead of being ready at once, and the
//! reactor would fire it at its next turn.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustix::time::{ClockId, Timespec, clock_getres, clock_gettime};

/// A coarse reading taken before an `Instant`, and how far the coarse clock
/// may lag the fine one.
struct Base {
    coarse: Timespec,
    instant: Instant,
    lag: Duration,
}

/// Whether the clock has certainly not reached `when`. `false` means "read
/// the clock": the deadline may or may not have passed.
///
/// Where `c` is the coarse time now and `c0`, `i0` the base readings (`c0`
/// taken first): the fine time now is at most `c + lag`; `i0` is at least
/// `c0`; so `i0 + (c - c0) + lag` is at least the fine time now, and a
/// `when` beyond it has not passed.
pub(crate) fn certainly_before(when: Instant) -> bool {
    static BASE: OnceLock<Base> = OnceLock::new();
    let base = BASE.get_or_init(|| {
        let coarse = clock_gettime(ClockId::MonotonicCoarse);
        let resolution = clock_getres(ClockId::MonotonicCoarse);
        Base {
            coarse,
            instant: Instant::now(),
            lag: duration(resolution).saturating_mul(2),
        }
    });
    let since = since(clock_gettime(ClockId::MonotonicCoarse), base.coarse);
    #[cfg(test)]
    let since = since.saturating_sub(EXTRA_LAG.with(|l| l.get()));
    base.instant
        .checked_add(since.saturating_add(base.lag))
        .is_some_and(|latest| when > latest)
}

#[cfg(test)]
thread_local! {
    /// Test-only fault injection: how much further than its resolution the
    /// coarse clock lags, on this thread (a stalled timekeeper, a preempted
    /// vCPU).
    pub(crate) static EXTRA_LAG: std::cell::Cell<Duration> = const { std::cell::Cell::new(Duration::ZERO) };
}

/// `later - earlier` of two readings of one monotonic clock.
fn since(later: Timespec, earlier: Timespec) -> Duration {
    duration(later).saturating_sub(duration(earlier))
}

/// A reading of a monotonic clock (never negative) as a `Duration`.
fn duration(t: Timespec) -> Duration {
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(t.tv_nsec).unwrap_or(0);
    Duration::new(secs, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_now_or_past_is_never_certainly_ahead() {
        for _ in 0..10_000 {
            let now = Instant::now();
            assert!(!certainly_before(now));
            assert!(!certainly_before(now - Duration::from_millis(1)));
        }
    }

    #[test]
    fn a_deadline_seconds_ahead_is_known_without_the_fine_clock() {
        // The coarse clock's resolution is a tick: at most 10 ms at HZ=100.
        for _ in 0..1_000 {
            assert!(certainly_before(Instant::now() + Duration::from_secs(1)));
        }
    }
}
