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
    #[cfg(loom)]
    hand_off: HandOff,
}

/// Under loom, a lock taken by each poll before the future registers the
/// waker, and by the wrapper before it wakes: the waker reaches the
/// completing thread through async-task's own atomics, which loom cannot
/// see, so without it loom would take the wake for a data race on what the
/// polling thread made before (a false "causality violation").
#[cfg(loom)]
#[doc(hidden)]
pub type HandOff = Arc<loom::sync::Mutex<()>>;

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
            #[cfg(loom)]
            hand_off: HandOff::default(),
        }
    }

    /// Under loom only: wraps `future`, sharing `hand_off` with the code
    /// that completes it, which takes the lock once it has done its work,
    /// so that loom sees that work happen before the poll that finds the
    /// future complete (the completion itself travels through async-task's
    /// atomics, which loom cannot see).
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn sharing(future: F, hand_off: HandOff) -> Self {
        Caught {
            future,
            registered: None,
            hand_off,
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
        // Under loom, explored: whether the job completed before this poll
        // is what the user's model must see both ways.
        #[cfg(loom)]
        crate::opaque::external(|| drop(crate::opaque::lock(&this.hand_off)));
        let (_, caught) = match &mut this.registered {
            Some(r) if r.0.will_wake(cx.waker()) => r,
            slot => slot.insert((
                cx.waker().clone(),
                Waker::from(Arc::new(CatchWake {
                    waker: cx.waker().clone(),
                    #[cfg(loom)]
                    hand_off: this.hand_off.clone(),
                })),
            )),
        };
        Pin::new(&mut this.future).poll(&mut Context::from_waker(caught))
    }
}

/// Wakes the waker inside; a panic of that wake is caught (the panic hook
/// has printed it), and the task is then not woken: that waker was broken.
struct CatchWake {
    waker: Waker,
    #[cfg(loom)]
    hand_off: HandOff,
}

impl Wake for CatchWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        #[cfg(loom)]
        crate::opaque::internal(|| drop(crate::opaque::lock(&self.hand_off)));
        // Whoever's waker it is runs as their own code (bureau's wakers make
        // their own single steps).
        crate::opaque::external(|| {
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| self.waker.wake_by_ref()));
        });
    }
}
