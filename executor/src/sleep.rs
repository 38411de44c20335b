//! The sleep protocol: one atomic that tells a thread which has just queued
//! work whether the loop is asleep and must be woken.
//!
//! The loop announces that it is going to sleep with a compare-and-swap from
//! `AWAKE`; a waker announces new work with a swap to `NOTIFIED`. Whichever
//! comes second sees the other: either the loop's swap fails and it looks at
//! the queues again, or the waker sees `SLEEPING`/`PARKED` and wakes it. A
//! wake that arrives while the loop runs is one atomic swap and no system
//! call. The state word only ever holds one of the four values below. This
//! file must never touch the queues themselves.

use crate::sync::{AtomicU8, Mutex, Ordering, lock};
use std::task::Waker;

/// The loop is running and will look at its queues again before it sleeps.
const AWAKE: u8 = 0;
/// Work arrived since the loop last looked; it must look again.
const NOTIFIED: u8 = 1;
/// The loop is a future that returned `Pending`: every new piece of work,
/// even one queued from the loop's own thread, must wake it.
const SLEEPING: u8 = 2;
/// The loop sleeps inside `Park::park` on its own thread. Work queued from
/// that thread (by a reactor dispatching events during the park) needs no
/// wake: the loop looks at the queues as soon as `park` returns.
const PARKED: u8 = 3;

/// The ordering of a waker's swap to `NOTIFIED`: it releases the work queued
/// before it to the loop, which acquires it when it sees `NOTIFIED`. The loom
/// models check that a `Relaxed` swap here would lose wakes.
const NOTIFY: Ordering = if cfg!(bureau_loom_broken = "relaxed_notify") {
    Ordering::Relaxed
} else {
    Ordering::AcqRel
};

/// How the loop is about to sleep.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Sleeper<'a> {
    /// As a future (`LocalExecutor::run`, `tick`), woken through this waker.
    Future(&'a Waker),
    /// In a parker, on the executor's own thread (`LocalExecutor::block_on`),
    /// woken through the waker given to [`Sleep::set_unpark`].
    Parker,
}

/// The shared sleep state of one executor.
pub(crate) struct Sleep {
    state: AtomicU8,
    /// Unparks the `block_on` that drives this executor, if one does. Set
    /// once per `block_on`, so going to sleep costs no lock.
    unpark: Mutex<Option<Waker>>,
    /// The futures (`run`, `tick`) asleep on this executor.
    futures: Mutex<Vec<Waker>>,
}

impl Sleep {
    pub(crate) fn new() -> Self {
        Sleep {
            state: AtomicU8::new(AWAKE),
            unpark: Mutex::new(None),
            futures: Mutex::new(Vec::new()),
        }
    }

    /// Sets (or, with `None`, clears) the waker that unparks the loop of
    /// `LocalExecutor::block_on`.
    pub(crate) fn set_unpark(&self, waker: Option<Waker>) {
        *lock(&self.unpark) = waker;
    }

    /// Announces that the loop goes to sleep.
    ///
    /// Returns `false` if work arrived since the loop last looked at its
    /// queues: the loop must look again instead of sleeping.
    pub(crate) fn prepare(&self, how: Sleeper<'_>) -> bool {
        let asleep = match how {
            Sleeper::Future(waker) => {
                let mut futures = lock(&self.futures);
                if !futures.iter().any(|w| w.will_wake(waker)) {
                    futures.push(waker.clone());
                }
                SLEEPING
            }
            Sleeper::Parker => PARKED,
        };
        if cfg!(bureau_loom_broken = "sleep_without_recheck") {
            return self.sleep_without_recheck(asleep);
        }
        match self
            .state
            .compare_exchange(AWAKE, asleep, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            // Another future of the same executor is already asleep.
            Err(SLEEPING) | Err(PARKED) => true,
            Err(NOTIFIED) => {
                // A swap, not a store: should another waker swap `NOTIFIED`
                // in after the failed exchange, this read-modify-write reads
                // it and acquires the work it queued; a plain store could
                // land after it without seeing that work, and the loop
                // would then sleep on it.
                self.state.swap(AWAKE, Ordering::AcqRel);
                false
            }
            // A failed exchange from `AWAKE` never reads `AWAKE`.
            Err(state) => unreachable!("bureau: sleep state {state} after a failed exchange"),
        }
    }

    /// Broken on purpose, for the loom teeth (`--cfg
    /// bureau_loom_broken="sleep_without_recheck"`): sleeps even if work
    /// arrived since the loop last looked at its queues.
    fn sleep_without_recheck(&self, asleep: u8) -> bool {
        self.state.store(asleep, Ordering::Release);
        true
    }

    /// Marks the loop as running again, after it woke up.
    pub(crate) fn awake(&self) {
        self.state.swap(AWAKE, Ordering::AcqRel);
    }

    /// Tells the loop that work was queued from another thread.
    pub(crate) fn notify(&self) {
        match self.state.swap(NOTIFIED, NOTIFY) {
            PARKED => self.unpark_loop(),
            // A `block_on` may be parked under a sleeping future of its own
            // executor (`prepare` leaves `SLEEPING` in place): wake it too.
            SLEEPING => {
                self.wake_futures();
                self.unpark_loop();
            }
            // The loop is running, and looks at its queues before it sleeps.
            AWAKE | NOTIFIED => {}
            state => unreachable!("bureau: no sleep state is {state}"),
        }
    }

    /// Tells the loop that work was queued from its own thread: a plain load
    /// on the fast path, since only the loop's thread ever sets `SLEEPING` or
    /// `PARKED` and a parked loop will look at its queues anyway.
    pub(crate) fn notify_local(&self) {
        if self.local_wake_needed() {
            self.notify();
        }
    }

    /// Whether work queued from the loop's own thread must wake it: only
    /// when a future is asleep on the executor. Exact on that thread, which
    /// alone sets `SLEEPING`.
    pub(crate) fn local_wake_needed(&self) -> bool {
        self.state.load(Ordering::Relaxed) == SLEEPING
    }

    /// Unparks the loop of `block_on`, if one is set.
    fn unpark_loop(&self) {
        let unpark = lock(&self.unpark);
        if let Some(waker) = unpark.as_ref() {
            waker.wake_by_ref();
        }
    }

    /// Drops the wakers of the futures asleep on this executor, once it is
    /// gone: a `run` future's waker may lead back to this `Sleep` (as in
    /// `ex.block_on(parker, ex.run(f))`), a cycle that would leak it.
    pub(crate) fn forget_futures(&self) {
        let wakers = std::mem::take(&mut *lock(&self.futures));
        drop(wakers);
    }

    fn wake_futures(&self) {
        // Woken outside the lock: a waker may poll, and so sleep, at once.
        let wakers = std::mem::take(&mut *lock(&self.futures));
        for waker in wakers {
            waker.wake();
        }
    }
}
