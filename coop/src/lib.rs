//! Cooperative scheduling: what the executor and the I/O types tell each
//! other on the loop's thread without either importing the other.
//!
//! Two pieces of thread-local state live here, and one wrapper:
//!
//! - **The budget.** The executor gives each poll of a task [`BUDGET`]
//!   operations ([`Scope::poll`]); every I/O operation, timer and `Unblock`
//!   transfer that completes spends one ([`poll_budgeted`]). Once it is
//!   spent, the next operation wakes its task and returns `Pending`, so a
//!   task whose socket never runs dry still goes to the back of the queue,
//!   and the executor, told that the task yielded for its budget, gives the
//!   reactor a turn before it polls anything else. Outside a poll of the
//!   executor's (a thread of the pool, a future driven by
//!   `futures_lite::future::block_on` on a thread that runs no bureau loop)
//!   the budget is unlimited; a `futures_lite::future::block_on` *inside* a
//!   task runs on that task's budget, and once it is spent, spins.
//! - **Urgent wakes.** The reactor wakes the wakers of expired timers inside
//!   [`wake_urgent`]; a run queue asks [`is_urgent`] as it queues a task, and
//!   puts such a task ahead of the tasks that were woken for I/O, so a due
//!   timer does not wait behind thousands of busy sockets.
//! - **[`Caught`]**, a future polled through a waker whose wake cannot
//!   unwind into the code that wakes it: the pool's tasks, which async-task
//!   completes on a pool thread inside an abort-on-panic guard.
//!
//! - **[`Delay`]**, the loop's delay histogram: the executor records the
//!   length of its batches and the reactor the lateness of the timers it
//!   fires, each into this thread's copy ([`record_delay`]).
//! - **[`opaque`]**, under `--cfg loom` in a user's model: the marks that
//!   make bureau's own bookkeeping single steps for loom, used by every
//!   other crate (in a normal build they are `f()`).
//!
//! This crate must never learn what a task, a socket or a timer is: it holds
//! a counter, a flag, a histogram and a waker wrapper. Under `--cfg loom`, where the models' threads
//! share one OS thread and so one copy of any thread-local, the budget is
//! always unlimited and no wake is urgent.

#![forbid(unsafe_code)]

mod caught;
mod delay;
pub mod opaque;

pub use caught::Caught;
#[cfg(loom)]
#[doc(hidden)]
pub use caught::HandOff;
pub use delay::{Delay, loop_delay, record_delay};

use std::cell::Cell;
use std::marker::PhantomData;
use std::task::{Context, Poll, Waker};

/// How many operations one poll of a task may complete before it must
/// yield: the number tokio uses. A read costs a system call of a microsecond
/// or more, so 128 of them keep one poll near a millisecond of I/O, while the
/// yield (a queue push and a non-blocking turn of the reactor) costs about as
/// much as one of them.
pub const BUDGET: u32 = 128;

/// The budget of code that is not inside a budgeted poll.
const UNLIMITED: u32 = u32::MAX;

/// The budget once an operation found it spent: the poll yielded for it.
const SPENT: u32 = u32::MAX - 1;

thread_local! {
    /// Operations left in the current poll; [`UNLIMITED`] outside one,
    /// [`SPENT`] once an operation had to yield. One cell, so that a
    /// budgeted poll costs one write and one read of it.
    static LEFT: Cell<u32> = const { Cell::new(UNLIMITED) };
    /// Whether the wakes under way are those of expired timers.
    static URGENT: Cell<bool> = const { Cell::new(false) };
}

/// Runs `poll` (one poll of a task) with a fresh budget of [`BUDGET`]
/// operations; returns its result and whether the task yielded because it
/// ran out. The budget around the call (unlimited, or an outer poll's) is
/// put back afterwards, even if `poll` panics. A loop that polls many tasks
/// in a row takes a [`scope`] once instead.
///
/// # Examples
///
/// ```
/// use std::task::{Context, Poll, Waker};
///
/// let mut cx = Context::from_waker(Waker::noop());
/// let ((), yielded) = bureau_coop::budgeted(|| {
///     while bureau_coop::poll_budgeted(&mut cx, |_| Poll::Ready(())).is_ready() {}
/// });
/// assert!(yielded);
/// ```
#[inline]
pub fn budgeted<R>(poll: impl FnOnce() -> R) -> (R, bool) {
    scope().poll(poll)
}

