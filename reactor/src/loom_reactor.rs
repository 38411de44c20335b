//! Under `--cfg loom` only: a stand-in for the process-wide reactor, with
//! just what `parker.rs` uses of it (`try_get`, `existing`, `try_drive`,
//! `turn`, `notify`), built on loom's primitives so that the loom models run
//! the real parker against it. Its poller has `polling::Poller`'s wait and
//! notify semantics: a notify sent before a wait makes that wait return at
//! once, and a wait with no timeout and nothing to report blocks until a
//! notify or a readiness event arrives.
//!
//! It must never be compiled into a normal build, and never model more than
//! the parker needs: sockets and timers are a list of wakers that the
//! "kernel" ([`io_ready`]) hands to whichever thread drives.

use std::io;
use std::task::Waker;
use std::time::Duration;

use std::ops::{Deref, DerefMut};

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
    /// Calls to [`Reactor::notify`] (the parker's `Poller::notify`s).
    notifies: AtomicUsize,
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
}

loom::lazy_static! {
    /// One per loom execution (loom resets its lazy statics between them).
    static ref REACTOR: Reactor = Reactor {
        driving: AtomicBool::new(false),
        driver: Mutex::new(Driver { wakers: Vec::new() }),
        poller: Mutex::new(Poller { notified: false, events: Vec::new() }),
        wakeup: Condvar::new(),
        notifies: AtomicUsize::new(0),
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
        lock_modelled(&self.poller).notified = true;
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

    /// One turn, by the driver: waits in the poller (`None`: until a notify
    /// or an event; `Some(_)`: not at all, as loom has no clock and a timed
    /// wait may always time out), consumes the notify and takes the events,
    /// runs `after_wait`, then wakes the events' wakers.
    pub(crate) fn turn(
        &self,
        driver: &mut Driver,
        timeout: Option<Duration>,
        after_wait: impl FnOnce(),
    ) {
        {
            let mut p = lock_modelled(&self.poller);
            while timeout.is_none() && !p.notified && p.events.is_empty() {
                p = self.wakeup.wait(p).unwrap();
            }
            p.notified = false;
            driver.wakers.append(&mut p.events);
        }
        after_wait();
        for w in driver.wakers.drain(..) {
            w.wake();
        }
    }
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
