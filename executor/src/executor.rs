//! [`LocalExecutor`]: spawns tasks and runs them on the thread that owns it.
//!
//! Three ways drive it: [`LocalExecutor::block_on`] (the run loop, sleeping
//! in a [`Park`]), [`LocalExecutor::run`] (the same loop as a future, inside
//! some other executor), and [`LocalExecutor::try_tick`] /
//! [`LocalExecutor::tick`] (one task at a time). This file must never learn
//! how a parker sleeps: epoll and timers belong to the reactor.

use crate::active::Active;
use crate::park::{Park, Unpark};
use crate::queue::{FAIRNESS_BATCH, Meta, RunQueue, Runnable};
use crate::sleep::Sleeper;
use crate::stats::{Counters, Stats};
use crate::sync::Arc;
use crate::sync::{AtomicBool, Ordering};
use crate::task::Task;
use crate::watch::Watch;
use async_task::Builder;
use bureau_coop::opaque;
use futures_lite::future::{self, FutureExt};
use pin_project_lite::pin_project;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, Location};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// A single-threaded executor: its tasks need not be `Send`, and they all run
/// on the thread that created it.
///
/// Its tasks need not be `'static` either: a `LocalExecutor<'a>` spawns
/// futures that live for `'a`, so they may borrow from the stack around
/// it. Dropping the executor cancels its unfinished tasks and drops their
/// futures, so the borrow checker lets those borrows end only once the
/// executor is gone. `LocalExecutor::new()` infers `'a`; where a type must
/// be named in full (a `static`, a field) a `'static` executor is
/// `LocalExecutor<'static>`, and in a function's arguments `&LocalExecutor`
/// takes an executor of any lifetime.
///
/// # Examples
///
/// ```
/// use bureau_executor::{LocalExecutor, ThreadParker};
/// use std::rc::Rc;
///
/// let ex = LocalExecutor::new();
/// let shared = Rc::new(5); // not `Send`, and that is fine here
/// let task = ex.spawn({
///     let shared = shared.clone();
///     async move { *shared * 2 }
/// });
/// assert_eq!(ex.block_on(&mut ThreadParker::new(), task), 10);
/// ```
///
/// Tasks that borrow from the stack:
///
/// ```
/// use bureau_executor::{LocalExecutor, ThreadParker};
/// use std::cell::RefCell;
///
/// let log = RefCell::new(Vec::new());
/// {
///     let ex = LocalExecutor::new();
///     let log = &log;
///     let tasks: Vec<_> = (0..3)
///         .map(|i| ex.spawn(async move { log.borrow_mut().push(i) }))
///         .collect();
///     ex.block_on(&mut ThreadParker::new(), async {
///         for task in tasks {
///             task.await;
///         }
///     });
/// } // the executor is dropped here, and with it its borrow of `log`
/// assert_eq!(log.into_inner(), [0, 1, 2]);
/// ```
///
/// A borrow must outlive the executor that may still hold it:
///
/// ```compile_fail,E0597
/// use bureau_executor::LocalExecutor;
///
/// let ex = LocalExecutor::new();
/// {
///     let local = 1;
///     let local = &local;
///     ex.spawn(async move { *local + 1 }).detach();
/// } // `local` dropped here while `ex` may still hold the task
/// while ex.try_tick() {}
/// ```
///
/// Nor can an executor that lives longer pass for one that lives shorter
/// (`LocalExecutor<'a>` is invariant in `'a`):
///
/// ```compile_fail
/// use bureau_executor::LocalExecutor;
///
/// fn shorten<'s>(ex: &'s LocalExecutor<'static>) -> &'s LocalExecutor<'s> {
///     ex
/// }
/// ```
pub struct LocalExecutor<'a> {
    queue: Arc<RunQueue>,
    /// Also makes the executor `!Send` and `!Sync`, as its tasks are.
    active: Rc<RefCell<Active>>,
    counters: Counters,
    /// Invariant in `'a`: were it covariant, a `&LocalExecutor<'long>`
    /// could pass for a `&LocalExecutor<'short>` and take a future that
    /// borrows for `'short` only, which the executor would drop after
    /// `'short` has ended.
    _borrows: PhantomData<std::cell::UnsafeCell<&'a ()>>,
}

