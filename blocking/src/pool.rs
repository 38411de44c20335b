//! The thread pool: a queue of jobs and the worker threads that run them.
//!
//! Threads start on demand up to a maximum, a warm idle thread is reused
//! before a new one starts, and an idle thread exits after a keep-alive.
//! This module must never know what a job does (it only runs
//! `async_task::Runnable`s) and must never block the thread that submits.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::time::Duration;

use async_task::{Runnable, Task};
use bureau_coop::{Caught, opaque};

use crate::sync::{
    Arc, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering, lock, spawn_thread, wait_timeout,
    yield_now,
};

/// The name every worker thread carries.
const THREAD_NAME: &str = "bureau-blocking";

/// How many times an idle worker yields, looking at the queue, before it
/// sleeps (once under loom, to keep the models small). The spin is meant
/// to outlast the event loop's round trip (waking for the finished job and
/// submitting its next one), so that a task that awaits one job after
/// another finds the worker awake and neither side pays a futex wake for
/// the hand-over. Each spin is a yield, so a core that others need is
/// given up at once.
const SPINS: usize = if cfg!(loom) { 1 } else { 100 };

/// A pool of threads that run blocking jobs.
///
/// Most programs use the process-wide pool through [`unblock`](crate::unblock);
/// a `Pool` of its own is for tests and for work that must not share threads.
///
/// ```
/// use std::num::NonZeroUsize;
/// use std::time::Duration;
/// use bureau_blocking::Pool;
///
/// let pool = Pool::new(NonZeroUsize::new(4).unwrap(), Duration::from_millis(100));
/// let task = pool.spawn(|| 6 * 7);
/// assert_eq!(futures_lite::future::block_on(task), 42);
/// ```
pub struct Pool {
    inner: Arc<Inner>,
}

/// What the submitters and the workers share.
struct Inner {
    /// The jobs waiting and the workers' counts; a worker decides to sleep
    /// or exit under this lock.
    queue: Mutex<Queue>,
    /// The number of jobs waiting, written under `queue`, so that a spinning
    /// worker can watch for a job without taking the lock.
    queued: AtomicUsize,
    /// Wakes a sleeping worker when a job arrives.
    job_ready: Condvar,
    max_threads: usize,
    keep_alive: Duration,
}

/// The jobs waiting for a thread, with how many workers exist and what the
/// idle ones are doing.
///
/// A worker that is idle and not `sleeping` (starting, back from a job,
/// spinning, or woken) looks at the queue before it can sleep or exit, so
/// a job needs a new thread or a wakeup only when the queue holds more jobs
/// than there are such workers: the pool never starts more threads than
/// there are jobs waiting for one.
struct Queue {
    /// Jobs waiting for a thread. Under the same lock as the counts below,
    /// so that its length and the counts are seen together; a plain `VecDeque`
    /// rather than a lock-free queue, which would cost code and buy nothing
    /// here.
    jobs: VecDeque<Runnable>,
    /// Worker threads alive.
    threads: usize,
    /// Workers not running a job (including the sleeping ones).
    idle: usize,
    /// Idle workers waiting on `job_ready` that no submitter has claimed.
    sleeping: usize,
    /// Sleepers claimed by a submitter and told to look at the queue, that
    /// have not yet come back from the wait.
    wakeups: usize,
    /// Jobs a worker has taken off the queue to run.
    ran: u64,
}

impl Queue {
    /// Idle workers that will look at the queue without being woken.
    fn awake(&self) -> usize {
        self.idle - self.sleeping
    }
}

/// A snapshot of a pool's threads and jobs (see [`Pool::stats`]).
///
/// ```
/// let s = bureau_blocking::stats();
/// assert!(s.idle <= s.threads);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Worker threads alive.
    pub threads: usize,
    /// Of those, the ones not running a job.
    pub idle: usize,
    /// Jobs waiting for a thread.
    pub queued: usize,
    /// Jobs taken off the queue to run since the pool was created.
    pub ran: u64,
}

