//! The run loop's clock: busy and idle time, the loop-delay samples, and
//! which polls were slow, read at as few points as it can.
//!
//! # When the clock is read
//!
//! - **At each batch boundary** (every turn of the parker: at most every
//!   64 polls, and before every sleep), once, with the fine clock; and
//!   once more when a sleep ends. The batch's length is busy time and one
//!   delay sample (the work that became ready during it waited that long
//!   for the loop to look); the sleep's length is idle time.
//! - **After each poll**, with the coarse clock (a plain load from the
//!   vDSO, resolution a few ms), only while polls are long enough for the
//!   read not to show: when the last batch's polls took 1 µs or more on
//!   average (a service's polls make system calls), in the first batch of
//!   a `block_on`, and for 10 s after a stall that a batch could not pin
//!   on one poll. Shorter polls (a microbenchmark's) are timed as a batch:
//!   a slow batch of one poll is named exactly, a slow batch of several
//!   names the spawn sites of all its polls (kept in a fixed array, one
//!   store per poll), and turns on per-poll timing, so the next stall is
//!   named exactly.
//!
//! It must never read the clock twice where once will do, allocate, or
//! print: a report goes through `slow.rs`.

use crate::queue::FAIRNESS_BATCH;
use crate::slow::{self, Site, SlowPoll};
use crate::stats::Counters;
use rustix::time::{ClockId, clock_gettime};
use std::time::{Duration, Instant};

/// How long the loop times poll by poll after a stall it could not pin on
/// one poll, in nanoseconds (10 s).
const STICKY: u64 = 10_000_000_000;

/// The average poll length, in nanoseconds, from which every poll is
/// timed (1 µs): the coarse clock's read (a few ns) is then under 1 % of a
/// poll.
const TIMED_POLL: u64 = 1_000;

/// The timing state of one `block_on`. Times are nanoseconds of the
/// monotonic clock, in plain integers: `Instant`'s and `Duration`'s
/// arithmetic costs more than the clock's read.
pub(crate) struct Watch {
    /// Polls that take this long or longer are slow; `u64::MAX`: not
    /// watched.
    threshold: u64,
    /// When this batch began (after the last turn or sleep).
    start: u64,
    /// Whether this batch times each poll.
    timed: bool,
    /// The coarse time when the last poll ended (when `timed`).
    last: u64,
    /// Where the polls of this batch were spawned (when not `timed`), by
    /// their place in the batch.
    sites: [Site; FAIRNESS_BATCH],
    /// Each poll is timed until then (0: not after a stall).
    sticky_until: u64,
}

impl Watch {
    /// Starts the first batch, timed poll by poll.
    pub(crate) fn new() -> Watch {
        let threshold = slow::threshold();
        Watch {
            threshold: threshold.map_or(u64::MAX, nanos),
            start: fine(),
            timed: threshold.is_some(),
            last: coarse(),
            sites: [None; FAIRNESS_BATCH],
            sticky_until: 0,
        }
    }

    /// Whether this batch times each poll.
    #[inline]
    pub(crate) fn timed(&self) -> bool {
        self.timed
    }

    /// After a poll of a task spawned at `site`, in a timed batch.
    #[inline]
    pub(crate) fn timed_poll(&mut self, site: Site, counters: &Counters) {
        let now = coarse();
        let took = now.saturating_sub(self.last);
        self.last = now;
        if took >= self.threshold {
            self.slow(took, 1, &[site], counters);
        }
    }

    /// After the poll at place `poll` in the batch, of a task spawned at
    /// `site`, in a batch timed as a whole.
    #[inline]
    pub(crate) fn untimed_poll(&mut self, poll: usize, site: Site) {
        self.sites[poll % FAIRNESS_BATCH] = site;
    }

    /// After a poll of the future passed to `block_on`, at place `poll`
    /// in the batch.
    pub(crate) fn main_poll(&mut self, poll: usize, counters: &Counters) {
        if self.timed {
            self.timed_poll(None, counters);
        } else {
            self.untimed_poll(poll, None);
        }
    }