/// Starts a run of budgeted polls on this thread: each
/// [`Scope::poll`] gets a fresh budget, and the budget from before the scope
/// (unlimited, or an outer poll's) comes back when the scope is dropped,
/// even by a panic.
///
/// # Examples
///
/// ```
/// use std::task::{Context, Poll, Waker};
///
/// let mut cx = Context::from_waker(Waker::noop());
/// let scope = bureau_coop::scope();
/// for _ in 0..3 {
///     let (n, yielded) = scope.poll(|| {
///         let mut n = 0;
///         while bureau_coop::poll_budgeted(&mut cx, |_| Poll::Ready(())).is_ready() {
///             n += 1;
///         }
///         n
///     });
///     assert_eq!((n, yielded), (bureau_coop::BUDGET, true));
/// }
/// drop(scope);
/// assert!(bureau_coop::poll_budgeted(&mut cx, |_| Poll::Ready(())).is_ready()); // unlimited again
/// ```
#[inline]
pub fn scope() -> Scope {
    Scope {
        outer: LEFT.get(),
        _thread: PhantomData,
    }
}

/// A run of budgeted polls on one thread; see [`scope`].
#[derive(Debug)]
pub struct Scope {
    /// The budget to put back at the end.
    outer: u32,
    /// `!Send`: the budget it puts back is this thread's.
    _thread: PhantomData<*const ()>,
}

impl Scope {
    /// Runs `poll` with a fresh budget of [`BUDGET`] operations; returns its
    /// result and whether the task yielded because it ran out.
    ///
    /// # Examples
    ///
    /// ```
    /// let ((), yielded) = bureau_coop::scope().poll(|| {});
    /// assert!(!yielded);
    /// ```
    #[inline]
    pub fn poll<R>(&self, poll: impl FnOnce() -> R) -> (R, bool) {
        if cfg!(loom) {
            return (poll(), false);
        }
        LEFT.set(BUDGET);
        let out = poll();
        (out, LEFT.get() == SPENT)
    }

    /// Runs `f` (the loop's park, say) with the budget from before the
    /// scope, not the last poll's leftover: code between two polls is not a
    /// task's.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let mut cx = Context::from_waker(Waker::noop());
    /// let scope = bureau_coop::scope();
    /// scope.poll(bureau_coop::exhaust);
    /// scope.between_polls(|| {
    ///     assert!(bureau_coop::poll_budgeted(&mut cx, |_| Poll::Ready(())).is_ready());
    /// });
    /// ```
    #[inline]
    pub fn between_polls<R>(&self, f: impl FnOnce() -> R) -> R {
        LEFT.set(self.outer);
        f()
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        LEFT.set(self.outer);
    }
}

/// Polls one operation on the current poll's budget: `poll` runs only if
/// some budget is left, and one operation is spent if it completes (returns
/// `Ready`, with a value or an error); an operation that is not ready costs
/// nothing. With the budget spent it returns `Pending` without running
/// `poll`, having woken the task, so that the task is polled again after
/// the others.
///
/// # Examples
///
/// ```
/// use std::task::{Context, Poll, Waker};
///
/// let mut cx = Context::from_waker(Waker::noop());
/// // Outside a budgeted poll, every operation may go ahead.
/// assert_eq!(bureau_coop::poll_budgeted(&mut cx, |_| Poll::Ready(5)), Poll::Ready(5));
/// // Inside one, the 129th ready operation yields; one that is not ready
/// // costs nothing.
/// bureau_coop::budgeted(|| {
///     for _ in 0..bureau_coop::BUDGET {
///         assert!(bureau_coop::poll_budgeted(&mut cx, |_| Poll::<()>::Pending).is_pending());
///         assert!(bureau_coop::poll_budgeted(&mut cx, |_| Poll::Ready(())).is_ready());
///     }
///     assert!(bureau_coop::poll_budgeted(&mut cx, |_| Poll::Ready(())).is_pending());
/// });
/// ```
#[inline]
pub fn poll_budgeted<T>(
    cx: &mut Context<'_>,
    poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    if matches!(LEFT.get(), 0 | SPENT) {
        LEFT.set(SPENT);
        cx.waker().wake_by_ref();
        return Poll::Pending;
    }
    let out = poll(cx);
    if out.is_ready() {
        // Read again: `poll` may have run budgeted operations of its own.
        match LEFT.get() {
            UNLIMITED | SPENT | 0 => {}
            left => LEFT.set(left - 1),
        }
    }
    out
}

