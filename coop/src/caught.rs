//! [`Caught`]: a future polled through a waker that catches the panics of
//! the waker it was polled with.
//!
//! async-task wakes a task's awaiter inside a guard that aborts the process
//! if the wake panics, and a task of the pool completes on a pool thread.
//! A foreign executor's waker that panics would end the process there; the
//! pool's tasks are polled through this wrapper instead, so the panic is
//! printed by the panic hook and goes no further. This file must never
//! decide anything about scheduling: it only forwards a wake.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// A future polled through a wrapper of its caller's waker whose wake
/// catches a panic. The wrapper is made once for each new waker.
///
/// # Examples
///
/// ```
/// use bureau_coop::Caught;
///
/// let task = Caught::new(std::future::ready(5));
/// assert_eq!(futures_lite::future::block_on(task), 5);
/// ```
#[derive(Debug)]
pub struct Caught<F> {
    future: F,
    /// The waker last polled with, and the wrapper of it `future` holds.
    registered: Option<(Waker, Waker)>,
}

impl<F> Caught<F> {
    /// Wraps `future`.
    ///
    /// # Examples
    ///
    /// ```
    /// let _task = bureau_coop::Caught::new(std::future::pending::<()>());
    /// ```
    pub fn new(future: F) -> Self {
        Caught {
            future,
            registered: None,
        }
    }

    /// The future inside.
    ///
    /// # Examples
    ///
    /// ```
    /// let task = bureau_coop::Caught::new(std::future::ready(1));
    /// let inner: std::future::Ready<i32> = task.into_inner();
    /// # drop(inner);
    /// ```
    pub fn into_inner(self) -> F {
        self.future
    }

    /// The future inside, by reference.
    ///
    /// # Examples
    ///
    /// ```
    /// let task = bureau_coop::Caught::new(std::future::ready(1));
    /// let _inner: &std::future::Ready<i32> = task.get_ref();
    /// ```
    pub fn get_ref(&self) -> &F {
        &self.future
    }
}

impl<F: Future + Unpin> Future for Caught<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let (_, caught) = match &mut this.registered {
            Some(r) if r.0.will_wake(cx.waker()) => r,
            slot => slot.insert((
                cx.waker().clone(),
                Waker::from(Arc::new(CatchWake(cx.waker().clone()))),
            )),
        };
        Pin::new(&mut this.future).poll(&mut Context::from_waker(caught))
    }
}

/// Wakes the waker inside; a panic of that wake is caught (the panic hook
/// has printed it), and the task is then not woken: that waker was broken.
struct CatchWake(Waker);

impl Wake for CatchWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| self.0.wake_by_ref()));
    }
}
