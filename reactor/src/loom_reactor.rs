//! Under `--cfg loom` only: a stand-in for the process-wide reactor, with
//! just what `parker.rs` uses of it (`try_get`, `existing`, `try_drive`,
//! `turn`, `notify`), built on loom's primitives so that the loom models run
//! the real parker against it, and what `timer.rs` uses under loom (a
//! virtual clock and its timers), so that a user's code on bureau runs
//! inside `loom::model`. Its poller has `polling::Poller`'s wait and notify
//! semantics: a notify sent before a wait makes that wait return at once,
//! and a wait with no timeout and nothing to report blocks until a notify,
//! a readiness event or, if a timer is pending, time's jump to it.
//!
//! The virtual clock: time stands still until the driver would wait with a
//! timer pending. It then lets every other thread run first (a loom yield),
//! and only if nothing woke it does time jump to the earliest deadline and
//! those timers fire. So "the other thread woke the loop first" and "the
//! deadline came first" are two interleavings loom explores.
//!
//! In a user's model (`bureau_coop::opaque`), its bookkeeping is bureau's
//! single step; explored are its waits, the yield before a jump, the
//! driver's look after it, a notify while that look is pending, and the
//! wakers it wakes.
//!
//! It must never be compiled into a normal build, and never model more than
//! the parker and the timers need: sockets are a list of wakers that the
//! "kernel" ([`io_ready`]) hands to whichever thread drives, and the timers'
//! own entries use std's lock (they are the stand-in's bookkeeping, not a
//! protocol under test).

use std::io;
use std::task::Waker;
use std::time::{Duration, Instant};

use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool as StdBool, AtomicU64};

use bureau_coop::opaque::external;

use crate::sync::{AtomicBool, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering, lock_modelled};

/// The stand-in reactor.
pub(crate) struct Reactor {
    /// The driver lock: set by the thread that drives. A flag with std's
    /// futex mutex's orderings (`try_lock` is an `Acquire` compare-exchange,
    /// unlock a `Release` swap) rather than a loom `Mutex`, whose `try_lock`
    /// in loom 0.7 can block: a thread preempted inside `try_lock` is marked
    /// blocked when another thread takes the lock, which would make loom
    /// report deadlocks the real `try_lock` cannot have.
    driving: AtomicBool,
    /// The driver's buffers; locked only by the thread that set `driving`,
    /// so never contended.
    driver: Mutex<Driver>,
    /// The stand-in for the kernel side of `polling::Poller`.
    poller: Mutex<Poller>,
    /// Signalled when the poller gets a notify or an event.
    wakeup: Condvar,
    /// Set while the driver has let every other thread run before time
    /// jumps: a notify then decides between "the wake came first" and "the
    /// deadline did". std's atomic: the stand-in's bookkeeping.
    jump_pending: StdBool,
    /// Calls to [`Reactor::notify`] (the parker's `Poller::notify`s).
    notifies: AtomicUsize,
    /// The virtual clock's origin: the real time the execution's reactor
    /// was created.
    base: Instant,
    /// Virtual nanoseconds after `base`; only the driver moves it, under
    /// the poller's lock. std's atomic: reading the clock is no event loom
    /// needs to interleave.
    elapsed: AtomicU64,
}

/// What the driver reuses from turn to turn.
pub(crate) struct Driver {
    /// The wakers a turn collects (empty between turns).
    wakers: Vec<Waker>,
}

/// The driver role, held: what `Reactor::try_drive` returns.
pub(crate) struct DriverGuard<'a> {
    /// `Some` until dropped.
    driver: Option<MutexGuard<'a, Driver>>,
    driving: &'a AtomicBool,
}

impl Deref for DriverGuard<'_> {
    type Target = Driver;

    fn deref(&self) -> &Driver {
        self.driver.as_ref().unwrap()
    }
}

impl DerefMut for DriverGuard<'_> {
    fn deref_mut(&mut self) -> &mut Driver {
        self.driver.as_mut().unwrap()
    }
}

impl Drop for DriverGuard<'_> {
    fn drop(&mut self) {
        // The buffers first, then the role.
        self.driver = None;
        self.driving.swap(false, Ordering::Release);
    }
}

/// The poller's pending state.
struct Poller {
    /// A `notify` that no wait has consumed yet.
    notified: bool,
    /// Readiness events no wait has reported yet.
    events: Vec<Waker>,
    /// Timers registered and not yet fired or seen cancelled, in no order.
    timers: Vec<VirtualTimer>,
    /// Whether the driver blocks on `wakeup` (so a new timer must wake it).
    waiting: bool,
}