impl<'a> LocalExecutor<'a> {
    /// Creates an executor owned by the current thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let ex = bureau_executor::LocalExecutor::new();
    /// assert!(ex.is_empty());
    /// ```
    pub fn new() -> Self {
        LocalExecutor {
            queue: RunQueue::new(),
            active: Rc::new(RefCell::new(Active::default())),
            counters: Counters::default(),
            _borrows: PhantomData,
        }
    }

    /// Spawns `future` as a task of this executor; it starts running the
    /// next time the executor runs.
    ///
    /// The place of the call is kept with the task (`#[track_caller]`): a
    /// slow-poll report names it.
    ///
    /// # Examples
    ///
    /// ```
    /// use bureau_executor::LocalExecutor;
    ///
    /// let ex = LocalExecutor::new();
    /// let task = ex.spawn(async { "hello" });
    /// assert!(ex.try_tick());
    /// assert!(task.is_finished());
    /// ```
    #[track_caller]
    pub fn spawn<T: 'a>(&self, future: impl Future<Output = T> + 'a) -> Task<T> {
        self.spawn_at(Location::caller(), future)
    }

    /// Spawns `future` as [`spawn`](Self::spawn) does, with `site` as the
    /// place a slow-poll report names: for a wrapper of `spawn` that cannot
    /// pass its own caller's place on through `#[track_caller]` (one that
    /// reaches the executor inside a closure).
    ///
    /// # Examples
    ///
    /// ```
    /// use bureau_executor::LocalExecutor;
    /// use std::panic::Location;
    ///
    /// #[track_caller]
    /// fn spawn_logged(ex: &LocalExecutor<'_>) {
    ///     let site = Location::caller();
    ///     let spawn = || ex.spawn_at(site, async move { println!("spawned at {site}") });
    ///     spawn().detach();
    /// }
    ///
    /// let ex = LocalExecutor::new();
    /// spawn_logged(&ex);
    /// while ex.try_tick() {}
    /// ```
    pub fn spawn_at<T: 'a>(
        &self,
        site: &'static Location<'static>,
        future: impl Future<Output = T> + 'a,
    ) -> Task<T> {
        let key = self.active.borrow_mut().reserve();
        let future = Tracked {
            future: Some(future),
            _finished: Finished {
                active: self.active.clone(),
                key,
            },
        };
        let builder = Builder::new().propagate_panic(true).metadata(Meta {
            queue: self.queue.clone(),
            site,
        });
        // Not `spawn_local`, which checks the thread on every poll and drop
        // and asks for `'static`: the executor already guarantees what it
        // checks, and its tasks may borrow for `'a`. async-task's
        // preconditions for `spawn_unchecked`, in turn:
        //
        // - A `!Send` future: its `Runnable` must be run and dropped on this
        //   thread. It is run only by this executor, which is `!Send` and
        //   `!Sync`, and dropped only by the run queue on this thread
        //   (`RunQueue::push_slow` in `Mode::Closed`, `RunQueue::close`). A
        //   wake from another thread only pushes it onto the remote queue,
        //   which this thread pops; one that arrives after `close` leaks it
        //   (`mem::forget`), and never runs or drops it there.
        //
        // - A non-`'static` future: what it borrows must outlive its
        //   `Runnable`, that is, the future must be neither polled nor
        //   dropped once `'a` has ended. `LocalExecutor<'a>` has a `Drop`
        //   impl, so `'a` is still live when the executor is dropped, and
        //   its `Drop` drops every future still alive: `active` holds the
        //   waker of every task from `fill` below until `Finished` sees its
        //   future dropped; `Active::take_all` wakes each (an idle task is
        //   queued, one already queued stays where it is), and
        //   `RunQueue::close` drops every queued `Runnable`, dropping its
        //   future on this thread. No task is running then: tasks run only
        //   inside this executor's `&self` methods. Any later schedule, by
        //   a waker or a `Task` handle that outlives the executor, finds
        //   the queue closed: on this thread the task, whose future is
        //   already gone, is dropped; on another its `Runnable` is leaked. A leaked `Runnable` (the remote wake that
        //   raced with `close`) is never run nor dropped, and it holds a
        //   reference of the task, so no last waker can reschedule it:
        //   leaking is not dropping, and after `'a` nothing reads its
        //   future. Forgetting the executor leaks its queue likewise, and
        //   with it every task. A `Task<T>` outliving the executor reaches
        //   only the output, never the future; the output's type is `T`,
        //   whose own lifetimes the borrow checker enforces on the handle.
        //   Invariance in `'a` (`_borrows`) keeps a shorter-lived future
        //   from reaching an executor that lives longer.
        //
        // - A schedule function that is not `Send + Sync`: it is
        //   `RunQueue::schedule`, a plain `fn` that captures nothing, so
        //   it is `Send + Sync` (it reaches the queue through the task's
        //   metadata, whose `Arc<RunQueue>` is `Send + Sync`).
        //
        // - A schedule function that is not `'static`: it is `'static`.
        let schedule = RunQueue::schedule;
        // SAFETY: each precondition of `spawn_unchecked` is met (above).
        let (runnable, task) = unsafe { builder.spawn_unchecked(move |_| future, schedule) };
        self.active.borrow_mut().fill(key, runnable.waker());
        runnable.schedule();
        Task::local(task)
    }

    /// Runs one queued task, if there is one, and says whether it did.
    ///
    /// # Examples
    ///
    /// ```
    /// use bureau_executor::LocalExecutor;
    ///
    /// let ex = LocalExecutor::new();
    /// assert!(!ex.try_tick()); // nothing to run
    /// ex.spawn(async {}).detach();
    /// assert!(ex.try_tick());
    /// ```
    pub fn try_tick(&self) -> bool {
        match self.queue.pop() {
            Some(runnable) => {
                run(runnable);
                self.counters.add_polls(1);
                true
            }
            None => false,
        }
    }

    /// Waits until a task is queued, then runs it.
    ///
    /// # Examples
    ///
    /// ```
    /// use bureau_executor::LocalExecutor;
    ///
    /// let ex = LocalExecutor::new();
    /// let task = ex.spawn(async { 1 });
    /// futures_lite::future::block_on(ex.tick());
    /// assert!(task.is_finished());
    /// ```
    pub async fn tick(&self) {
        self.run_next().await;
    }

    /// Waits until a task is queued, then runs it; returns whether it
    /// yielded because it spent its cooperative budget.
    async fn run_next(&self) -> bool {
        let yielded = run(future::poll_fn(|cx| self.poll_runnable(cx)).await);
        self.counters.add_polls(1);
        yielded
    }

    /// Runs this executor's tasks while awaiting `future`, and returns its
    /// output.
    ///
    /// Use it to drive a `LocalExecutor` from inside another executor; on a
    /// thread of its own, [`block_on`](Self::block_on) is cheaper.
    ///
    /// # Examples
    ///
    /// ```
    /// use bureau_executor::LocalExecutor;
    ///
    /// let ex = LocalExecutor::new();
    /// let task = ex.spawn(async { 20 });
    /// let out = futures_lite::future::block_on(ex.run(async { task.await + 1 }));
    /// assert_eq!(out, 21);
    /// ```
    pub async fn run<T>(&self, future: impl Future<Output = T>) -> T {
        let runner = async {
            loop {
                // A task that spent its budget ends the batch early, and
                // marks the outer poll's budget spent, so that the outer
                // executor gives its reactor a turn too.
                for _ in 0..FAIRNESS_BATCH {
                    if self.run_next().await {
                        bureau_coop::exhaust();
                        break;
                    }
                }
                future::yield_now().await;
            }
        };
        future.or(runner).await
    }

    /// Runs this executor on the current thread until `future` completes,
    /// sleeping in `parker` whenever there is nothing to run.
    ///
    /// The parker also gets a non-blocking turn at least once every 64 task
    /// polls, and right after a task yields because it spent its
    /// cooperative budget (see `bureau_coop`), so a reactor behind it keeps
    /// collecting I/O and timer events while tasks are busy.
    ///
    /// It keeps the executor's [`stats`](Self::stats) (busy and idle time,
    /// polls, the loop delay), and reports on stderr a poll that holds the
    /// loop longer than `BUREAU_SLOW_POLL_MS` (see [`SlowPoll`]).
    ///
    /// [`SlowPoll`]: crate::SlowPoll
    ///
    /// # Examples
    ///
    /// ```
    /// use bureau_executor::{LocalExecutor, ThreadParker};
    ///
    /// let ex = LocalExecutor::new();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let task = ex.spawn(async move { tx.send(3).unwrap() });
    /// ex.block_on(&mut ThreadParker::new(), task);
    /// assert_eq!(rx.recv().unwrap(), 3);
    /// ```
    pub fn block_on<P: Park, F: Future>(&self, parker: &mut P, future: F) -> F::Output {
        let unpark = Waker::from(std::sync::Arc::new(UnparkWaker(parker.unparker())));
        let _unpark = UnparkSlot::fill(&self.queue, unpark);
        let main = std::sync::Arc::new(MainWake {
            woken: AtomicBool::new(true),
            queue: self.queue.clone(),
        });
        let main_waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&main_waker);
        let mut future = pin!(future);
        // Polls (of `future` and of tasks) since the parker's last turn.
        let mut polls = 0;
        // Each poll gets a fresh cooperative budget.
        let budget = bureau_coop::scope();
        // The loop's clock, read at each turn and sleep (see `watch.rs`).
        let mut watch = Watch::new();
        // One iteration of the run loop, one call per step.
        loop {
            // 1. Poll the main future, if it was woken since its last poll.
            if opaque::internal(|| main.woken.swap(false, Ordering::AcqRel)) {
                let (poll, yielded) = budget.poll(|| future.as_mut().poll(&mut cx));
                watch.main_poll(polls, &self.counters);
                polls += 1;
                if let Poll::Ready(output) = poll {
                    watch.end_batch(polls, &self.counters);
                    return output;
                }
                if yielded {
                    // The reactor's turn now, and then the tasks: `future`
                    // woke itself, and must not be polled again before them.
                    self.park_in(parker, &budget, &mut watch, polls, Some(Duration::ZERO));
                    polls = 0;
                }
            }
            // 2. Run queued tasks until `FAIRNESS_BATCH` polls since the
            //    parker's last turn, or until none is queued, or one yields
            //    for its budget; each poll timed if the batch is (see
            //    `watch.rs`).
            let yielded;
            (polls, yielded) = if watch.timed() {
                self.run_batch::<true>(&budget, &mut watch, polls)
            } else {
                self.run_batch::<false>(&budget, &mut watch, polls)
            };
            // 3. After `FAIRNESS_BATCH` polls, or a task that yielded for
            //    its budget, the parker's non-blocking turn, and the loop
            //    starts over.
            if polls >= FAIRNESS_BATCH || yielded {
                self.park_in(parker, &budget, &mut watch, polls, Some(Duration::ZERO));
                polls = 0;
                continue;
            }
            // 4. Nothing left to run: decide whether to sleep. Not if the
            //    main future was woken, nor if a task was queued since the
            //    queues were last looked at (`Sleep::prepare`).
            if opaque::internal(|| main.woken.load(Ordering::Acquire)) {
                continue;
            }
            if opaque::internal(|| self.queue.prepare_sleep(Sleeper::Parker)) {
                // 5. Park until a wake (`Unpark::unpark`) or the parker's
                //    own events.
                self.park_in(parker, &budget, &mut watch, polls, None);
                polls = 0;
            }
            // 6. Mark the loop awake (`Sleep::awake`): while it runs, a
            //    remote wake is one atomic swap and no unpark.
            opaque::internal(|| self.queue.awake());
        }
    }

    /// Step 2 of `block_on`'s loop: runs queued tasks while fewer than
    /// [`FAIRNESS_BATCH`] polls have been made since the parker's last
    /// turn; returns the new count of polls, and whether the last task
    /// yielded for its budget. `TIMED`: each poll is timed (else only its
    /// spawn site is noted).
    #[inline]
    fn run_batch<const TIMED: bool>(
        &self,
        budget: &bureau_coop::Scope,
        watch: &mut Watch,
        mut polls: usize,
    ) -> (usize, bool) {
        while polls < FAIRNESS_BATCH {
            let Some(runnable) = opaque::internal(|| self.queue.pop()) else {
                break;
            };
            let site = Some(runnable.metadata().site);
            let (_, yielded) = budget.poll(|| runnable.run());
            if TIMED {
                watch.timed_poll(site, &self.counters);
            } else {
                watch.untimed_poll(polls, site);
            }
            polls += 1;
            // A task that yielded for its budget found its I/O ready
            // again and again: let the parker look at the rest of the
            // world (timers due, other sockets) before the next poll.
            if yielded {
                return (polls, true);
            }
        }
        (polls, false)
    }

    /// Steps 3 and 5 of `block_on`'s loop: ends the batch of `polls` polls
    /// (`watch`), then
    /// parks for at most `timeout`, marked as parked in the run queue (see
    /// `RunQueue::parking`). A park that may block is idle time.
    fn park_in<P: Park>(
        &self,
        parker: &mut P,
        budget: &bureau_coop::Scope,
        watch: &mut Watch,
        polls: usize,
        timeout: Option<Duration>,
    ) {
        let from = watch.end_batch(polls, &self.counters);
        opaque::internal(|| {
            let _parking = self.queue.parking();
            budget.between_polls(|| parker.park(timeout));
        });
        if timeout != Some(Duration::ZERO) {
            watch.slept(from, &self.counters);
        }
    }

    /// A snapshot of this executor's counters, and of this thread's loop
    /// delay.
    ///
    /// # Examples
    ///
    /// ```
    /// use bureau_executor::{LocalExecutor, ThreadParker};
    ///
    /// let ex = LocalExecutor::new();
    /// let tasks: Vec<_> = (0..3).map(|i| ex.spawn(async move { i })).collect();
    /// assert_eq!(ex.stats().queued, 3);
    /// ex.block_on(&mut ThreadParker::new(), async {
    ///     for task in tasks {
    ///         task.await;
    ///     }
    /// });
    /// let stats = ex.stats();
    /// assert_eq!(stats.tasks_spawned, 3);
    /// // The three tasks, and the future above twice: once before they ran.
    /// assert_eq!(stats.polls, 5);
    /// ```
    pub fn stats(&self) -> Stats {
        let (alive, spawned) = self
            .active
            .try_borrow()
            .map_or((0, 0), |a| (a.len(), a.spawned()));
        self.counters.snapshot(alive, spawned, self.queue.len())
    }

    /// Whether every task spawned on this executor has finished (or been
    /// cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// use bureau_executor::LocalExecutor;
    ///
    /// let ex = LocalExecutor::new();
    /// let task = ex.spawn(async {});
    /// assert!(!ex.is_empty());
    /// while ex.try_tick() {}
    /// assert!(ex.is_empty());
    /// # drop(task);
    /// ```
    pub fn is_empty(&self) -> bool {
        self.active.borrow().len() == 0
    }

    /// Takes the next queued task, or registers `cx`'s waker to hear of one.
    fn poll_runnable(&self, cx: &mut Context<'_>) -> Poll<Runnable> {
        loop {
            if let Some(runnable) = self.queue.pop() {
                return Poll::Ready(runnable);
            }
            if self.queue.prepare_sleep(Sleeper::Future(cx.waker())) {
                return Poll::Pending;
            }
        }
    }
}

