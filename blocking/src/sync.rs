//! The pool's cross-thread primitives: std's normally, loom's under `cfg(loom)`.
//!
//! Every lock, condition variable, shared pointer and thread the pool uses
//! comes from here, so that a loom model checks the real pool code. This
//! module must never hold logic of its own beyond picking the implementation.

#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
use std::thread::Builder;

#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(loom)]
use loom::thread::Builder;

/// Starts a detached thread named `name` running `f`.
pub(crate) fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    Builder::new().name(name.to_owned()).spawn(f).map(drop)
}
