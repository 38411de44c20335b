//! The timer-firing protocol: which timers the reactor's turn fires, how it
//! learns of a timer set while it waits, and how a timer learns, without a
//! lock, that it was fired. The data structure is `timer_queue.rs`, the
//! `Timer` future `timer.rs`, the coarse clock `clock.rs`; the reactor's
//! turn calls [`Timers::before_wait`] and [`Timers::after_wait`].
//!
//! # Ground rules
//!
//! Every function here keeps these, so their own comments need not repeat
//! them:
//!
//! 1. **One lock.** The queue and `waiting` change only under
//!    `Timers::pending`. Wakers are never woken under it, and a waker the
//!    queue hands back (a cancelled timer's, the spare) is dropped after it
//!    is let go: a waker's drop or wake may run arbitrary code, which could
//!    come back here.
//! 2. **Never early.** A timer leaves the queue as fired only when the
//!    turn's own `Instant::now()` has reached its deadline.
//! 3. **No lost deadline.** While the driver waits (or is about to), the
//!    deadline it waits for is in `waiting`, set under the lock in the same
//!    hold that read the queue's next deadline. An insert earlier than it
//!    interrupts the wait (and lowers `waiting`, so a second one does not
//!    interrupt again); an insert after the hold is seen by the next turn.
//! 4. **`expired_through` only grows, and is true.** Every timer due at or
//!    before `base + expired_through` is out of the queue: the turn raises
//!    it, under the lock, only after it took those timers out. So a timer
//!    whose deadline is at or before it knows, with one atomic load, that
//!    it was fired and that cancelling it has nothing to remove.
//! 5. **A timer's owner holds a copy of its waker** (`theirs`) from insert
//!    to cancel, and gives it back on cancel, so the queue can keep both
//!    copies as a spare instead of cloning on the next insert.
//!
//! Each turn that fires timers records, in the driving thread's loop-delay
//! histogram (`bureau_coop::record_delay`), how late the most overdue of
//! them was: `now - deadline` at the turn.
//!
//! It must never wake a waker itself: the turn wakes what it collects,
//! after the wait and outside the lock, timers first (as urgent wakes).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::sync::lock;
use crate::timer_queue::{TimerId, TimerQueue};

/// The reactor's pending timers and what the driver waits for.
pub(crate) struct Timers {
    pending: Mutex<Pending>,
    /// When the timers were created: the origin of `expired_through`.
    base: Instant,
    /// Nanoseconds after `base` through which every due timer has been
    /// taken out of the queue (rule 4).
    expired_through: AtomicU64,
}

/// What the lock guards.
#[derive(Default)]
struct Pending {
    queue: TimerQueue,
    /// `Some(deadline)` while the driver waits, or is about to, for at most
    /// `deadline` (`None`: no limit); `None` outside a wait (rule 3).
    waiting: Option<Option<Instant>>,
    /// Timers neither fired nor cancelled.
    len: usize,
}

impl Timers {
    /// No timers.
    pub(crate) fn new() -> Timers {
        Timers {
            pending: Mutex::new(Pending::default()),
            base: Instant::now(),
            expired_through: AtomicU64::new(0),
        }
    }

    /// Adds a timer; returns its id and the timer's own copy of `waker`.
    /// Calls `interrupt` (the reactor's notify) if the driver waits for a
    /// later deadline than `when`.
    pub(crate) fn insert(
        &self,
        when: Instant,
        waker: &Waker,
        interrupt: impl FnOnce(),
    ) -> (TimerId, Waker) {
        let mut p = lock(&self.pending);
        let (id, theirs) = p.queue.insert(when, waker);
        p.len += 1;
        let earlier = match p.waiting {
            Some(until) => until.is_none_or(|until| when < until),
            None => false,
        };
        if earlier {
            p.waiting = Some(Some(when));
            drop(p);
            interrupt();
        }
        (id, theirs)
    }

    /// Replaces the waker of a pending timer. Returns `false` if the timer
    /// has fired (or was cancelled) already: then its old waker was woken,
    /// not `waker`.
    pub(crate) fn update(&self, id: TimerId, waker: &Waker) -> bool {
        let old = lock(&self.pending).queue.update(id, waker);
        old.is_some()
    }

    /// Moves a timer to a new deadline and keeps its waker: cancels `id` (it
    /// may already have fired) and inserts the timer again for `when`, as
    /// [`Timers::insert`] does.
    pub(crate) fn reinsert(
        &self,
        id: TimerId,
        theirs: Waker,
        when: Instant,
        interrupt: impl FnOnce(),
    ) -> (TimerId, Waker) {
        // Cancelled first, so both copies become the queue's spare and the
        // insert takes them back instead of cloning the waker twice.
        let waker = theirs.clone();
        self.remove(id, theirs);
        self.insert(when, &waker, interrupt)
    }

