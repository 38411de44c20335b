//! Tests of a `Pool`'s threads: reuse, keep-alive, the maximum, and that a
//! small pool gets through many jobs, and that no more threads start than
//! there are jobs waiting for one. Each is bounded in time by
//! `common::within`.

mod common;

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::mpsc;
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use bureau_blocking::Pool;
use common::within;
use futures_lite::future::block_on;

fn threads(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

#[test]
fn a_warm_idle_thread_is_reused_before_a_new_one_starts() {
    within(10, || {
        let pool = Pool::new(threads(8), Duration::from_secs(60));
        let first = block_on(pool.spawn(|| thread::current().id()));
        for _ in 0..20 {
            assert_eq!(block_on(pool.spawn(|| thread::current().id())), first);
        }
    });
}

/// Sends on its channel when the thread that owns it exits.
struct ExitSignal(mpsc::Sender<Instant>);

impl Drop for ExitSignal {
    fn drop(&mut self) {
        // The receiver may be gone if the test already failed.
        let _ = self.0.send(Instant::now());
    }
}

thread_local! {
    static ON_EXIT: std::cell::RefCell<Option<ExitSignal>> = const { std::cell::RefCell::new(None) };
}

#[test]
fn an_idle_thread_exits_after_the_keep_alive() {
    within(10, || {
        let keep_alive = Duration::from_millis(200);
        let pool = Pool::new(threads(4), keep_alive);
        let (exited, exit) = mpsc::channel();
        let finished = block_on(pool.spawn(move || {
            ON_EXIT.with(|slot| *slot.borrow_mut() = Some(ExitSignal(exited)));
            Instant::now()
        }));
        let exit_time = exit
            .recv_timeout(Duration::from_secs(5))
            .expect("the idle worker should have exited");
        assert!(
            exit_time.duration_since(finished) >= keep_alive,
            "the worker exited {:?} after its last job, before the keep-alive",
            exit_time.duration_since(finished)
        );
        // The pool starts a new thread for the next job.
        assert_eq!(block_on(pool.spawn(|| 5)), 5);
    });
}

#[test]
fn no_more_than_max_threads_jobs_run_at_once() {
    within(10, || {
        let pool = Pool::new(threads(2), Duration::from_secs(60));
        let (started, starts) = mpsc::channel::<ThreadId>();
        let (release, gate) = mpsc::channel::<()>();
        let gate = std::sync::Arc::new(std::sync::Mutex::new(gate));
        let blocked: Vec<_> = (0..2)
            .map(|_| {
                let started = started.clone();
                let gate = gate.clone();
                pool.spawn(move || {
                    started.send(thread::current().id()).unwrap();
                    gate.lock().unwrap().recv().unwrap();
                })
            })
            .collect();
        let mut seen: HashSet<ThreadId> = (0..2).map(|_| starts.recv().unwrap()).collect();
        assert_eq!(seen.len(), 2, "the two jobs run on two threads at once");

        // Both threads are busy: a third job must wait for one of them,
        // not start a third thread.
        let third = pool.spawn(|| thread::current().id());
        release.send(()).unwrap();
        release.send(()).unwrap();
        for task in blocked {
            block_on(task);
        }
        seen.insert(block_on(third));
        assert_eq!(seen.len(), 2, "a third thread was started");
    });
}

#[test]
fn many_jobs_on_a_small_pool_all_run() {
    within(20, || {
        let pool = Pool::new(threads(3), Duration::from_millis(50));
        let tasks: Vec<_> = (0..2000u64).map(|i| pool.spawn(move || i)).collect();
        let sum: u64 = tasks.into_iter().map(block_on).sum();
        assert_eq!(sum, 1999 * 2000 / 2);
    });
}

#[test]
fn no_more_threads_start_than_there_are_jobs_waiting_for_one() {
    within(20, || {
        const WAVE: usize = 8;
        // A keep-alive that outlasts the test: no thread exits, so every
        // thread ever started is among those that ran jobs.
        let pool = Pool::new(threads(64), Duration::from_secs(600));
        let mut seen = HashSet::new();
        for wave in 0..500 {
            let tasks: Vec<_> = (0..WAVE)
                .map(|_| pool.spawn(|| thread::current().id()))
                .collect();
            seen.extend(tasks.into_iter().map(block_on));
            // At most WAVE jobs are ever submitted and not yet done, so no
            // more threads than that are needed: an idle worker that is
            // about to look at the queue must be counted on, not replaced.
            assert!(
                seen.len() <= WAVE,
                "{} threads ran jobs by wave {wave}, with at most {WAVE} jobs in flight",
                seen.len()
            );
        }
    });
}
