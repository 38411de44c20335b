//! [`Task`]: the handle to a spawned task, and a future of its output.
//!
//! The executor's tasks carry their run queue in async-task's metadata (see
//! `queue.rs`), so their async-task type differs from that of a task that
//! other code made with async-task and schedules itself. `Task` gives both
//! one type, so that a user can keep them side by side. This file must
//! never schedule or run anything: it only forwards to the async-task
//! handle inside.

use crate::queue::Meta;
use bureau_coop::Caught;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

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
    Local(async_task::Task<T, Meta>),
    /// Made with async-task, with no metadata, and scheduled by code
    /// outside this crate, perhaps on another thread; polled through a
    /// waker that catches panics (`bureau_coop::Caught`), since a task that
    /// completes on another thread wakes its awaiter there, inside
    /// async-task's abort-on-panic guard. Boxed, so that a `Task` stays two
    /// words: a program may hold a million of them.
    Elsewhere(Box<Caught<async_task::Task<T>>>),
}

impl<T> Task<T> {
    pub(crate) fn local(task: async_task::Task<T, Meta>) -> Self {
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
            Handle::Elsewhere(caught) => caught.into_inner().detach(),
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
            Handle::Elsewhere(caught) => {
                // Awaited through the caught waker too: the task may
                // complete on another thread while the cancel waits for it.
                Caught::new(Box::pin(caught.into_inner().cancel())).await
            }
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
            Handle::Elsewhere(caught) => caught.get_ref().is_finished(),
        }
    }
}

/// Wraps a task made with async-task and scheduled elsewhere, so that it
/// has the same type as a spawned one. It is polled through a
/// [`Caught`] waker.
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
        Task::from(Caught::new(task))
    }
}

/// Wraps a task made with async-task and scheduled elsewhere that is
/// already polled through a [`Caught`] waker, so that it has the same type
/// as a spawned one.
///
/// # Examples
///
/// ```
/// use bureau_coop::Caught;
/// use bureau_executor::Task;
///
/// let (runnable, task) = async_task::spawn(async { 5 }, |_| {});
/// runnable.run();
/// let task: Task<i32> = Caught::new(task).into();
/// assert_eq!(futures_lite::future::block_on(task), 5);
/// ```
impl<T> From<Caught<async_task::Task<T>>> for Task<T> {
    fn from(task: Caught<async_task::Task<T>>) -> Self {
        Task(Handle::Elsewhere(Box::new(task)))
    }
}

impl<T> Future for Task<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match &mut self.get_mut().0 {
            Handle::Local(task) => Pin::new(task).poll(cx),
            Handle::Elsewhere(caught) => Pin::new(&mut **caught).poll(cx),
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
