//! The synchronisation primitives the executor's cross-thread state is built
//! from: std's in a normal build, loom's under `--cfg loom`, so that the loom
//! models check this crate's own code and not a copy of it.
//!
//! Nothing but re-exports belongs here.

#[cfg(not(loom))]
pub(crate) use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU8, Ordering},
    },
    thread_local,
};

#[cfg(loom)]
pub(crate) use loom::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU8, Ordering},
    },
    thread_local,
};
