//! Models of this crate's code running on bureau inside `loom::model`:
//! bureau's real executor and blocking pool on loom's threads, atomics and
//! locks, and its timers on a virtual clock that jumps to the next deadline
//! when nothing else can happen. Run with
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" cargo test --release --test models
//! ```
//!
//! Every model runs at loom's default bounds (no preemption bound), the
//! whole file in under a second: bureau's own protocols are single steps
//! in a user's model. `BUREAU_LOOM_EXPLORE_ALL=1` explores them op by op
//! too (then set `LOOM_MAX_PREEMPTIONS=3`); the verdicts must be the same.
//! A model that must fail (`a_set_between_look_and_register_is_lost`,
//! `a_read_racing_the_job_is_a_data_race`) is `#[ignore]`d and run in a
//! child process by the test that asserts loom catches it: a failing model
//! panics inside bureau's tasks, whose abort-on-panic guards end the
//! process.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use bureau::{TimedOut, timeout};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize as LoomUsize, Ordering};
use loom_user::OneShot;

/// The correct program: a task waits on the flag, an `unblock` job does
/// its work and sets the flag, another task yields its turn, and the main
/// future waits for the flag under a `timeout`. Every interleaving must
/// pass: whenever the wait ends in time, the job's work is visible.
#[test]
fn tasks_a_job_and_a_timeout_agree() {
    loom::model(|| {
        let flag = Arc::new(OneShot::new());
        let work = Arc::new(LoomUsize::new(0));
        let answer = bureau::block_on({
            let (flag, work) = (flag.clone(), work.clone());
            async move {
                let waiter = bureau::spawn({
                    let flag = flag.clone();
                    async move { flag.wait().await }
                });
                let job = bureau::unblock({
                    let (flag, work) = (flag.clone(), work.clone());
                    move || {
                        work.fetch_add(1, Ordering::AcqRel);
                        flag.set();
                        5
                    }
                });
                let yielder = bureau::spawn(async {
                    bureau::yield_now().await;
                    2
                });
                if timeout(Duration::from_secs(1), waiter).await.is_ok() {
                    assert_eq!(work.load(Ordering::Acquire), 1, "woken before the work");
                }
                job.await + yielder.await
            }
        });
        assert_eq!(answer, 7);
        assert!(flag.is_set());
        assert_eq!(work.load(Ordering::Acquire), 1);
    });
}

/// The classic bug (`OneShot::wait_without_recheck`): in the interleaving
/// where the job sets the flag between the task's look and its
/// registration, the task is never woken and the loop sleeps with nothing
/// left to wake it. loom reports a deadlock. Run only by
/// `loom_catches_the_lost_wakeup`.
#[test]
#[ignore = "must fail: run by loom_catches_the_lost_wakeup"]
fn a_set_between_look_and_register_is_lost() {
    loom::model(|| {
        let flag = Arc::new(OneShot::new());
        bureau::block_on({
            let flag = flag.clone();
            async move {
                let waiter = bureau::spawn({
                    let flag = flag.clone();
                    async move { flag.wait_without_recheck().await }
                });
                bureau::unblock(move || flag.set()).detach();
                waiter.await;
            }
        });
    });
}

/// Runs the test `name` of this file (ignored ones too) in a child
/// process, with `env` set there; returns whether it passed, and its stderr.
fn run_in_child(name: &str, env: &[(&str, &str)]) -> (bool, String) {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "--test-threads=1",
            "--nocapture",
            "--include-ignored",
        ])
        .arg(name)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), stderr)
}

#[test]
fn loom_catches_the_lost_wakeup() {
    let (passed, stderr) = run_in_child("a_set_between_look_and_register_is_lost", &[]);
    assert!(
        !passed && stderr.contains("deadlock"),
        "loom did not find the lost wakeup:\n{stderr}"
    );
}

