//! A user's own concurrency code, on bureau: a one-shot flag that one
//! thread sets and a task awaits. Under `--cfg loom` it is built from
//! loom's atomics and mutex, so `tests/models.rs` can check it, together
//! with bureau's executor, blocking pool and timers, inside `loom::model`.
//!
//! It must never be more than an example: the flag is the kind of code a
//! user writes and gets wrong, and [`OneShot::wait_without_recheck`] is
//! the classic way to get it wrong, kept for the model that shows loom
//! catches it.

use std::future::Future;
use std::task::{Poll, Waker};

#[cfg(loom)]
use loom::sync::{
    Mutex,
    atomic::{AtomicBool, Ordering},
};
#[cfg(not(loom))]
use std::sync::{
    Mutex,
    atomic::{AtomicBool, Ordering},
};

/// A flag set once, from any thread, and awaited by a task.
///
/// ```
/// let flag = std::sync::Arc::new(loom_user::OneShot::new());
/// let setter = flag.clone();
/// bureau::block_on(async move {
///     bureau::unblock(move || setter.set()).await;
///     flag.wait().await;
/// });
/// ```
#[derive(Debug)]
pub struct OneShot {
    set: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Default for OneShot {
    fn default() -> OneShot {
        OneShot::new()
    }
}

impl OneShot {
    /// A flag not set yet.
    pub fn new() -> OneShot {
        OneShot {
            set: AtomicBool::new(false),
            waker: Mutex::new(None),
        }
    }

    /// Sets the flag and wakes the task that waits for it, if any.
    pub fn set(&self) {
        // A swap rather than a store: loom 0.7 can misjudge a plain store
        // that races a read-modify-write (tokio-rs/loom#254).
        self.set.swap(true, Ordering::AcqRel);
        let waker = self.waker.lock().unwrap().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Waits until the flag is set: registers the waker, then looks at the
    /// flag again, so a `set` between the first look and the registration
    /// is not lost.
    pub fn wait(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.is_set() {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            if self.is_set() {
                return Poll::Ready(());
            }
            Poll::Pending
        })
    }

    /// The classic bug: looks at the flag, then registers the waker, and
    /// never looks again. A `set` in between finds no waker to wake, and
    /// the task waits for good. Only the model that shows loom catching it
    /// calls this.
    pub fn wait_without_recheck(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.is_set() {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        })
    }
}
