//! The synchronisation primitives the executor's cross-thread state is built
//! from: std's in a normal build, loom's under `--cfg loom`, so that the loom
//! models check this crate's own code and not a copy of it.
//!
//! What loom models: the sleep protocol (`sleep.rs`: its state word and its
//! two lists of wakers), the run queue (`queue.rs`: the `Arc` that tasks
//! share, the thread-local that names the owner thread, and the remote
//! `ConcurrentQueue`, built on loom's atomics through its `loom` feature), the main future's flag
//! (`executor.rs`) and `ThreadParker`'s thread (`park.rs`).
//!
//! What uses std on purpose: `queue.rs`'s counter that numbers threads (it
//! only hands out distinct numbers, and no model races on it), `slow.rs`'s
//! statics (the threshold, the rate limit and the hook: taken only by a
//! slow poll's report, which no model makes), and the
//! `std::sync::Arc` inside the wakers of `executor.rs` (`Waker::from` takes
//! std's `Arc`; what those wakers reach is modelled).
//!
//! Nothing but re-exports belongs here, apart from the calls loom lacks or
//! spells differently ([`lock`], `thread::park_timeout`).

#[cfg(not(loom))]
pub(crate) use std::{
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU8, Ordering},
    },
    thread, thread_local,
};

#[cfg(loom)]
pub(crate) use loom::{
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU8, Ordering},
    },
    thread_local,
};

/// Locks `mutex`. The executor's locks guard a waker slot and a list of
/// wakers, each changed by one assignment, push or `take`, which no panic
/// leaves half-done: a poisoned lock is used as it is. Under loom, through
/// `bureau_coop::opaque::lock`, which waits for a contended lock explored.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(loom)]
    return bureau_coop::opaque::lock(mutex);
    #[cfg(not(loom))]
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// loom's threads, which `ThreadParker` parks and unparks.
#[cfg(loom)]
pub(crate) mod thread {
    pub(crate) use loom::thread::{Thread, current, park};

    /// loom has no clock: a timed park returns at once, as if its timeout had
    /// passed, which `Park`'s contract allows.
    pub(crate) fn park_timeout(_timeout: std::time::Duration) {}
}