/// A `timeout` around an `unblock` job: in some interleavings the job
/// finishes first, in others the deadline comes first (the virtual clock
/// jumps when the loop has nothing else to wait for). Each outcome must be
/// seen at least once over the model's executions.
#[test]
fn a_timeout_around_a_job_sees_both_outcomes() {
    static IN_TIME: AtomicUsize = AtomicUsize::new(0);
    static TIMED_OUT: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        let ran = Arc::new(LoomUsize::new(0));
        let r = ran.clone();
        let outcome = bureau::block_on(async move {
            let job = bureau::unblock(move || r.fetch_add(1, Ordering::AcqRel));
            timeout(Duration::from_millis(10), job).await
        });
        match outcome {
            Ok(before) => {
                assert_eq!(before, 0);
                IN_TIME.fetch_add(1, SeqCst);
            }
            Err(TimedOut) => {
                TIMED_OUT.fetch_add(1, SeqCst);
            }
        }
    });
    let (in_time, timed_out) = (IN_TIME.load(SeqCst), TIMED_OUT.load(SeqCst));
    assert!(
        in_time > 0 && timed_out > 0,
        "both outcomes must occur: in time {in_time}, timed out {timed_out}"
    );
}

/// The README's example: a job on the pool inside a model.
#[test]
fn a_job_on_the_pool() {
    loom::model(|| {
        let n = Arc::new(LoomUsize::new(0));
        let n2 = n.clone();
        let v = bureau::block_on(async move {
            bureau::unblock(move || {
                n2.fetch_add(1, Ordering::SeqCst);
                5
            })
            .await
        });
        assert_eq!(v, 5);
        assert_eq!(n.load(Ordering::SeqCst), 1);
    });
}

/// The README's "Model-check your own code" test, as printed there.
#[test]
fn the_readmes_example() {
    use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    loom::model(|| {
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        let r = bureau::block_on(async move {
            let job = bureau::unblock(move || n2.fetch_add(1, SeqCst) + 5);
            bureau::timeout(Duration::from_millis(10), job).await
        });
        // The job finished first, or the deadline came first: loom tries both.
        if let Ok(v) = r {
            assert_eq!(v, 5);
            assert_eq!(n.load(SeqCst), 1);
        }
    });
}

/// `Unblock` streams through the pool, and an hour-long timer fires at
/// once: the virtual clock jumps to it.
#[test]
fn an_unblock_stream_and_an_hour_long_timer() {
    use bureau::io::AsyncReadExt;
    loom::model(|| {
        bureau::block_on(async {
            let mut reader = bureau::Unblock::new(std::io::Cursor::new(b"hi".to_vec()));
            let mut buf = Vec::new();
            reader.read_to_end(&mut buf).await.unwrap();
            assert_eq!(buf, b"hi");
            let mut interval = bureau::Timer::interval(Duration::from_secs(3600));
            let first = (&mut interval).await;
            let second = interval.await;
            assert_eq!(second - first, Duration::from_secs(3600));
        });
    });
}

/// What bureau cannot model is refused at the call, with a clear error:
/// sockets, files and processes.
#[test]
fn sockets_files_and_processes_are_a_clear_error() {
    loom::model(|| {
        bureau::block_on(async {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 9));
            let e = bureau::net::TcpStream::connect(addr).await.unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
            assert!(e.to_string().contains("--cfg loom"), "{e}");
            let e = bureau::fs::read("Cargo.toml").await.unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
            let e = bureau::process::Command::new("true").spawn().unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
        });
    });
}

/// A job submitted before `block_on`, awaited as its main future: the
/// job's wake reaches a waker the loop made after the pool thread started.
#[test]
fn a_job_submitted_before_block_on() {
    loom::model(|| {
        let job = bureau::unblock(|| 5);
        assert_eq!(bureau::block_on(job), 5);
    });
}

/// Two jobs at once and the loop, with a task that takes whichever job
/// finishes first: each job must be seen to win in some interleaving, and
/// the whole model (three threads) runs unbounded, as `loom::model` does.
#[test]
fn either_of_two_jobs_can_finish_first() {
    static FIRST: AtomicUsize = AtomicUsize::new(0);
    static SECOND: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        let done = Arc::new(LoomUsize::new(0));
        let winner = bureau::block_on({
            let done = done.clone();
            async move {
                let mut first = bureau::unblock({
                    let done = done.clone();
                    move || done.fetch_add(1, Ordering::AcqRel)
                });
                let mut second = bureau::unblock(move || done.fetch_add(1, Ordering::AcqRel));
                let winner = std::future::poll_fn(|cx| {
                    if std::pin::Pin::new(&mut first).poll(cx).is_ready() {
                        return std::task::Poll::Ready(1);
                    }
                    std::pin::Pin::new(&mut second).poll(cx).map(|_| 2)
                })
                .await;
                // Whichever lost still runs to the end.
                if winner == 1 {
                    second.await;
                } else {
                    first.await;
                }
                winner
            }
        });
        assert_eq!(done.load(Ordering::Acquire), 2);
        let counter = if winner == 1 { &FIRST } else { &SECOND };
        counter.fetch_add(1, SeqCst);
    });
    let (first, second) = (FIRST.load(SeqCst), SECOND.load(SeqCst));
    assert!(
        first > 0 && second > 0,
        "each job must win somewhere: first {first}, second {second}"
    );
}

