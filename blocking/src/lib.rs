//! The blocking pool: runs the calls that can only block on threads of
//! their own, and wakes the awaiting future when they finish.
//!
//! The event loop's thread must never wait for a disk, a name lookup or a
//! CPU-heavy job; [`unblock`] hands such work to the pool instead. This
//! crate must never know about the executor or the reactor: it only speaks
//! `Future` and `Waker`.

#![forbid(unsafe_code)]

mod adapter;
mod config;
mod pipe;
mod pool;
mod sync;

#[cfg(not(loom))]
use std::sync::OnceLock;
use std::time::Duration;

use async_task::Task;
pub use bureau_coop::Caught;

pub use adapter::Unblock;
pub use pool::{Pool, Stats};

/// How long an idle thread of the process-wide pool waits for work before it exits.
const KEEP_ALIVE: Duration = Duration::from_millis(500);

/// The process-wide pool, created at first use (see [`global`]).
#[cfg(not(loom))]
static POOL: OnceLock<Pool> = OnceLock::new();

/// The process-wide pool, created at first use from the environment.
#[cfg(not(loom))]
fn global() -> &'static Pool {
    POOL.get_or_init(from_env)
}

/// Under loom, one pool per model execution: loom drops it at the end of
/// each, inside the model, and the next starts with no thread and no job.
#[cfg(loom)]
fn global() -> &'static Pool {
    loom::lazy_static! {
        static ref POOL: Pool = from_env();
    }
    &POOL
}

/// A pool sized by `BUREAU_MAX_THREADS`.
fn from_env() -> Pool {
    let value = std::env::var_os(config::MAX_THREADS_VAR);
    match config::parse_max_threads(value.as_deref()) {
        Ok(max_threads) => Pool::new(max_threads, KEEP_ALIVE),
        Err(message) => panic!("bureau: {message}"),
    }
}

/// The process-wide pool's [`Stats`]; all zero if nothing used it yet
/// (asking does not start it).
///
/// ```
/// let task = bureau_blocking::unblock(|| ());
/// futures_lite::future::block_on(task);
/// assert!(bureau_blocking::stats().ran >= 1);
/// ```
#[cfg(not(loom))]
pub fn stats() -> Stats {
    POOL.get().map(Pool::stats).unwrap_or_default()
}

/// The model execution's pool's [`Stats`] (under loom the pool is made
/// per execution, so asking makes it).
#[cfg(loom)]
pub fn stats() -> Stats {
    global().stats()
}

/// Runs the blocking function `f` on the process-wide pool and returns a
/// task that completes with its result.
///
/// Threads start on demand up to 500 at once, or `BUREAU_MAX_THREADS`; a
/// value there that is not a positive integer panics at first use. A panic
/// in `f` resurfaces where the task is awaited. Dropping the task before a
/// thread picks the job up means `f` never runs. The task wakes its awaiter
/// through a [`Caught`] waker, so a waker that panics cannot abort the
/// process from a pool thread.
///
/// ```
/// use bureau_blocking::unblock;
///
/// let contents = unblock(|| std::fs::read_to_string("Cargo.toml"));
/// let contents = futures_lite::future::block_on(contents).unwrap();
/// assert!(contents.contains("[package]"));
/// ```
pub fn unblock<T, F>(f: F) -> Caught<Task<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    global().spawn(f)
}