    /// Cancels a timer (it may already have fired), given back the timer's
    /// copy of its waker.
    pub(crate) fn remove(&self, id: TimerId, theirs: Waker) {
        let mut p = lock(&self.pending);
        let wakers = p.queue.cancel(id, theirs);
        // The timer's own copy alone comes back when it was not pending.
        if !matches!(wakers, [Some(_), None]) {
            p.len -= 1;
        }
        drop(p);
        drop(wakers);
    }

    /// How many timers are pending (neither fired nor cancelled).
    pub(crate) fn len(&self) -> usize {
        lock(&self.pending).len
    }

    /// Whether a timer registered for `when` was surely taken out of the
    /// queue already (by the turn that woke it), so cancelling it needs no
    /// lock. `false` means "maybe not": then cancel it.
    ///
    /// (A timer inserted just after a turn passed its deadline is due at
    /// once; if it is cancelled by this test while still queued, the next
    /// turn removes it and wakes its waker once, spuriously.)
    pub(crate) fn expired(&self, when: Instant) -> bool {
        when.checked_duration_since(self.base)
            .is_some_and(|d| nanos(d) <= self.expired_through.load(Ordering::Acquire))
    }

    /// The turn's first step, before its wait, at `now`: moves the wakers
    /// of the due timers into `out`, records that the driver is about to
    /// wait, and returns until when it may: `deadline` (`None`: no limit),
    /// shortened to the next timer's deadline, and to `now` if a timer was
    /// due. Also drops the queue's spare waker, so at most one outlives its
    /// timer, and only until this turn.
    pub(crate) fn before_wait(
        &self,
        now: Instant,
        mut deadline: Option<Instant>,
        out: &mut Vec<Waker>,
    ) -> Option<Instant> {
        let spare;
        {
            let mut p = lock(&self.pending);
            spare = p.queue.take_spare();
            self.take_expired(&mut p, now, out);
            if !out.is_empty() {
                deadline = Some(now);
            }
            if let Some(next) = p.queue.next_deadline() {
                deadline = Some(deadline.map_or(next, |d| d.min(next)));
            }
            p.waiting = Some(deadline);
        }
        drop(spare);
        deadline
    }

    /// The turn's step after its wait, at `now`: no wait to interrupt any
    /// more; moves the wakers of the timers due by now into `out`.
    pub(crate) fn after_wait(&self, now: Instant, out: &mut Vec<Waker>) {
        let mut p = lock(&self.pending);
        p.waiting = None;
        self.take_expired(&mut p, now, out);
    }

    /// Moves the wakers of every timer due at `now` into `out`, raises
    /// `expired_through` to `now` (rule 4), and records how late the
    /// earliest of them is.
    fn take_expired(&self, p: &mut Pending, now: Instant, out: &mut Vec<Waker>) {
        let Some(earliest) = p.queue.next_deadline().filter(|&d| d <= now) else {
            return;
        };
        let before = out.len();
        // Only a timer this took out will ask `expired`, so a turn that took
        // none (the usual I/O turn) has nothing to record.
        if p.queue.take_expired(now, out) {
            let through = nanos(now.saturating_duration_since(self.base));
            self.expired_through.fetch_max(through, Ordering::Release);
            p.len -= out.len() - before;
            bureau_coop::record_delay(now.saturating_duration_since(earliest));
        }
    }
}

/// A duration in nanoseconds, saturating (u64 holds 584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reactor::Reactor;
    use std::sync::Arc;

    #[test]
    fn a_turn_records_that_it_took_a_timer_out() {
        let r = Reactor::try_get().unwrap();
        let when = Instant::now() + Duration::from_millis(2);
        let (id, _) = r.timers.insert(when, Waker::noop(), || r.notify());
        assert!(!r.timers.expired(when));
        let start = Instant::now();
        while !r.timers.expired(when) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no turn fired it"
            );
            if let Some(mut d) = r.try_drive() {
                r.turn(&mut d, Some(Duration::from_millis(10)), || {});
            }
        }
        assert!(
            !lock(&r.timers.pending).queue.is_pending(id),
            "still queued"
        );
        assert!(r.timers.expired(when - Duration::from_millis(1)));
    }

    #[test]
    fn a_cancelled_timers_waker_is_dropped_by_the_next_turn() {
        struct Count;
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {}
        }
        let r = Reactor::try_get().unwrap();
        let count = Arc::new(Count);
        let waker = Waker::from(count.clone());
        let when = Instant::now() + Duration::from_secs(60);
        let (id, theirs) = r.timers.insert(when, &waker, || r.notify());
        r.timers.remove(id, theirs);
        drop(waker);
        let start = Instant::now();
        loop {
            assert!(start.elapsed() < Duration::from_secs(10), "no turn");
            if let Some(mut d) = r.try_drive() {
                r.turn(&mut d, Some(Duration::ZERO), || {});
                break;
            }
            // Another test's thread drives, perhaps waiting for a timer of
            // its own: end its wait, so that its next turn, which takes the
            // spare as ours would, begins.
            if Arc::strong_count(&count) == 1 {
                break;
            }
            r.notify();
            std::thread::yield_now();
        }
        assert_eq!(Arc::strong_count(&count), 1, "a copy of the waker is kept");
    }
}
