//! [`stats`]: one snapshot of this thread's loop, assembled from the
//! counters each crate keeps of its own (the executor's tasks, polls, time
//! and loop delay; the reactor's turns and timers; the pool's threads and
//! jobs). This file must never count anything itself.

use std::fmt;
use std::time::Duration;

pub use bureau_blocking::Stats as PoolStats;
pub use bureau_executor::{Delay, SlowPoll, on_slow_poll};
pub use bureau_reactor::Stats as ReactorStats;

/// A snapshot of this thread's loop, from [`stats`].
///
/// Its `Debug` form is a block of a few lines, for a person; its fields are
/// for a program (a `/stats` endpoint, a metrics exporter). The loop adds a
/// batch's polls and time when the batch ends (every 64 polls at most, and
/// before it sleeps), so a snapshot taken inside a task lags by at most one
/// batch.
///
/// # Examples
///
/// ```
/// let stats = bureau::block_on(async {
///     bureau::spawn(async {}).await;
///     bureau::stats()
/// });
/// assert!(stats.tasks_spawned >= 1);
/// println!("{stats:?}");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Stats {
    /// Tasks spawned on this thread and not yet finished (or cancelled).
    pub tasks_alive: usize,
    /// Tasks spawned on this thread.
    pub tasks_spawned: u64,
    /// Polls of tasks, and of the futures passed to [`block_on`].
    ///
    /// [`block_on`]: crate::block_on
    pub polls: u64,
    /// Tasks ready to run now.
    pub queued: usize,
    /// Time the loop spent running tasks.
    pub busy: Duration,
    /// Time the loop spent asleep in the kernel.
    pub idle: Duration,
    /// Polls that held the loop longer than the slow-poll threshold
    /// (`BUREAU_SLOW_POLL_MS`), reported or not.
    pub slow_polls: u64,
    /// How late the loop came back to work that was ready.
    pub delay: Delay,
    /// The reactor's counters (process-wide: every thread shares it).
    pub reactor: ReactorStats,
    /// The blocking pool's (process-wide too).
    pub pool: PoolStats,
}

impl Stats {
    /// The share of the time the loop was busy, from 0 to 1, as Node's
    /// `performance.eventLoopUtilization()`: `busy / (busy + idle)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let u = bureau::block_on(async { bureau::stats().utilization() });
    /// assert!((0.0..=1.0).contains(&u));
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.reactor;
        let p = &self.pool;
        writeln!(
            f,
            "tasks:   {} alive, {} spawned, {} queued; {} polls, {} slow",
            self.tasks_alive, self.tasks_spawned, self.queued, self.polls, self.slow_polls
        )?;
        writeln!(
            f,
            "time:    busy {:.1?}, idle {:.1?} ({:.1} % busy)",
            self.busy,
            self.idle,
            self.utilization() * 100.0
        )?;
        writeln!(f, "delay:   {:?}", self.delay)?;
        writeln!(
            f,
            "reactor: {} turns, {} I/O wakes, {} timers fired, {} pending, {} remote wakes",
            r.turns, r.events, r.timers_fired, r.timers_pending, r.notifies
        )?;
        write!(
            f,
            "pool:    {} threads ({} idle), {} jobs queued, {} run",
            p.threads, p.idle, p.queued, p.ran
        )
    }
}

/// A snapshot of this thread's loop: its tasks, polls, busy and idle time,
/// slow polls and delay histogram, with the reactor's and the pool's
/// counters. Cheap (no allocation); all zero on a thread that never ran
/// [`block_on`](crate::block_on), and kept after it returns.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let stats = bureau::block_on(async {
///     bureau::Timer::after(Duration::from_millis(5)).await;
///     bureau::stats()
/// });
/// assert!(stats.idle > Duration::ZERO);
/// assert!(stats.delay.count() >= 1);
/// ```
pub fn stats() -> Stats {
    let loop_ = crate::runtime::executor_stats();
    Stats {
        tasks_alive: loop_.tasks_alive,
        tasks_spawned: loop_.tasks_spawned,
        polls: loop_.polls,
        queued: loop_.queued,
        busy: loop_.busy,
        idle: loop_.idle,
        slow_polls: loop_.slow_polls,
        delay: loop_.delay,
        reactor: bureau_reactor::stats(),
        pool: bureau_blocking::stats(),
    }
}
