//! Models of this crate's code running on bureau inside `loom::model`:
//! bureau's real executor and blocking pool on loom's threads, atomics and
//! locks, and its timers on a virtual clock that jumps to the next deadline
//! when nothing else can happen. Run with
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" cargo test --release --test models
//! ```
//!
//! Each model finishes in seconds at loom's default bounds. A model that
//! must fail (`a_set_between_look_and_register_is_lost`) is `#[ignore]`d
//! and run in a child process by the test that asserts loom catches it:
//! a failing model panics inside bureau's tasks, whose abort-on-panic
//! guards end the process.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use bureau::{TimedOut, timeout};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize as LoomUsize, Ordering};
use loom_user::OneShot;

/// The preemption bound of the larger models, unless `LOOM_MAX_PREEMPTIONS`
/// says otherwise: with 4, about 1.5 s for the largest on two cores (3:
/// 0.2 s; 5: 5 s; 6: 25 s). Unbounded, as `loom::model` runs by default,
/// they take minutes.
const PREEMPTIONS: usize = 4;

/// Explores every interleaving of `model` within [`PREEMPTIONS`].
fn check(model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound.get_or_insert(PREEMPTIONS);
    builder.check(model);
}

/// The correct program: a task waits on the flag, an `unblock` job does
/// its work and sets the flag, another task yields its turn, and the main
/// future waits for the flag under a `timeout`. Every interleaving must
/// pass: whenever the wait ends in time, the job's work is visible.
#[test]
fn tasks_a_job_and_a_timeout_agree() {
    check(|| {
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

#[test]
fn loom_catches_the_lost_wakeup() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "--test-threads=1", "--nocapture", "--ignored"])
        .arg("a_set_between_look_and_register_is_lost")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("deadlock"),
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
    check(|| {
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
    check(|| {
        let job = bureau::unblock(|| 5);
        assert_eq!(bureau::block_on(job), 5);
    });
}
