//! Tests of `unblock` on the process-wide pool: its result, its thread, a
//! thousand calls at once, a panic, the wake of the waiting task, and that
//! dropping the task of a job not yet started means it never runs.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use bureau_blocking::unblock;
use common::within;
use futures_lite::future::block_on;

#[test]
fn returns_the_closures_value() {
    within(10, || {
        assert_eq!(block_on(unblock(|| 6 * 7)), 42);
    });
}

#[test]
fn runs_the_closure_on_another_thread() {
    within(10, || {
        let here = std::thread::current().id();
        let there = block_on(unblock(|| std::thread::current().id()));
        assert_ne!(here, there);
    });
}

#[test]
fn a_thousand_concurrent_calls_all_complete() {
    within(30, || {
        let tasks: Vec<_> = (0..1000u64).map(|i| unblock(move || i * 2)).collect();
        let sum: u64 = block_on(async {
            let mut sum = 0;
            for task in tasks {
                sum += task.await;
            }
            sum
        });
        assert_eq!(sum, 999 * 1000);
    });
}

#[test]
fn a_panic_in_the_closure_resurfaces_at_the_await() {
    within(10, || {
        let task = unblock(|| -> u32 { panic!("the job failed on purpose") });
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| block_on(task)));
        let payload = caught.expect_err("the panic must resurface");
        let message = payload.downcast_ref::<&str>().copied().unwrap_or_default();
        assert_eq!(message, "the job failed on purpose");
        // The pool survives the panic.
        assert_eq!(block_on(unblock(|| 1)), 1);
    });
}

#[test]
fn finishing_a_job_wakes_the_waiting_task() {
    within(10, || {
        let (release, gate) = mpsc::channel::<()>();
        let task = unblock(move || gate.recv().is_ok());
        // The job is blocked, so the first poll must be pending; the release
        // then has to wake this thread through the task's waker.
        let mut task = std::pin::pin!(task);
        assert!(block_on(futures_lite::future::poll_once(task.as_mut())).is_none());
        release.send(()).unwrap();
        assert!(block_on(task));
    });
}

#[test]
fn a_dropped_task_whose_job_has_not_started_never_runs() {
    within(10, || {
        // Keep every thread of a one-thread pool busy so the next job queues.
        let pool = bureau_blocking::Pool::new(
            std::num::NonZeroUsize::MIN,
            std::time::Duration::from_secs(10),
        );
        let (release, gate) = mpsc::channel::<()>();
        let (started, first_started) = mpsc::channel::<()>();
        let busy = pool.spawn(move || {
            started.send(()).unwrap();
            gate.recv().unwrap();
        });
        first_started.recv().unwrap();

        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        drop(pool.spawn(move || flag.store(true, Ordering::SeqCst)));

        release.send(()).unwrap();
        block_on(busy);
        // The queue is first in, first out: once this job has run, the
        // dropped one has had its turn.
        block_on(pool.spawn(|| ()));
        assert!(!ran.load(Ordering::SeqCst));
    });
}