/// Marks the current poll's budget as spent, as if its task had yielded
/// for it: an executor that runs another executor's tasks inside one of its
/// own polls (`LocalExecutor::run`) passes on that one of them yielded, so
/// that the outer loop gives its reactor a turn too. Does nothing outside a
/// budgeted poll.
///
/// # Examples
///
/// ```
/// let ((), yielded) = bureau_coop::budgeted(bureau_coop::exhaust);
/// assert!(yielded);
/// ```
#[inline]
pub fn exhaust() {
    if LEFT.get() != UNLIMITED {
        LEFT.set(SPENT);
    }
}

/// Wakes every waker of `wakers` as an urgent wake (see the crate doc).
/// Each wake runs inside `wake`, which decides how to call it (the reactor
/// catches a panicking waker there).
///
/// # Examples
///
/// ```
/// use std::task::Waker;
///
/// let mut seen = false;
/// bureau_coop::wake_urgent([Waker::noop().clone()], |w| {
///     seen = bureau_coop::is_urgent();
///     w.wake();
/// });
/// assert!(seen && !bureau_coop::is_urgent());
/// ```
pub fn wake_urgent(wakers: impl IntoIterator<Item = Waker>, mut wake: impl FnMut(Waker)) {
    /// Clears the mark when the wakes end or unwind.
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            URGENT.set(false);
        }
    }
    let _clear = Clear;
    URGENT.set(!cfg!(loom));
    for waker in wakers {
        wake(waker);
    }
}

/// Whether the wake under way on this thread is urgent: a run queue that
/// sees `true` while it queues a task puts it ahead of the others.
///
/// # Examples
///
/// ```
/// assert!(!bureau_coop::is_urgent());
/// ```
#[inline]
pub fn is_urgent() -> bool {
    URGENT.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    #[test]
    fn a_budgeted_poll_completes_exactly_budget_operations() {
        let mut cx = noop();
        let (done, yielded) = budgeted(|| {
            let mut n = 0;
            while poll_budgeted(&mut cx, |_| Poll::Ready(())).is_ready() {
                n += 1;
            }
            n
        });
        assert_eq!(done, BUDGET);
        assert!(yielded);
    }

    #[test]
    fn an_operation_that_is_not_ready_spends_nothing() {
        let mut cx = noop();
        let ((), yielded) = budgeted(|| {
            for _ in 0..10 * BUDGET {
                assert!(poll_budgeted(&mut cx, |_| Poll::<()>::Pending).is_pending());
            }
            assert_eq!(LEFT.get(), BUDGET);
        });
        assert!(!yielded);
    }

    #[test]
    fn the_outer_budget_comes_back_after_a_nested_poll() {
        let mut cx = noop();
        let ((), _) = budgeted(|| {
            let _ = poll_budgeted(&mut cx, |_| Poll::Ready(()));
            let (_, inner) =
                budgeted(|| while poll_budgeted(&mut cx, |_| Poll::Ready(())).is_ready() {});
            assert!(inner);
            assert_eq!(LEFT.get(), BUDGET - 1);
        });
        assert_eq!(LEFT.get(), UNLIMITED);
    }

    #[test]
    fn a_panicking_poll_leaves_the_budget_unlimited() {
        let caught = std::panic::catch_unwind(|| budgeted(|| panic!("in a poll")));
        assert!(caught.is_err());
        assert_eq!(LEFT.get(), UNLIMITED);
    }

    #[test]
    fn a_poll_that_stays_within_its_budget_did_not_yield() {
        let mut cx = noop();
        let ((), yielded) =
            budgeted(|| assert!(poll_budgeted(&mut cx, |_| Poll::Ready(())).is_ready()));
        assert!(!yielded);
    }

    #[test]
    fn code_between_polls_has_the_outer_budget() {
        let scope = scope();
        scope.poll(exhaust);
        assert_eq!(scope.between_polls(|| LEFT.get()), UNLIMITED);
    }

    #[test]
    fn a_spent_budget_wakes_the_task() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        struct Flag(AtomicBool);
        impl std::task::Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        budgeted(|| while poll_budgeted(&mut cx, |_| Poll::Ready(())).is_ready() {});
        assert!(
            flag.0.load(Ordering::SeqCst),
            "the yielding task was not woken"
        );
    }
}
