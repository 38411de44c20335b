//! How the run loop sleeps: the [`Park`] and [`Unpark`] traits, and
//! [`ThreadParker`], the implementation that needs nothing but `std`.
//!
//! The executor decides *whether* to sleep (see `sleep.rs`); a parker only
//! knows *how*. A reactor implements [`Park`] so that the loop sleeps inside
//! `epoll_wait` and collects I/O and timer events on the way. This file must
//! never learn about tasks or queues.

use crate::sync::thread;
use std::time::Duration;

/// Puts the run loop to sleep until it is unparked or a timeout passes.
///
/// The executor calls [`park`](Park::park) with `None` when it has nothing to
/// run, and with `Some(Duration::ZERO)` to give the parker a non-blocking
/// turn (a reactor uses it to collect ready I/O and expired timers) at least
/// once every 64 task polls.
///
/// # Contract
///
/// An [`Unpark::unpark`] that happens before or during a `park` makes that
/// `park` (or, if none is in progress, the next one) return promptly: no
/// unpark is ever lost. Spurious returns are allowed.
///
/// A `park` that wakes tasks itself, on the calling thread (as a reactor
/// does when it dispatches events), must return once it has made those
/// wakes, without waiting for an `unpark`: the executor does not call
/// `unpark` for them. While the loop is parked, a wake on the loop's own
/// thread only queues the task, since the loop looks at its queues as soon
/// as `park` returns; a `park` that slept on after such a wake would wait
/// for an `unpark` that never comes, and the loop would hang with work
/// queued. Wakes from other threads do call `unpark`.
///
/// # Examples
///
/// ```
/// use bureau_executor::{LocalExecutor, Park, ThreadParker};
///
/// let ex = LocalExecutor::new();
/// let mut parker = ThreadParker::new();
/// let task = ex.spawn(async { 1 + 2 });
/// assert_eq!(ex.block_on(&mut parker, task), 3);
/// ```
pub trait Park {
    /// The handle that wakes this parker from any thread.
    type Unparker: Unpark;

    /// Returns a handle that wakes this parker.
    fn unparker(&self) -> Self::Unparker;

    /// Sleeps until unparked, or until `timeout` passes (`None` means no
    /// limit, `Some(Duration::ZERO)` means do not block at all).
    fn park(&mut self, timeout: Option<Duration>);
}

/// Wakes a [`Park`] from any thread.
///
/// The executor calls it only when its loop has declared itself asleep, so an
/// implementation may make a system call.
///
/// # Examples
///
/// ```
/// use bureau_executor::{Park, ThreadParker, Unpark};
///
/// let mut parker = ThreadParker::new();
/// let unparker = parker.unparker();
/// std::thread::spawn(move || unparker.unpark());
/// parker.park(None); // returns once the other thread has unparked it
/// ```
pub trait Unpark: Send + Sync + 'static {
    /// Makes the current or the next [`Park::park`] return.
    fn unpark(&self);
}

/// A [`Park`] built on [`std::thread::park`]: it sleeps the thread and does
/// nothing else.
///
/// # Examples
///
/// ```
/// use bureau_executor::{Park, ThreadParker, Unpark};
/// use std::time::Duration;
///
/// let mut parker = ThreadParker::new();
/// parker.unparker().unpark();
/// parker.park(None); // returns at once: the unpark came first
/// parker.park(Some(Duration::ZERO)); // never blocks
/// ```
#[derive(Debug)]
pub struct ThreadParker {
    thread: thread::Thread,
}

impl ThreadParker {
    /// Creates a parker for the current thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let parker = bureau_executor::ThreadParker::new();
    /// # drop(parker);
    /// ```
    pub fn new() -> Self {
        ThreadParker {
            thread: thread::current(),
        }
    }
}

impl Default for ThreadParker {
    fn default() -> Self {
        Self::new()
    }
}

impl Park for ThreadParker {
    type Unparker = ThreadUnparker;

    fn unparker(&self) -> ThreadUnparker {
        ThreadUnparker {
            thread: self.thread.clone(),
        }
    }

    fn park(&mut self, timeout: Option<Duration>) {
        match timeout {
            None => bureau_coop::opaque::external(thread::park),
            Some(Duration::ZERO) => {}
            Some(timeout) => thread::park_timeout(timeout),
        }
    }
}

/// The [`Unpark`] handle of a [`ThreadParker`].
///
/// # Examples
///
/// ```
/// use bureau_executor::{Park, ThreadParker, Unpark};
///
/// let parker = ThreadParker::new();
/// let unparker = parker.unparker();
/// unparker.unpark();
/// ```
#[derive(Debug, Clone)]
pub struct ThreadUnparker {
    thread: thread::Thread,
}

impl Unpark for ThreadUnparker {
    fn unpark(&self) {
        self.thread.unpark();
    }
}