    /// Ends the batch of `polls` polls (the parker's turn is next, or
    /// `block_on` returns): counts its polls and busy time, records its
    /// length as a delay sample, reports it if it was slow and not timed
    /// poll by poll, and decides how the next batch is timed. Returns the
    /// time read.
    pub(crate) fn end_batch(&mut self, polls: usize, counters: &Counters) -> u64 {
        let now = fine();
        let took = now.saturating_sub(self.start);
        counters.add_busy(took, polls);
        if polls > 0 {
            bureau_coop::record_delay(Duration::from_nanos(took));
            if took >= self.threshold && !self.timed {
                self.slow_batch(now, took, polls, counters);
            }
            let heavy = took >= TIMED_POLL * polls as u64;
            self.timed = self.threshold != u64::MAX && (heavy || now < self.sticky_until);
        }
        self.begin(now);
        now
    }

    /// After a sleep that began at `from` (the time [`Watch::end_batch`]
    /// returned): counts it as idle time and starts the next batch.
    pub(crate) fn slept(&mut self, from: u64, counters: &Counters) {
        let now = fine();
        counters.add_idle(now.saturating_sub(from));
        self.begin(now);
    }

    fn begin(&mut self, now: u64) {
        self.start = now;
        if self.timed {
            self.last = coarse();
        }
    }

    /// Reports a slow batch of several polls by all their spawn sites, and
    /// times each poll for the next [`STICKY`] ns.
    #[cold]
    fn slow_batch(&mut self, now: u64, took: u64, polls: usize, counters: &Counters) {
        let mut sites = [None; FAIRNESS_BATCH];
        let mut distinct = 0;
        for site in &self.sites[..polls.min(FAIRNESS_BATCH)] {
            if !sites[..distinct].contains(site) {
                sites[distinct] = *site;
                distinct += 1;
            }
        }
        self.slow(took, polls, &sites[..distinct], counters);
        self.sticky_until = now.saturating_add(STICKY);
    }

    /// Counts and reports a slow poll (or batch) that took `took` ns.
    #[cold]
    fn slow(&mut self, took: u64, polls: usize, sites: &[Site], counters: &Counters) {
        counters.slow_poll();
        let report = SlowPoll {
            duration: Duration::from_nanos(took),
            polls,
            sites,
        };
        slow::report(&report, Instant::now());
    }
}

/// The monotonic clock (`Instant`'s), in nanoseconds.
#[inline]
fn fine() -> u64 {
    nanos_of(clock_gettime(ClockId::Monotonic))
}

/// The coarse monotonic clock (the fine clock as of its last tick), in
/// nanoseconds.
#[inline]
fn coarse() -> u64 {
    nanos_of(clock_gettime(ClockId::MonotonicCoarse))
}

#[inline]
fn nanos_of(t: rustix::time::Timespec) -> u64 {
    (t.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(t.tv_nsec as u64)
}

/// A duration in nanoseconds, saturating.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::Location;

    /// A watch of a batch timed as a whole, slow above 50 ms.
    fn untimed() -> Watch {
        let mut watch = Watch::new();
        watch.threshold = nanos(Duration::from_millis(50));
        watch.timed = false;
        watch
    }

    #[test]
    fn a_slow_batch_of_short_polls_is_counted_once_and_turns_on_per_poll_timing() {
        let counters = Counters::default();
        let mut watch = untimed();
        let (a, b) = (Location::caller(), Location::caller());
        for (poll, site) in [a, b, a].into_iter().enumerate() {
            watch.untimed_poll(poll, Some(site));
        }
        // As if the three polls had taken 80 ms in all.
        watch.start = fine() - 80_000_000;
        watch.end_batch(3, &counters);
        let stats = counters.snapshot(0, 0, 0);
        assert_eq!((stats.slow_polls, stats.polls), (1, 3));
        assert!(stats.busy >= Duration::from_millis(80));
        assert!(watch.timed(), "the next batch is timed poll by poll");
    }

    #[test]
    fn a_quick_batch_of_short_polls_stays_timed_as_a_whole() {
        let counters = Counters::default();
        let mut watch = untimed();
        let start = fine();
        watch.start = start;
        let ended = watch.end_batch(FAIRNESS_BATCH, &counters);
        // Timed poll by poll only if the 64 polls averaged 1 µs or more
        // (here: only if the test's thread was preempted).
        let heavy = ended - start >= FAIRNESS_BATCH as u64 * TIMED_POLL;
        assert_eq!(watch.timed(), heavy);
        assert_eq!(counters.snapshot(0, 0, 0).slow_polls, 0);
    }
}