/// A timer registered on the virtual clock: what `Timer` holds under loom.
#[derive(Debug, Clone)]
pub(crate) struct VirtualTimer(std::sync::Arc<Entry>);

/// A virtual timer's deadline and waker.
#[derive(Debug)]
struct Entry {
    when: Instant,
    slot: std::sync::Mutex<Slot>,
}

/// Where a virtual timer stands.
#[derive(Debug)]
enum Slot {
    /// Pending: the driver wakes this waker when time reaches `when`.
    Waiting(Waker),
    /// Taken out by the driver, its waker woken.
    Fired,
    /// Dropped or moved by its owner; the driver drops it at its next turn.
    Cancelled,
}

loom::lazy_static! {
    /// One per loom execution (loom resets its lazy statics between them).
    static ref REACTOR: Reactor = Reactor {
        driving: AtomicBool::new(false),
        driver: Mutex::new(Driver { wakers: Vec::new() }),
        poller: Mutex::new(Poller {
            notified: false,
            events: Vec::new(),
            timers: Vec::new(),
            waiting: false,
        }),
        wakeup: Condvar::new(),
        jump_pending: StdBool::new(false),
        notifies: AtomicUsize::new(0),
        base: Instant::now(),
        elapsed: AtomicU64::new(0),
    };
}

impl Reactor {
    /// The reactor; the stand-in never fails to create its poller.
    pub(crate) fn try_get() -> io::Result<&'static Reactor> {
        Ok(&REACTOR)
    }

    /// The reactor (it always exists under loom).
    pub(crate) fn existing() -> Option<&'static Reactor> {
        Some(&REACTOR)
    }

    /// `Poller::notify`: the current wait returns, or the next one does not
    /// block.
    pub(crate) fn notify(&self) {
        self.notifies.fetch_add(1, Ordering::Relaxed);
        // Explored in a user's model while time is about to jump: against
        // the driver's look, this is "the wake came first" or "the deadline
        // did". Otherwise bureau's own step.
        if self.jump_pending.load(Relaxed) {
            external(|| lock_modelled(&self.poller).notified = true);
        } else {
            lock_modelled(&self.poller).notified = true;
        }
        self.wakeup.notify_all();
    }

    /// Tries to become the driver.
    pub(crate) fn try_drive(&self) -> Option<DriverGuard<'_>> {
        self.driving
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        Some(DriverGuard {
            driver: Some(lock_modelled(&self.driver)),
            driving: &self.driving,
        })
    }

    /// One turn, by the driver: waits in the poller (`None`: until a notify,
    /// an event or the virtual clock's jump to a pending timer; `Some(_)`:
    /// not at all, as a timed wait may always time out before time moves),
    /// consumes the notify and takes the events and the due timers, runs
    /// `after_wait`, then wakes the timers' wakers, then the events'.
    pub(crate) fn turn(
        &self,
        driver: &mut Driver,
        timeout: Option<Duration>,
        after_wait: impl FnOnce(),
    ) {
        {
            let mut p = lock_modelled(&self.poller);
            p.timers.retain(|t| !t.cancelled());
            while timeout.is_none() && !p.notified && p.events.is_empty() && !self.any_due(&p) {
                let Some(next) = p.timers.iter().map(|t| t.0.when).min() else {
                    p.waiting = true;
                    p = external(|| self.wakeup.wait(p)).unwrap();
                    p.waiting = false;
                    p.timers.retain(|t| !t.cancelled());
                    continue;
                };
                // Every other thread may run before time moves on.
                drop(p);
                // Explored in a user's model (see `notify`).
                self.jump_pending.store(true, Relaxed);
                p = external(|| {
                    loom::thread::yield_now();
                    lock_modelled(&self.poller)
                });
                self.jump_pending.store(false, Relaxed);
                p.timers.retain(|t| !t.cancelled());
                if !p.notified && p.events.is_empty() && p.timers.iter().any(|t| t.0.when == next) {
                    self.advance_to(next);
                }
            }
            p.notified = false;
            let now = self.now();
            p.timers.retain(|t| !t.fire_if_due(now, &mut driver.wakers));
            driver.wakers.append(&mut p.events);
        }
        after_wait();
        // Whoever's wakers they are run as their own code (bureau's wakers
        // make their own single steps).
        external(|| {
            for w in driver.wakers.drain(..) {
                w.wake();
            }
        });
    }

    /// The virtual clock's reading.
    pub(crate) fn now(&self) -> Instant {
        self.base + Duration::from_nanos(self.elapsed.load(Ordering::Relaxed))
    }

    /// Moves the virtual clock forward to `when` (never back).
    fn advance_to(&self, when: Instant) {
        let nanos = when.saturating_duration_since(self.base).as_nanos();
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
        self.elapsed.fetch_max(nanos, Ordering::Relaxed);
    }

    /// Whether a pending timer's deadline has come.
    fn any_due(&self, p: &Poller) -> bool {
        let now = self.now();
        p.timers.iter().any(|t| t.0.when <= now)
    }

    /// Registers a timer due at `when` that wakes `waker`; a driver blocked
    /// with no timer pending wakes up to wait for it.
    pub(crate) fn insert_timer(&self, when: Instant, waker: &Waker) -> VirtualTimer {
        bureau_coop::opaque::internal(|| self.insert_timer_in_step(when, waker))
    }

    /// The body of [`Reactor::insert_timer`].
    fn insert_timer_in_step(&self, when: Instant, waker: &Waker) -> VirtualTimer {
        let timer = VirtualTimer(std::sync::Arc::new(Entry {
            when,
            slot: std::sync::Mutex::new(Slot::Waiting(waker.clone())),
        }));
        let mut p = lock_modelled(&self.poller);
        p.timers.push(timer.clone());
        if p.waiting {
            drop(p);
            self.wakeup.notify_all();
        }
        timer
    }
}

