//! The pool's cross-thread primitives: std's normally, loom's under `cfg(loom)`.
//!
//! Every lock, condition variable, shared pointer and thread the pool uses
//! comes from here, so that a loom model checks the real pool code. This
//! module must never hold logic of its own beyond picking the implementation
//! (and, under loom, standing in for the passing of time, and in a user's
//! model leaving out the idle worker's yields: see `yield_now`).
//!
//! What loom models: the pool (`pool.rs`: the job queue's lock, the
//! condition variable sleepers wait on, the count spinners watch, the
//! worker threads) and the pipe between `Unblock` and its job (`pipe.rs`).
//!
//! What uses std on purpose: the slot in which `Unblock::with_mut`'s job
//! leaves its result (`adapter.rs`), written before the job's task
//! completes and read after, so the task orders the two and no model needs
//! to see the lock; and the `OnceLock` that holds the process-wide pool
//! (`lib.rs`), created once (under loom, once per model execution, in one
//! of loom's lazy statics).

#[cfg(not(loom))]
use std::sync::PoisonError;
use std::time::Duration;

#[cfg(not(loom))]
pub(crate) use std::sync::{
    Arc, Condvar, Mutex, MutexGuard,
    atomic::{AtomicUsize, Ordering},
};
#[cfg(not(loom))]
use std::thread::Builder;

#[cfg(loom)]
pub(crate) use loom::sync::{
    Arc, Condvar, Mutex, MutexGuard,
    atomic::{AtomicUsize, Ordering},
};
#[cfg(loom)]
use loom::thread::Builder;

/// Starts a detached thread named `name` running `f`.
pub(crate) fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    Builder::new().name(name.to_owned()).spawn(f).map(drop)
}

/// Lets another thread run. Under loom, in a user's model, does nothing:
/// the pool's idle spin and sleep are bureau's own protocol, which its own
/// models explore, and each yield would let loom explore again which of
/// the user's threads runs next.
pub(crate) fn yield_now() {
    #[cfg(not(loom))]
    std::thread::yield_now();
    #[cfg(loom)]
    if !bureau_coop::opaque::enabled() {
        loom::thread::yield_now();
    }
}

/// Locks `mutex`. Nothing panics while the pool's locks are held, so a
/// poisoned lock still guards consistent data and is used as it is. Under
/// loom, through `bureau_coop::opaque::lock`, which waits for a contended
/// lock explored.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(loom)]
    return bureau_coop::opaque::lock(mutex);
    #[cfg(not(loom))]
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Releases `guard`, waits on `condvar` for a notification or `timeout`,
/// and locks `mutex` again; the flag says whether the time ran out.
#[cfg(not(loom))]
pub(crate) fn wait_timeout<'a, T>(
    condvar: &Condvar,
    _mutex: &'a Mutex<T>,
    guard: MutexGuard<'a, T>,
    timeout: Duration,
) -> (MutexGuard<'a, T>, bool) {
    let (guard, wait) = condvar
        .wait_timeout(guard, timeout)
        .unwrap_or_else(PoisonError::into_inner);
    (guard, wait.timed_out())
}

/// Under loom, time cannot pass: the timeout runs out at once, but only
/// after the lock has been released, so loom explores every other thread
/// running in between (a notification sent then is missed, as it may be
/// for real between a timeout and the relock).
#[cfg(loom)]
pub(crate) fn wait_timeout<'a, T>(
    _condvar: &Condvar,
    mutex: &'a Mutex<T>,
    guard: MutexGuard<'a, T>,
    _timeout: Duration,
) -> (MutexGuard<'a, T>, bool) {
    drop(guard);
    yield_now();
    (lock(mutex), true)
}
