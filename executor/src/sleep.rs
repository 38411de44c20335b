//! The sleep protocol: one atomic that tells a thread which has just queued
//! work whether the loop is asleep and must be woken.
//!
//! The loop announces that it is going to sleep with a compare-and-swap from
//! `AWAKE`; a waker announces new work with a swap to `NOTIFIED`. Whichever
//! comes second sees the other: either the loop's swap fails and it looks at
//! the queues again, or the waker sees `SLEEPING`/`PARKED` and wakes it. A
//! wake that arrives while the loop runs is one atomic swap and no system
//! call. This file must never touch the queues themselves.

use crate::sync::{AtomicU8, Mutex, Ordering};
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sleeper {
    /// As a future (`LocalExecutor::run`, `tick`).
    Future,
    /// In a parker, on the executor's own thread (`LocalExecutor::block_on`).
    Parker,
}

/// The shared sleep state of one executor.
pub(crate) struct Sleep {
    state: AtomicU8,
    /// Whom to wake when work arrives while the loop sleeps.
    wakers: Mutex<Vec<Waker>>,
}

impl Sleep {
    pub(crate) fn new() -> Self {
        Sleep {
            state: AtomicU8::new(AWAKE),
            wakers: Mutex::new(Vec::new()),
        }
    }

    /// Announces that the loop goes to sleep and that `waker` wakes it.
    ///
    /// Returns `false` if work arrived since the loop last looked at its
    /// queues: the loop must look again instead of sleeping.
    pub(crate) fn prepare(&self, how: Sleeper, waker: &Waker) -> bool {
        {
            let mut wakers = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
            if !wakers.iter().any(|w| w.will_wake(waker)) {
                wakers.push(waker.clone());
            }
        }
        let asleep = match how {
            Sleeper::Future => SLEEPING,
            Sleeper::Parker => PARKED,
        };
        if cfg!(bureau_loom_broken = "sleep_without_recheck") {
            // Broken on purpose, for the loom models: sleeps even if work
            // arrived since the loop last looked at its queues.
            self.state.store(asleep, Ordering::Release);
            return true;
        }
        match self
            .state
            .compare_exchange(AWAKE, asleep, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            // Another future of the same executor is already asleep.
            Err(SLEEPING) | Err(PARKED) => true,
            Err(_) => {
                self.state.store(AWAKE, Ordering::Release);
                false
            }
        }
    }

    /// Marks the loop as running again, after it woke up.
    pub(crate) fn awake(&self) {
        self.state.swap(AWAKE, Ordering::AcqRel);
    }

    /// Tells the loop that work was queued from another thread.
    pub(crate) fn notify(&self) {
        let previous = self.state.swap(NOTIFIED, NOTIFY);
        if previous == SLEEPING || previous == PARKED {
            self.wake_sleepers();
        }
    }

    /// Tells the loop that work was queued from its own thread: a plain load
    /// on the fast path, since only the loop's thread ever sets `SLEEPING` or
    /// `PARKED` and a parked loop will look at its queues anyway.
    pub(crate) fn notify_local(&self) {
        if self.state.load(Ordering::Relaxed) == SLEEPING {
            self.notify();
        }
    }

    fn wake_sleepers(&self) {
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|e| e.into_inner()));
        for waker in wakers {
            waker.wake();
        }
    }
}