impl VirtualTimer {
    /// Whether the driver took the timer out and woke its waker.
    pub(crate) fn fired(&self) -> bool {
        matches!(*self.slot(), Slot::Fired)
    }

    /// Replaces the waker of a pending timer; `false` if it fired already
    /// (its old waker was woken).
    pub(crate) fn update(&self, waker: &Waker) -> bool {
        match &mut *self.slot() {
            Slot::Waiting(w) => {
                w.clone_from(waker);
                true
            }
            Slot::Fired | Slot::Cancelled => false,
        }
    }

    /// Cancels the timer; returns its waker if it was still pending. Needs
    /// no reactor, so it may run as the model's last thread-locals are
    /// dropped, after loom dropped the reactor.
    pub(crate) fn cancel(&self) -> Option<Waker> {
        let mut slot = self.slot();
        match std::mem::replace(&mut *slot, Slot::Cancelled) {
            Slot::Waiting(w) => Some(w),
            Slot::Fired => {
                *slot = Slot::Fired;
                None
            }
            Slot::Cancelled => None,
        }
    }

    fn cancelled(&self) -> bool {
        matches!(*self.slot(), Slot::Cancelled)
    }

    /// If the deadline has come by `now`, marks the timer fired and moves
    /// its waker to `out`; returns whether it did.
    fn fire_if_due(&self, now: Instant, out: &mut Vec<Waker>) -> bool {
        if self.0.when > now {
            return false;
        }
        let mut slot = self.slot();
        if let Slot::Waiting(w) = std::mem::replace(&mut *slot, Slot::Fired) {
            out.push(w);
        }
        true
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.0
            .slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The error of what bureau cannot offer inside a loom model (sockets,
/// files, name lookups, signals, processes): `ErrorKind::Unsupported`,
/// naming `what` and `--cfg loom`.
pub fn unsupported(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "bureau: {what} are not available under `--cfg loom` \
             (inside a loom model only tasks, `unblock` and timers run)"
        ),
    )
}

/// The virtual clock's reading: `Timer`'s `Instant::now()` under loom.
pub(crate) fn now() -> Instant {
    REACTOR.now()
}

/// Registers a timer due at `when` on the virtual clock.
pub(crate) fn insert_timer(when: Instant, waker: &Waker) -> VirtualTimer {
    REACTOR.insert_timer(when, waker)
}

/// The kernel's side: a source became ready; the next (or current) wait of
/// the driver reports it, and the driver's turn wakes `waker`.
pub fn io_ready(waker: Waker) {
    lock_modelled(&REACTOR.poller).events.push(waker);
    REACTOR.wakeup.notify_all();
}

/// How many `Poller::notify`s the parker has sent in this execution.
pub fn notifies() -> usize {
    REACTOR.notifies.fetch_add(0, Ordering::AcqRel)
}