impl Pool {
    /// How many threads the pool has and what they are doing: one short
    /// hold of the pool's lock.
    ///
    /// ```
    /// use bureau_blocking::Pool;
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// let pool = Pool::new(NonZeroUsize::MIN, Duration::from_millis(100));
    /// futures_lite::future::block_on(pool.spawn(|| ()));
    /// assert_eq!(pool.stats().ran, 1);
    /// ```
    pub fn stats(&self) -> Stats {
        let queue = lock(&self.inner.queue);
        Stats {
            threads: queue.threads,
            idle: queue.idle,
            queued: queue.jobs.len(),
            ran: queue.ran,
        }
    }

    /// Creates a pool that runs at most `max_threads` jobs at once and lets
    /// an idle thread exit after `keep_alive` without work.
    ///
    /// No thread starts until the first job is submitted.
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    /// use bureau_blocking::Pool;
    ///
    /// let pool = Pool::new(NonZeroUsize::MIN, Duration::from_secs(1));
    /// assert_eq!(futures_lite::future::block_on(pool.spawn(|| "done")), "done");
    /// ```
    pub fn new(max_threads: NonZeroUsize, keep_alive: Duration) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                queue: Mutex::new(Queue {
                    jobs: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    sleeping: 0,
                    wakeups: 0,
                    ran: 0,
                }),
                queued: AtomicUsize::new(0),
                job_ready: Condvar::new(),
                max_threads: max_threads.get(),
                keep_alive,
            }),
        }
    }

    /// Runs `f` on one of the pool's threads; the returned task completes
    /// with its result.
    ///
    /// A panic in `f` resurfaces where the task is awaited. Dropping the
    /// task before a thread picks the job up means `f` never runs.
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    /// use bureau_blocking::Pool;
    ///
    /// let pool = Pool::new(NonZeroUsize::new(2).unwrap(), Duration::from_millis(100));
    /// let len = pool.spawn(|| std::fs::read("/nonexistent").map(|bytes| bytes.len()));
    /// let err = futures_lite::future::block_on(len).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// ```
    pub fn spawn<T, F>(&self, f: F) -> Caught<Task<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        opaque::internal(|| self.submit_job(f))
    }

    /// The body of [`Pool::spawn`].
    fn submit_job<T, F>(&self, f: F) -> Caught<Task<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let inner = self.inner.clone();
        // One value, so that a job cancelled before it ran drops `f` (the
        // user's captures, whose drops may block) before `IdleOnDrop`
        // counts the worker idle: a tuple drops its fields in order. A
        // worker counted idle while it still ran user code would be
        // counted on to take the next job.
        let job = (f, IdleOnDrop(Some(self.inner.clone())));
        #[cfg(loom)]
        let hand_off = bureau_coop::HandOff::default();
        #[cfg(loom)]
        let done = hand_off.clone();
        let (runnable, task) = async_task::Builder::new().propagate_panic(true).spawn(
            move |()| async move {
                let (f, _idle_on_drop) = job;
                // `f` is the user's code: explored in a user's loom model.
                opaque::external(|| {
                    let output = f();
                    // Under loom: what `f` did happens before the poll that
                    // finds the job complete (see `Caught::sharing`).
                    #[cfg(loom)]
                    drop(opaque::lock(&done));
                    output
                })
            },
            move |runnable| submit(&inner, runnable),
        );
        runnable.schedule();
        // The job completes on a worker, where async-task wakes the awaiter
        // inside an abort-on-panic guard: the awaiter's waker is wrapped.
        #[cfg(loom)]
        return Caught::sharing(task, hand_off);
        #[cfg(not(loom))]
        Caught::new(task)
    }
}

/// Held by a job's future: when the future is dropped (`f` returned or
/// panicked, or the job was cancelled and never ran), the worker running it
/// counts itself idle again, after `f` and what it captured are gone. That
/// happens before the task completes, so a submitter woken by the
/// completion finds the warm worker. (An `Option` only so that, under
/// loom, the pool is let go inside the same single step: one explored
/// operation less per job, and two racing jobs' model 5,100 interleavings
/// instead of 47,902.)
struct IdleOnDrop(Option<Arc<Inner>>);

impl Drop for IdleOnDrop {
    fn drop(&mut self) {
        opaque::internal(|| {
            if let Some(inner) = self.0.take() {
                lock(&inner.queue).idle += 1;
            }
        });
    }
}

