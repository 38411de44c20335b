//! [`Task`]: the handle to a spawned task, and a future of its output.
//!
//! The executor's tasks carry their run queue in async-task's metadata (see
//! `queue.rs`), so their async-task type differs from that of a task made
//! elsewhere, such as the blocking pool's. `Task` gives both one type, so
//! that a user can keep them side by side. This file must never schedule or
//! run anything: it only forwards to the async-task handle inside.

use crate::queue::RunQueue;
use crate::sync::Arc;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

/// A handle to a spawned task, and a future that resolves to its output.
///
/// Dropping a `Task` cancels it; [`detach`](Task::detach) lets it run on
/// unobserved; [`cancel`](Task::cancel) cancels it and returns its output if
/// it had already finished. A panic inside the task resurfaces where its
/// `Task` is awaited.
///
/// # Examples
///
/// ```
/// use bureau_executor::{LocalExecutor, Task, ThreadParker};
///
/// let ex = LocalExecutor::new();
/// let task: Task<u32> = ex.spawn(async { 7 });
/// assert_eq!(ex.block_on(&mut ThreadParker::new(), task), 7);
/// ```
#[must_use = "dropping a `Task` cancels it; call `.detach()` to let it run"]
pub struct Task<T>(Handle<T>);

enum Handle<T> {
    /// Spawned on a [`LocalExecutor`](crate::LocalExecutor).
    Local(async_task::Task<T, Arc<RunQueue>>),
    /// Made directly with async-task, with no metadata. Boxed, so that a
    /// `Task` stays two words: a program may hold a million of them.
    Plain(Box<PlainTask<T>>),
}

/// A task made directly with async-task, with the waker it was last polled
/// through, wrapped in [`Caught`].
struct PlainTask<T> {
    task: async_task::Task<T>,
    registered: Option<Registered>,
}

impl<T> PlainTask<T> {
    /// Polls the task through a [`Caught`] wrapper of `cx`'s waker, made
    /// once for each new waker. Kept out of line, so that polling a task of
    /// the executor's own stays small enough to inline.
    #[inline(never)]
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<T> {
        let registered = match &mut self.registered {
            Some(r) if r.theirs.will_wake(cx.waker()) => r,
            slot => slot.insert(Registered {
                theirs: cx.waker().clone(),
                caught: Waker::from(std::sync::Arc::new(Caught(cx.waker().clone()))),
            }),
        };
        Pin::new(&mut self.task).poll(&mut Context::from_waker(&registered.caught))
    }
}

/// The waker a [`Handle::Plain`] task was polled with, and the [`Caught`]
/// wrapper of it that async-task holds instead.
struct Registered {
    theirs: Waker,
    caught: Waker,
}

/// A waker that wakes another and catches a panic of that wake.
///
/// A task made elsewhere (the pool's) completes on another thread, where
/// async-task wakes its awaiter inside a guard that aborts the process on a
/// panic. A foreign executor's waker that panics would end the process;
/// wrapped, its panic is printed by the panic hook and goes no further (its
/// task is then not woken: that waker was broken anyway).
struct Caught(Waker);

impl Wake for Caught {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| self.0.wake_by_ref()));
    }
}

impl<T> Task<T> {
    pub(crate) fn local(task: async_task::Task<T, Arc<RunQueue>>) -> Self {
        Task(Handle::Local(task))
    }

    /// Lets the task run to the end without a handle; its output is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use bureau_executor::LocalExecutor;
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// let ex = LocalExecutor::new();
    /// let ran = Rc::new(Cell::new(false));
    /// let flag = ran.clone();
    /// ex.spawn(async move { flag.set(true) }).detach();
    /// while ex.try_tick() {}
    /// assert!(ran.get());
    /// ```
    pub fn detach(self) {
        match self.0 {
            Handle::Local(task) => task.detach(),
            Handle::Plain(plain) => plain.task.detach(),
        }
    }

    /// Cancels the task and waits until it has stopped; returns its output
    /// if it had finished before it could be cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use bureau_executor::LocalExecutor;
    /// use futures_lite::future;
    ///
    /// let ex = LocalExecutor::new();
    /// let never = ex.spawn(future::pending::<()>());
    /// // The executor must run for the task's future to be dropped.
    /// assert_eq!(future::block_on(ex.run(never.cancel())), None);
    ///
    /// let done = ex.spawn(async { 3 });
    /// while ex.try_tick() {}
    /// assert_eq!(future::block_on(done.cancel()), Some(3));
    /// ```
    pub async fn cancel(self) -> Option<T> {
        match self.0 {
            Handle::Local(task) => task.cancel().await,
            Handle::Plain(plain) => plain.task.cancel().await,
        }
    }

    /// Whether the task has finished (or been cancelled): awaiting it then
    /// returns at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use bureau_executor::LocalExecutor;
    ///
    /// let ex = LocalExecutor::new();
    /// let task = ex.spawn(async {});
    /// assert!(!task.is_finished());
    /// ex.try_tick();
    /// assert!(task.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.0 {
            Handle::Local(task) => task.is_finished(),
            Handle::Plain(plain) => plain.task.is_finished(),
        }
    }
}

/// Wraps a task made directly with async-task, such as one that the
/// blocking pool returns, so that it has the same type as a spawned one.
///
/// # Examples
///
/// ```
/// use bureau_executor::Task;
///
/// let (runnable, task) = async_task::spawn(async { 5 }, |_| {});
/// runnable.run();
/// let task: Task<i32> = task.into();
/// assert_eq!(futures_lite::future::block_on(task), 5);
/// ```
impl<T> From<async_task::Task<T>> for Task<T> {
    fn from(task: async_task::Task<T>) -> Self {
        Task(Handle::Plain(Box::new(PlainTask {
            task,
            registered: None,
        })))
    }
}

impl<T> Future for Task<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match &mut self.get_mut().0 {
            Handle::Local(task) => Pin::new(task).poll(cx),
            Handle::Plain(plain) => plain.poll(cx),
        }
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("finished", &self.is_finished())
            .finish()
    }
}
