//! The README's promise that a panic never aborts the process and never
//! wedges the loop, played by the hostile cases: a cancelled task whose
//! future panics in `Drop`, a waker that panics when the reactor wakes it,
//! and a waker that panics when a pool task completes.
//!
//! A case that would abort the process runs in a child process (this test
//! binary, run again with a variable set), so a regression fails the test
//! instead of killing the test runner.

use bureau::{Async, LocalExecutor, Timer, block_on, spawn, unblock, yield_now};
use futures_lite::future;
use std::future::Future;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

mod common;
use common::{bounded, output_within};

/// Set in the child process, to the name of the case it runs.
const CHILD: &str = "BUREAU_TEST_PANICS_CHILD";
/// What a child prints when its loop went on after the panics.
const WENT_ON: &str = "THE LOOP WENT ON";

/// Runs this test binary again as a child that runs `case`; asserts that
/// it exits with success, printed `panic_message` (through the panic hook)
/// and [`WENT_ON`]; returns what it printed on stderr.
fn in_child(test: &str, case: &str, panic_message: &str) -> String {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, case);
    let output = output_within(20, child);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the child failed ({:?}): {stderr}",
        output.status
    );
    assert!(
        stderr.contains(panic_message),
        "the panic was not printed: {stderr}"
    );
    assert!(stdout.contains(WENT_ON), "{stdout}");
    stderr.into_owned()
}

/// The case the child was started for, if this is the child.
fn child_case() -> Option<String> {
    std::env::var(CHILD).ok()
}

/// A value whose `Drop` panics.
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("{}", self.0);
    }
}

/// A task future that holds a [`PanicOnDrop`] and never finishes.
async fn pending_with_panicking_drop(message: &'static str) {
    let _armed = PanicOnDrop(message);
    future::pending::<()>().await;
}

#[test]
fn a_cancelled_task_whose_future_panics_in_drop_does_not_end_the_process() {
    let test = "a_cancelled_task_whose_future_panics_in_drop_does_not_end_the_process";
    match child_case().as_deref() {
        None => {
            let stderr = in_child(test, "cancel", "drop boom");
            for how in ["Task dropped", "cancel", "executor dropped"] {
                assert!(
                    stderr.contains(&format!("drop boom: {how}")),
                    "the future was not dropped when {how}: {stderr}"
                );
            }
        }
        Some(_) => {
            let after = block_on(async {
                // Dropped: cancelled, its future dropped on the next tick.
                let dropped = spawn(pending_with_panicking_drop("drop boom: Task dropped"));
                yield_now().await;
                drop(dropped);
                // Cancelled and awaited.
                let cancelled = spawn(pending_with_panicking_drop("drop boom: cancel"));
                yield_now().await;
                assert_eq!(cancelled.cancel().await, None);
                // Dropped with its executor.
                let ex = LocalExecutor::new();
                ex.spawn(pending_with_panicking_drop("drop boom: executor dropped"))
                    .detach();
                assert!(ex.try_tick());
                drop(ex);
                // A task spawned afterwards runs.
                spawn(async { 7 }).await
            });
            assert_eq!(after, 7);
            println!("{WENT_ON}");
        }
    }
}

/// A waker that records that it was woken, then panics.
struct PanickingWaker(AtomicBool);

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
        panic!("waker boom");
    }
}

/// Polls `future` once, on this thread, with a waker that panics.
fn poll_with_panicking_waker<F: Future + Unpin>(mut future: F, woken: &Arc<PanickingWaker>) -> F {
    let waker = Waker::from(woken.clone());
    let poll = Pin::new(&mut future).poll(&mut Context::from_waker(&waker));
    assert!(poll.is_pending());
    future
}

#[test]
fn a_waker_that_panics_in_the_reactor_does_not_stop_the_loop() {
    bounded(20, || {
        let timer_woken = Arc::new(PanickingWaker(AtomicBool::new(false)));
        let io_woken = Arc::new(PanickingWaker(AtomicBool::new(false)));
        let (a, mut b) = UnixStream::pair().unwrap();
        // Registered from another thread, as a foreign executor would.
        let (timer, a) = std::thread::spawn({
            let (timer_woken, io_woken) = (timer_woken.clone(), io_woken.clone());
            move || {
                let timer = Timer::after(Duration::from_millis(5));
                let timer = poll_with_panicking_waker(timer, &timer_woken);
                let a = Async::new(a).unwrap();
                let waker = Waker::from(io_woken);
                let poll = a.poll_readable(&mut Context::from_waker(&waker));
                assert!(poll.is_pending());
                (timer, a)
            }
        })
        .join()
        .unwrap();
        b.write_all(b"x").unwrap();
        block_on(async {
            // Other timers keep firing while, and after, the wakes panic.
            while !(timer_woken.0.load(Ordering::SeqCst) && io_woken.0.load(Ordering::SeqCst)) {
                Timer::after(Duration::from_millis(1)).await;
            }
            for _ in 0..3 {
                Timer::after(Duration::from_millis(2)).await;
            }
        });
        // And a second loop works.
        block_on(async {
            spawn(Timer::after(Duration::from_millis(2))).await;
            a.readable().await.unwrap();
        });
        drop(timer);
    });
}

#[test]
fn a_pool_task_awaited_through_a_panicking_waker_does_not_end_the_process() {
    let test = "a_pool_task_awaited_through_a_panicking_waker_does_not_end_the_process";
    match child_case().as_deref() {
        None => {
            in_child(test, "pool", "waker boom");
        }
        Some(_) => {
            let (release, gate) = std::sync::mpsc::channel::<()>();
            let woken = Arc::new(PanickingWaker(AtomicBool::new(false)));
            let task = unblock(move || {
                gate.recv().unwrap();
                5
            });
            let mut task = poll_with_panicking_waker(task, &woken);
            release.send(()).unwrap();
            // The pool thread wakes the panicking waker as the job ends.
            while !woken.0.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            let out = future::block_on(async { (&mut task).await });
            assert_eq!(out, 5);
            // The pool still runs jobs.
            assert_eq!(block_on(unblock(|| 6)), 6);
            println!("{WENT_ON}");
        }
    }
}

#[test]
fn an_unblock_job_awaited_through_a_panicking_waker_does_not_end_the_process() {
    let test = "an_unblock_job_awaited_through_a_panicking_waker_does_not_end_the_process";
    match child_case().as_deref() {
        None => {
            in_child(test, "unblock", "waker boom");
        }
        Some(_) => {
            let (release, gate) = std::sync::mpsc::channel::<()>();
            let woken = Arc::new(PanickingWaker(AtomicBool::new(false)));
            let mut io = bureau::Unblock::new(std::io::empty());
            let job = Box::pin(io.with_mut(move |_| gate.recv().is_ok()));
            let mut job = poll_with_panicking_waker(job, &woken);
            release.send(()).unwrap();
            // The pool thread wakes the panicking waker as the job ends.
            while !woken.0.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            assert!(future::block_on(&mut job));
            drop(job);
            // The handle still works.
            assert_eq!(block_on(io.with_mut(|_| 7)), 7);
            println!("{WENT_ON}");
        }
    }
}