impl Inner {
    /// A worker's life: run jobs while there are any, sleep while idle,
    /// exit after `keep_alive` without work.
    fn work(&self) {
        let mut queue = lock(&self.queue);
        let mut spun = false;
        loop {
            if let Some(runnable) = queue.jobs.pop_front() {
                self.queued.store(queue.jobs.len(), Ordering::Relaxed);
                queue.ran += 1;
                spun = false;
                queue.idle -= 1;
                drop(queue);
                // The job's `IdleOnDrop` counts this worker idle again. The
                // run drops what the user's job holds (all of it if the job
                // was cancelled, its output if nobody awaits it): user code,
                // explored in a user's loom model.
                opaque::external(|| runnable.run());
                queue = lock(&self.queue);
                continue;
            }
            if !spun {
                // Before sleeping, give a submitter that is about to hand
                // over the next job a moment: still counted awake, this
                // worker looks at the queue again, and saves a wakeup.
                spun = true;
                drop(queue);
                for _ in 0..SPINS {
                    if self.queued.load(Ordering::Relaxed) != 0 {
                        break;
                    }
                    yield_now();
                }
                queue = lock(&self.queue);
                continue;
            }
            spun = false;
            if cfg!(bureau_loom_broken = "pool_unlock_before_sleep") {
                queue = self.unlock_before_sleep(queue);
            }
            queue.sleeping += 1;
            let (guard, timed_out) =
                wait_timeout(&self.job_ready, &self.queue, queue, self.keep_alive);
            queue = guard;
            if queue.wakeups > 0 {
                // A submitter claimed a sleeper (this one or another: the
                // counts do not care which) and already took it off `sleeping`.
                queue.wakeups -= 1;
            } else {
                queue.sleeping -= 1;
                if timed_out {
                    // Unclaimed: every queued job is counted on another worker.
                    queue.idle -= 1;
                    queue.threads -= 1;
                    return;
                }
            }
        }
    }

    /// Broken on purpose, for the loom teeth (`--cfg
    /// bureau_loom_broken="pool_unlock_before_sleep"`): a job submitted
    /// while the lock is released here counts on this worker to look at the
    /// queue, and it goes to sleep without looking.
    fn unlock_before_sleep<'a>(&'a self, queue: MutexGuard<'a, Queue>) -> MutexGuard<'a, Queue> {
        drop(queue);
        lock(&self.queue)
    }
}

/// Queues a job and makes sure some thread will run it: an awake idle
/// worker if there are enough for the queue, else a sleeper woken, else a
/// new thread, else (every thread busy) the next worker to finish its job.
fn submit(inner: &Arc<Inner>, runnable: Runnable) {
    let mut queue = lock(&inner.queue);
    queue.jobs.push_back(runnable);
    let queued = queue.jobs.len();
    inner.queued.store(queued, Ordering::Relaxed);
    if queued <= queue.awake() {
        // Enough idle workers will look at the queue: no futex call.
    } else if queue.sleeping > 0 {
        queue.sleeping -= 1;
        queue.wakeups += 1;
        drop(queue);
        inner.job_ready.notify_one();
    } else if queue.threads < inner.max_threads {
        queue.threads += 1;
        queue.idle += 1;
        drop(queue);
        start_worker(inner);
    }
    // Otherwise every thread is busy and the job waits its turn: a busy
    // worker looks at the queue before it goes idle.
}

fn start_worker(inner: &Arc<Inner>) {
    let worker = inner.clone();
    // The worker's whole life, to its last hold of `inner`, is bureau's own
    // step in a user's loom model (`f` and yields step out of it).
    let Err(err) = spawn_thread(THREAD_NAME, move || opaque::internal(move || worker.work()))
    else {
        return;
    };
    let mut queue = lock(&inner.queue);
    queue.threads -= 1;
    queue.idle -= 1;
    if queue.threads == 0 {
        drop(queue);
        panic!(
            "bureau: the blocking pool cannot start a thread and has none to run the job: {err}"
        );
    }
    // A live worker will get to the job: a busy or awake one looks at the
    // queue before it sleeps. Submitters may have counted on the thread that
    // did not start, so a sleeper, if any, stands in for it.
    if queue.sleeping > 0 {
        queue.sleeping -= 1;
        queue.wakeups += 1;
        drop(queue);
        inner.job_ready.notify_one();
    }
}