impl Default for LocalExecutor<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for LocalExecutor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalExecutor")
            .field("active", &self.active.borrow().len())
            .field("idle", &self.queue.is_idle())
            .finish()
    }
}

impl Drop for LocalExecutor<'_> {
    // Not `#[may_dangle]`: `'a` must still be live here, as the futures
    // dropped here may borrow for `'a`.
    fn drop(&mut self) {
        // Wake every unfinished task so that it is queued, then drop the
        // queued runnables: that drops the tasks' futures here, on the
        // thread they belong to.
        let wakers = self.active.borrow_mut().take_all();
        for waker in wakers {
            waker.wake();
        }
        self.queue.close();
    }
}

/// Runs one task with a fresh cooperative budget; returns whether it
/// yielded because it spent the budget.
fn run(runnable: Runnable) -> bool {
    bureau_coop::budgeted(|| runnable.run()).1
}

pin_project! {
    /// A task's future, with the guard that frees its slot in [`Active`].
    ///
    /// A struct rather than an `async` block, which would keep the future
    /// twice in the task (once captured, once awaited) and so double the
    /// memory of every task.
    ///
    /// async-task drops a task's future (when it completes, when it is
    /// cancelled, when the executor goes) inside a guard that aborts the
    /// process on a panic. So the future is dropped here first, in
    /// `catch_unwind`: a panicking `Drop` in it is printed by the panic hook,
    /// as a detached task's panic is, and the loop goes on. `None` once
    /// dropped.
    struct Tracked<F> {
        #[pin]
        future: Option<F>,
        _finished: Finished,
    }

    impl<F> PinnedDrop for Tracked<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut future = this.project().future;
            // Assigning drops the old value in place; if its drop panics,
            // the place still ends up `None`. Nothing of the future is used
            // afterwards, so no broken state can be observed.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| future.set(None)));
        }
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match self.project().future.as_pin_mut() {
            Some(future) => future.poll(cx),
            // async-task never polls a future again once it has dropped it.
            None => unreachable!("bureau: a task's future was polled after it was dropped"),
        }
    }
}

