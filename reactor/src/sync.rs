//! The reactor's synchronisation layer: which primitives each file is built
//! from, the lock helpers, and the thread shims.
//!
//! Under `--cfg loom` the models in `reactor/tests/loom_parker.rs` check
//! `parker.rs` itself, not a copy of it: the parker's cross-thread state
//! (and the stand-in reactor of `loom_reactor.rs` it drives) takes its
//! `Arc`, atomics, `Mutex` and threads from here, which are loom's under
//! loom and std's otherwise, and locks them with [`lock_modelled`].
//!
//! Every other file uses std's primitives on purpose, loom or not, and locks
//! with [`lock`]: `source.rs` (readiness and wakers), `reactor.rs` (the
//! source table, the driver lock), `timers.rs`, `listener.rs`, `signal.rs`
//! and `timer.rs` are not modelled (their protocols are tested by running
//! them), and the helper threads [`spawn_thread`] starts are real threads.
//!
//! This module must never hold logic of its own beyond picking the
//! implementation (and, under loom, standing in for the passing of time).

use std::sync::PoisonError;

#[cfg(not(loom))]
pub(crate) use std::{
    sync::{
        Arc, Mutex,
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
    /// passed, which `std::thread::park_timeout`'s contract allows.
    pub(crate) fn park_timeout(_timeout: std::time::Duration) {}
}

/// Locks a std `mutex`, ignoring poisoning: nothing the reactor guards is
/// left half-written by a panic (the wakers a panic may come from are woken
/// after their lock is let go), so a poisoned lock still guards consistent
/// data and is used as it is.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// [`lock`] for the parker's modelled mutexes: loom's under loom, through
/// `bureau_coop::opaque::lock`, which waits for a contended lock explored.
#[cfg(loom)]
pub(crate) fn lock_modelled<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    bureau_coop::opaque::lock(mutex)
}

/// [`lock`] for the parker's modelled mutexes: std's outside loom.
#[cfg(not(loom))]
pub(crate) use lock as lock_modelled;

/// Under loom, the error of what bureau cannot offer inside a model
/// (`what`: sockets, signals); nothing in a normal build.
#[cfg(loom)]
pub(crate) fn refuse_under_loom(what: &str) -> std::io::Result<()> {
    Err(crate::loom_reactor::unsupported(what))
}

/// Under loom, the error of what bureau cannot offer inside a model;
/// nothing in a normal build.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn refuse_under_loom(_what: &str) -> std::io::Result<()> {
    Ok(())
}

/// Starts a named thread of the reactor's own (the helper that drives the
/// reactor, or a timer's sleeper). Not generic, so the callers share one
/// copy of std's thread-spawning code.
pub(crate) fn spawn_thread(name: &str, f: Box<dyn FnOnce() + Send>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(drop)
}
