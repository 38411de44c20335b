//! The synchronisation primitives the parker's cross-thread state is built
//! from: std's in a normal build, loom's under `--cfg loom`, so that the loom
//! models (`reactor/tests/loom_parker.rs`) check `parker.rs` itself and not a
//! copy of it.
//!
//! This module must never hold logic of its own beyond picking the
//! implementation (and, under loom, standing in for the passing of time).

use std::sync::PoisonError;

#[cfg(not(loom))]
pub(crate) use std::{
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering, fence},
    },
    thread, thread_local,
};

#[cfg(loom)]
pub(crate) use loom::{
    sync::{
        Arc, Condvar, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering, fence},
    },
    thread_local,
};

/// loom's threads, which the parker parks and unparks.
#[cfg(loom)]
pub(crate) mod thread {
    pub(crate) use loom::thread::{Thread, current, park};

    /// loom has no clock: a timed park returns at once, as if its timeout had
    /// passed, which the thread parker's contract allows.
    pub(crate) fn park_timeout(_timeout: std::time::Duration) {}
}

/// Locks `mutex`. Nothing panics while the parker's locks are held, so a
/// poisoned lock still guards consistent data and is used as it is.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