/// Frees a task's slot in [`Active`] when its future completes or is dropped,
/// even if it was never polled.
struct Finished {
    active: Rc<RefCell<Active>>,
    key: usize,
}

impl Drop for Finished {
    fn drop(&mut self) {
        if let Ok(mut active) = self.active.try_borrow_mut() {
            active.remove(self.key);
        }
    }
}

/// Holds the waker that unparks the loop in the sleep protocol for one `block_on`, and
/// takes it out again when `block_on` returns or unwinds.
struct UnparkSlot<'a>(&'a RunQueue);

impl<'a> UnparkSlot<'a> {
    fn fill(queue: &'a RunQueue, unpark: Waker) -> Self {
        queue.set_unpark(Some(unpark));
        UnparkSlot(queue)
    }
}

impl Drop for UnparkSlot<'_> {
    fn drop(&mut self) {
        self.0.set_unpark(None);
    }
}

/// The waker that the sleep protocol calls to end a [`Park::park`].
struct UnparkWaker<U>(U);

impl<U: Unpark> Wake for UnparkWaker<U> {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

/// The waker of the future passed to [`LocalExecutor::block_on`].
struct MainWake {
    woken: AtomicBool,
    queue: Arc<RunQueue>,
}

impl Wake for MainWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        opaque::internal(|| {
            if !self.woken.swap(true, Ordering::AcqRel) {
                self.queue.notify();
            }
        });
    }
}
