//! The run loop's clock: busy and idle time, the loop-delay samples, and
//! which polls were slow, read at as few points as it can.
//!
//! # When the clock is read
//!
//! - **At each batch boundary** (every turn of the parker: at most every
//!   64 polls, and before every sleep), once, with `Instant::now()`; and
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
/// one poll.
const STICKY: Duration = Duration::from_secs(10);

/// The average poll length from which every poll is timed: the coarse
/// clock's read (a few ns) is then under 1 % of a poll.
const TIMED_POLL: Duration = Duration::from_micros(1);

/// The timing state of one `block_on`.
pub(crate) struct Watch {
    /// Polls longer than this are slow; `None`: not watched.
    threshold: Option<Duration>,
    /// When this batch began (after the last turn or sleep).
    start: Instant,
    /// Whether this batch times each poll.
    timed: bool,
    /// The coarse time when the last poll ended (when `timed`).
    last: Duration,
    /// Polls in this batch.
    polls: usize,
    /// Where the polls of this batch were spawned (when not `timed`).
    sites: [Site; FAIRNESS_BATCH],
    /// Each poll is timed until then.
    sticky_until: Option<Instant>,
}

impl Watch {
    /// Starts the first batch, timed poll by poll.
    pub(crate) fn new() -> Watch {
        let threshold = slow::threshold();
        Watch {
            threshold,
            start: Instant::now(),
            timed: threshold.is_some(),
            last: coarse(),
            polls: 0,
            sites: [None; FAIRNESS_BATCH],
            sticky_until: None,
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
        self.polls += 1;
        if self.threshold.is_some_and(|t| took >= t) {
            self.slow(took, 1, &[site], counters);
        }
    }

    /// After a poll of a task spawned at `site`, in a batch timed as a
    /// whole.
    #[inline]
    pub(crate) fn untimed_poll(&mut self, site: Site) {
        self.sites[self.polls % FAIRNESS_BATCH] = site;
        self.polls += 1;
    }

    /// After a poll of the future passed to `block_on`.
    pub(crate) fn main_poll(&mut self, counters: &Counters) {
        if self.timed {
            self.timed_poll(None, counters);
        } else {
            self.untimed_poll(None);
        }
    }

    /// Ends the batch (the parker's turn is next, or `block_on` returns):
    /// counts its polls and busy time, records its length as a delay
    /// sample, reports it if it was slow and not timed poll by poll, and
    /// decides how the next batch is timed. Returns the time read.
    pub(crate) fn end_batch(&mut self, counters: &Counters) -> Instant {
        let now = Instant::now();
        let took = now.saturating_duration_since(self.start);
        counters.add_busy(took, self.polls);
        if self.polls > 0 {
            bureau_coop::record_delay(took);
            let slow = self.threshold.is_some_and(|t| took >= t);
            if slow && !self.timed {
                let mut sites = [None; FAIRNESS_BATCH];
                let mut distinct = 0;
                for site in &self.sites[..self.polls.min(FAIRNESS_BATCH)] {
                    if !sites[..distinct].contains(site) {
                        sites[distinct] = *site;
                        distinct += 1;
                    }
                }
                let polls = self.polls;
                self.slow(took, polls, &sites[..distinct], counters);
                self.sticky_until = now.checked_add(STICKY);
            }
            let heavy = took >= TIMED_POLL.saturating_mul(self.polls as u32);
            let sticky = self.sticky_until.is_some_and(|until| now < until);
            self.timed = self.threshold.is_some() && (heavy || sticky);
        }
        self.begin(now);
        now
    }

    /// After a sleep that began at `from` (the time [`Watch::end_batch`]
    /// returned): counts it as idle time and starts the next batch.
    pub(crate) fn slept(&mut self, from: Instant, counters: &Counters) {
        let now = Instant::now();
        counters.add_idle(now.saturating_duration_since(from));
        self.begin(now);
    }

    fn begin(&mut self, now: Instant) {
        self.start = now;
        self.polls = 0;
        if self.timed {
            self.last = coarse();
        }
    }

    /// Counts and reports a slow poll (or batch).
    #[cold]
    fn slow(&mut self, took: Duration, polls: usize, sites: &[Site], counters: &Counters) {
        counters.slow_poll();
        let report = SlowPoll {
            duration: took,
            polls,
            sites,
        };
        slow::report(&report, Instant::now());
    }
}

/// The coarse monotonic clock (the fine clock as of its last tick).
#[inline]
fn coarse() -> Duration {
    let t = clock_gettime(ClockId::MonotonicCoarse);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}
