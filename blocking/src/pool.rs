//! The thread pool: a queue of jobs and the worker threads that run them.
//!
//! Threads start on demand up to a maximum, a warm idle thread is reused
//! before a new one starts, and an idle thread exits after a keep-alive.
//! This module must never know what a job does (it only runs
//! `async_task::Runnable`s) and must never block the thread that submits.

use std::num::NonZeroUsize;
use std::time::Duration;

use async_task::{Runnable, Task};
use concurrent_queue::ConcurrentQueue;

use crate::sync::{Arc, Condvar, Mutex, MutexGuard, lock, spawn_thread, wait_timeout};

/// The name every worker thread carries.
const THREAD_NAME: &str = "bureau-blocking";

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
    /// Jobs waiting for a thread.
    queue: ConcurrentQueue<Runnable>,
    /// Thread-count bookkeeping; a worker decides to sleep or exit under it.
    counts: Mutex<Counts>,
    /// Wakes a sleeping worker when a job arrives.
    job_ready: Condvar,
    max_threads: usize,
    keep_alive: Duration,
}

/// How many workers exist and what the idle ones are doing.
///
/// Invariant: `sleeping + wakeups` is the number of workers inside (or just
/// returning from) the wait on `job_ready`, and `returning` is at most the
/// number of workers whose job has finished and that have not yet come back
/// to the queue.
struct Counts {
    /// Worker threads alive.
    threads: usize,
    /// Workers whose job has just finished, unclaimed: each looks at the
    /// queue before it sleeps, so a submitter may count on one of them
    /// rather than start a thread.
    returning: usize,
    /// Idle workers that no submitter has claimed yet.
    sleeping: usize,
    /// Idle workers claimed by a submitter and told to look at the queue.
    wakeups: usize,
}

impl Pool {
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
                queue: ConcurrentQueue::unbounded(),
                counts: Mutex::new(Counts {
                    threads: 0,
                    returning: 0,
                    sleeping: 0,
                    wakeups: 0,
                }),
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
    pub fn spawn<T, F>(&self, f: F) -> Task<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let inner = self.inner.clone();
        let finished = self.inner.clone();
        let (runnable, task) = async_task::Builder::new().propagate_panic(true).spawn(
            move |()| run_job(f, finished),
            move |runnable| submit(&inner, runnable),
        );
        runnable.schedule();
        task
    }
}

/// A future that calls `f` when first polled and is then ready.
///
/// Its worker counts itself as returning before the task completes, so a
/// submitter woken by that completion finds the warm worker.
async fn run_job<T, F: FnOnce() -> T>(f: F, inner: Arc<Inner>) -> T {
    let output = f();
    inner.lock().returning += 1;
    output
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Counts> {
        lock(&self.counts)
    }

    /// A worker's life: run jobs while there are any, sleep while idle,
    /// exit after `keep_alive` without work.
    fn work(&self) {
        let mut counts = self.lock();
        loop {
            if let Ok(runnable) = self.queue.pop() {
                drop(counts);
                runnable.run();
                counts = self.lock();
                // Unless a submitter claimed it (this worker or another: the
                // counts do not care which), the mark of the finished job goes.
                counts.returning = counts.returning.saturating_sub(1);
                continue;
            }
            if cfg!(bureau_loom_broken = "pool_unlock_before_sleep") {
                // Broken on purpose, for the loom models: a job submitted
                // while the lock is released here finds no worker to count
                // on, and this one goes to sleep without seeing it.
                drop(counts);
                counts = self.lock();
            }
            counts.sleeping += 1;
            let (guard, timed_out) =
                wait_timeout(&self.job_ready, &self.counts, counts, self.keep_alive);
            counts = guard;
            if counts.wakeups > 0 {
                // A submitter claimed a sleeper (this one or another: the
                // counts do not care which) and already took it off `sleeping`.
                counts.wakeups -= 1;
            } else {
                counts.sleeping -= 1;
                if timed_out {
                    counts.threads -= 1;
                    return;
                }
            }
        }
    }
}

/// Queues a job and makes sure some thread will run it.
fn submit(inner: &Arc<Inner>, runnable: Runnable) {
    if inner.queue.push(runnable).is_err() {
        unreachable!("the pool's queue is unbounded and never closed");
    }
    let mut counts = inner.lock();
    if counts.sleeping > 0 {
        counts.sleeping -= 1;
        counts.wakeups += 1;
        drop(counts);
        inner.job_ready.notify_one();
    } else if counts.returning > 0 {
        // That worker pops from the queue before it can sleep.
        counts.returning -= 1;
    } else if counts.threads < inner.max_threads {
        counts.threads += 1;
        drop(counts);
        start_worker(inner);
    }
    // Otherwise every thread is busy and the job waits its turn: a busy
    // worker looks at the queue before it goes idle.
}

fn start_worker(inner: &Arc<Inner>) {
    let worker = inner.clone();
    let Err(err) = spawn_thread(THREAD_NAME, move || worker.work()) else {
        return;
    };
    let mut counts = inner.lock();
    counts.threads -= 1;
    if counts.threads == 0 {
        drop(counts);
        panic!(
            "bureau: the blocking pool cannot start a thread and has none to run the job: {err}"
        );
    }
    // A live worker will get to the job.
}
