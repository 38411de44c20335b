//! Where the executor, the reactor and the pool meet: [`block_on`] runs this
//! thread's executor and parks it in the reactor, [`spawn`] puts a task on
//! that executor, and [`unblock`] gives the pool's tasks the same type.
//! The facade's own blocking calls (`fs`, name lookups in `net`, the
//! standard streams in `io`) reach the pool only through [`unblock`].
//!
//! Each thread has one executor, created on first use and kept for the
//! thread's life, so tasks spawned in one `block_on` go on running in the
//! next one on the same thread. This file must never implement scheduling,
//! polling or timers itself: it only connects the crates that do.
//!
//! Under `--cfg loom` the thread-locals are loom's (each thread of a
//! `loom::model` execution has its own), and the executor lives only as
//! long as the outermost `block_on`: it is dropped when that returns, inside
//! the model, rather than with the thread's thread-locals, when loom lets
//! none of them (which its drop needs) be read. So every execution starts
//! with a fresh executor, and a task still pending when `block_on` returns
//! is cancelled.

use crate::{LocalExecutor, Task};
use bureau_executor::{Park, Unpark};
use std::cell::Cell;
use std::future::Future;
use std::panic::Location;
use std::time::Duration;

#[cfg(not(loom))]
thread_local! {
    static EXECUTOR: LocalExecutor<'static> = LocalExecutor::new();
    static INSIDE_BLOCK_ON: Cell<bool> = const { Cell::new(false) };
}

// Under loom: loom's, and the executor only while `block_on` runs.
#[cfg(loom)]
loom::thread_local! {
    static EXECUTOR: std::cell::RefCell<Option<std::rc::Rc<LocalExecutor<'static>>>> =
        std::cell::RefCell::new(None);
    static INSIDE_BLOCK_ON: Cell<bool> = Cell::new(false);
}

/// Runs `f` on this thread's executor.
#[cfg(not(loom))]
#[inline]
fn with_executor<R>(f: impl FnOnce(&LocalExecutor<'static>) -> R) -> R {
    EXECUTOR.with(f)
}

/// Runs `f` on this thread's executor, made if there is none.
#[cfg(loom)]
fn with_executor<R>(f: impl FnOnce(&LocalExecutor<'static>) -> R) -> R {
    let executor = EXECUTOR.with(|e| {
        let mut e = e.borrow_mut();
        e.get_or_insert_with(|| std::rc::Rc::new(LocalExecutor::new()))
            .clone()
    });
    f(&executor)
}

/// Runs this thread's executor and the reactor until `future` completes, and
/// returns its output.
///
/// Tasks [`spawn`]ed inside keep running while it waits. When there is
/// nothing to run, the thread sleeps in the kernel until a socket, a timer or
/// another thread wakes it.
///
/// # Panics
///
/// If called inside another `bureau::block_on` on the same thread: `.await`
/// the future, or [`spawn`] it, instead.
///
/// # Examples
///
/// ```
/// let answer = bureau::block_on(async {
///     let task = bureau::spawn(async { 6 * 7 });
///     task.await
/// });
/// assert_eq!(answer, 42);
/// ```
pub fn block_on<T>(future: impl Future<Output = T>) -> T {
    #[cfg(loom)]
    bureau_coop::opaque::enable();
    let _inside = InsideBlockOn::enter();
    let mut parker = ReactorParker(bureau_reactor::Parker::new());
    with_executor(|executor| executor.block_on(&mut parker, future))
}

/// Spawns `future` onto the executor of the [`block_on`] running on this
/// thread. The future need not be `Send`.
///
/// Dropping the returned [`Task`] cancels the task; call
/// [`detach`](Task::detach) to let it run on its own. The place of the call
/// is kept with the task: a slow-poll report names it.
///
/// # Panics
///
/// Outside [`block_on`]: there is no executor to run the task.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
///
/// bureau::block_on(async {
///     let name = Rc::new("not Send");
///     let task = bureau::spawn(async move { name.len() });
///     assert_eq!(task.await, 8);
/// });
/// ```
#[track_caller]
pub fn spawn<T: 'static>(future: impl Future<Output = T> + 'static) -> Task<T> {
    if !INSIDE_BLOCK_ON.with(Cell::get) {
        panic!(
            "bureau::spawn was called outside bureau::block_on: there is no executor on this \
             thread to run the task. Call it from inside bureau::block_on(..), or create a \
             bureau::LocalExecutor and spawn onto that."
        );
    }
    let site = Location::caller();
    with_executor(|executor| executor.spawn_at(site, future))
}

/// This thread's executor's counters, for `bureau::stats`.
pub(crate) fn executor_stats() -> bureau_executor::Stats {
    with_executor(LocalExecutor::stats)
}

/// Whether a [`block_on`] is running on this thread, so that [`spawn`]
/// would find an executor: for adapters that spawn on another library's
/// behalf (`bureau::hyper`), to name themselves in their own panic.
#[cfg(feature = "hyper")]
pub(crate) fn inside_block_on() -> bool {
    INSIDE_BLOCK_ON.with(Cell::get)
}

/// Runs the blocking function `f` on the thread pool and returns a task that
/// completes with its result, without blocking the loop's thread.
///
/// Threads start on demand up to 500 at once, or `BUREAU_MAX_THREADS`; a
/// value there that is not a positive integer panics at first use. A panic
/// in `f` resurfaces where the task is awaited. Dropping the task before a
/// thread picks the job up means `f` never runs. The task has the same type
/// as one from [`spawn`], so the two can be kept side by side.
///
/// # Examples
///
/// ```
/// let tasks = bureau::block_on(async {
///     let tasks = vec![
///         bureau::spawn(async { 1 }),
///         bureau::unblock(|| 2), // a blocking call would go here
///     ];
///     let mut sum = 0;
///     for task in tasks {
///         sum += task.await;
///     }
///     sum
/// });
/// assert_eq!(tasks, 3);
/// ```
pub fn unblock<T, F>(f: F) -> Task<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    #[cfg(loom)]
    bureau_coop::opaque::enable();
    Task::from(bureau_blocking::unblock(f))
}

/// Marks this thread as inside [`block_on`] while it lives.
struct InsideBlockOn;

impl InsideBlockOn {
    fn enter() -> Self {
        if INSIDE_BLOCK_ON.with(|inside| inside.replace(true)) {
            panic!(
                "bureau::block_on was called inside another bureau::block_on on the same \
                 thread, which would stop the outer loop: .await the future, or bureau::spawn \
                 it, instead."
            );
        }
        InsideBlockOn
    }
}

impl Drop for InsideBlockOn {
    fn drop(&mut self) {
        INSIDE_BLOCK_ON.with(|inside| inside.set(false));
        // Under loom, the executor goes with the outermost `block_on`.
        #[cfg(loom)]
        drop(EXECUTOR.with(|e| e.borrow_mut().take()));
    }
}

/// The reactor as the executor's parker: the loop sleeps in `epoll_wait`.
struct ReactorParker(bureau_reactor::Parker);

/// The reactor's wake-up handle as the executor's unparker.
struct ReactorUnparker(bureau_reactor::Unparker);

impl Park for ReactorParker {
    type Unparker = ReactorUnparker;

    fn unparker(&self) -> ReactorUnparker {
        ReactorUnparker(self.0.unparker())
    }

    fn park(&mut self, timeout: Option<Duration>) {
        self.0.park(timeout);
    }
}

impl Unpark for ReactorUnparker {
    fn unpark(&self) {
        self.0.unpark();
    }
}
