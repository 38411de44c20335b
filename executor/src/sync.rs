//! The synchronisation primitives the executor's cross-thread state is built
//! from: std's in a normal build, loom's under `--cfg loom`, so that the loom
//! models check this crate's own code and not a copy of it.
//!
//! Nothing but re-exports belongs here, apart from the one call loom lacks.

#[cfg(not(loom))]
pub(crate) use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU8, Ordering},
    },
    thread, thread_local,
};

#[cfg(loom)]
pub(crate) use loom::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU8, Ordering},
    },
    thread_local,
};

/// loom's threads, which `ThreadParker` parks and unparks.
#[cfg(loom)]
pub(crate) mod thread {
    pub(crate) use loom::thread::{Thread, current, park};

    /// loom has no clock: a timed park returns at once, as if its timeout had
    /// passed, which `Park`'s contract allows.
    pub(crate) fn park_timeout(_timeout: std::time::Duration) {}
}
