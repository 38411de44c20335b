//! The facade's one lock helper. The facade's shared state (the standard
//! streams, the `SIGCHLD` listener, the reaper of dropped children) uses
//! std's primitives on purpose: loom models the executor's, the pool's and
//! the parker's cross-thread paths, not these. This file must never hold
//! logic beyond locking.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`. A panic while another holder had it leaves the data as
/// valid as between any two statements of its users (none of them panics
/// half-way through an update), so poison is ignored.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
