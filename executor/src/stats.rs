//! [`Stats`]: what an executor tells of its loop, and the counters behind
//! it.
//!
//! The counters live in the executor, on its thread, as plain cells: the
//! loop adds to them once per batch (polls, busy time), once per sleep
//! (idle time) and once per slow poll, never once per poll. Tasks are
//! counted by `active.rs`, which sees every spawn. This file must never read a clock: `watch.rs` does.

use bureau_coop::Delay;
use std::cell::Cell;
use std::fmt;
use std::time::Duration;

/// A snapshot of an executor's loop (see [`LocalExecutor::stats`]).
///
/// `busy` and `idle` are counted by [`LocalExecutor::block_on`] only, and
/// `delay` is this thread's: it also holds the lateness of the timers that
/// this thread's turns of a reactor fired.
///
/// [`LocalExecutor::stats`]: crate::LocalExecutor::stats
/// [`LocalExecutor::block_on`]: crate::LocalExecutor::block_on
///
/// # Examples
///
/// ```
/// use bureau_executor::{LocalExecutor, ThreadParker};
///
/// let ex = LocalExecutor::new();
/// let task = ex.spawn(async { 1 });
/// ex.block_on(&mut ThreadParker::new(), task);
/// let stats = ex.stats();
/// assert_eq!((stats.tasks_spawned, stats.tasks_alive), (1, 0));
/// println!("{stats:?}");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Stats {
    /// Tasks spawned and not yet finished (or cancelled).
    pub tasks_alive: usize,
    /// Tasks spawned since the executor was created.
    pub tasks_spawned: u64,
    /// Polls of tasks, and of the futures passed to `block_on`.
    pub polls: u64,
    /// Tasks ready to run now, waiting in the run queue.
    pub queued: usize,
    /// Time the loop spent running tasks (and its non-blocking turns).
    pub busy: Duration,
    /// Time the loop spent asleep in its parker (in the kernel).
    pub idle: Duration,
    /// Polls that held the loop longer than the slow-poll threshold,
    /// reported or not.
    pub slow_polls: u64,
    /// How late the loop came back to work that was ready (see
    /// [`Delay`]).
    pub delay: Delay,
}

impl Stats {
    /// The share of the time the loop was busy, from 0 to 1, as Node's
    /// `eventLoopUtilization()`: `busy / (busy + idle)`; zero before the
    /// loop has run.
    ///
    /// # Examples
    ///
    /// ```
    /// let ex = bureau_executor::LocalExecutor::new();
    /// assert_eq!(ex.stats().utilization(), 0.0);
    /// ```
    pub fn utilization(&self) -> f64 {
        let total = (self.busy + self.idle).as_secs_f64();
        if total == 0.0 {
            0.0
        } else {
            self.busy.as_secs_f64() / total
        }
    }
}

impl fmt::Debug for Stats {
    /// One block, a line per concern.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tasks: {} alive, {} spawned, {} queued; {} polls, {} slow",
            self.tasks_alive, self.tasks_spawned, self.queued, self.polls, self.slow_polls
        )?;
        writeln!(
            f,
            "time:  busy {:.1?}, idle {:.1?} ({:.1} % busy)",
            self.busy,
            self.idle,
            self.utilization() * 100.0
        )?;
        write!(f, "delay: {:?}", self.delay)
    }
}

/// The counters of one executor.
#[derive(Default)]
pub(crate) struct Counters {
    polls: Cell<u64>,
    /// Nanoseconds.
    busy: Cell<u64>,
    /// Nanoseconds.
    idle: Cell<u64>,
    slow_polls: Cell<u64>,
}

impl Counters {
    pub(crate) fn add_polls(&self, polls: usize) {
        self.polls.set(self.polls.get() + polls as u64);
    }

    /// Adds a batch: `busy` ns, `polls` polls.
    pub(crate) fn add_busy(&self, busy: u64, polls: usize) {
        self.busy.set(self.busy.get().saturating_add(busy));
        self.add_polls(polls);
    }

    /// Adds a sleep of `idle` ns.
    pub(crate) fn add_idle(&self, idle: u64) {
        self.idle.set(self.idle.get().saturating_add(idle));
    }

    pub(crate) fn slow_poll(&self) {
        self.slow_polls.set(self.slow_polls.get() + 1);
    }

    /// The snapshot, given what the executor knows of its tasks.
    pub(crate) fn snapshot(&self, tasks_alive: usize, tasks_spawned: u64, queued: usize) -> Stats {
        Stats {
            tasks_alive,
            tasks_spawned,
            polls: self.polls.get(),
            queued,
            busy: Duration::from_nanos(self.busy.get()),
            idle: Duration::from_nanos(self.idle.get()),
            slow_polls: self.slow_polls.get(),
            delay: bureau_coop::loop_delay(),
        }
    }
}