/// A task that looks at what a job writes before awaiting the job: loom
/// must show it the value before the write and the value after.
#[test]
fn a_task_looking_before_the_job_ends_sees_both_values() {
    static BEFORE: AtomicUsize = AtomicUsize::new(0);
    static AFTER: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        let n = Arc::new(LoomUsize::new(0));
        let seen = bureau::block_on({
            let n = n.clone();
            async move {
                let job = bureau::unblock({
                    let n = n.clone();
                    move || n.fetch_add(1, Ordering::AcqRel)
                });
                let look = bureau::spawn(async move { n.load(Ordering::Acquire) });
                let seen = look.await;
                job.await;
                seen
            }
        });
        let counter = if seen == 0 { &BEFORE } else { &AFTER };
        counter.fetch_add(1, SeqCst);
    });
    let (before, after) = (BEFORE.load(SeqCst), AFTER.load(SeqCst));
    assert!(
        before > 0 && after > 0,
        "both values must be seen: before {before}, after {after}"
    );
}

/// A user's data race: a job writes a cell that a task reads without
/// waiting for the job. loom reports a causality violation. Run only by
/// `loom_catches_the_data_race`.
#[test]
#[ignore = "must fail: run by loom_catches_the_data_race"]
fn a_read_racing_the_job_is_a_data_race() {
    use loom::cell::UnsafeCell;
    struct Cell(UnsafeCell<u32>);
    // SAFETY: it is not (that is the bug loom must find); the model needs
    // it to compile.
    unsafe impl Sync for Cell {}
    loom::model(|| {
        let cell = Arc::new(Cell(UnsafeCell::new(0)));
        bureau::block_on({
            let cell = cell.clone();
            async move {
                let job = bureau::unblock({
                    let cell = cell.clone();
                    // SAFETY: none; the race is the bug under test.
                    move || cell.0.with_mut(|v| unsafe { *v = 1 })
                });
                // SAFETY: none; the race is the bug under test.
                let _ = cell.0.with(|v| unsafe { *v });
                job.await;
            }
        });
    });
}

#[test]
fn loom_catches_the_data_race() {
    let (passed, stderr) = run_in_child("a_read_racing_the_job_is_a_data_race", &[]);
    assert!(
        !passed && stderr.contains("Causality violation"),
        "loom did not find the data race:\n{stderr}"
    );
}

/// A `BUREAU_LOOM_EXPLORE_ALL` that is neither `1` nor `0` is named on
/// stderr, and the model still runs (with bureau's steps single).
#[test]
fn a_bad_explore_all_value_is_reported() {
    let (passed, stderr) = run_in_child("a_job_on_the_pool", &[("BUREAU_LOOM_EXPLORE_ALL", "yes")]);
    assert!(passed, "{stderr}");
    assert!(
        stderr.contains("BUREAU_LOOM_EXPLORE_ALL=\"yes\" is not valid"),
        "{stderr}"
    );
}

/// A job cancelled before it ran, whose captured value's `Drop` takes a
/// lock that a task holds until a second job is done: the pool must not
/// count the worker idle, and so leave the second job to it, while that
/// `Drop` still runs on it. (It did: with bureau's steps explored, loom
/// found the deadlock.)
#[test]
fn a_cancelled_jobs_drop_does_not_hold_up_the_next_job() {
    use loom::sync::Mutex;
    struct LockOnDrop(Arc<Mutex<u32>>);
    impl Drop for LockOnDrop {
        fn drop(&mut self) {
            *self.0.lock().unwrap() += 1;
        }
    }
    loom::model(|| {
        let m = Arc::new(Mutex::new(0));
        bureau::block_on({
            let m = m.clone();
            async move {
                let captured = LockOnDrop(m.clone());
                let cancelled = bureau::unblock(move || drop(captured));
                let guard = m.lock().unwrap();
                drop(cancelled);
                bureau::unblock(|| ()).await;
                drop(guard);
            }
        });
    });
}
