//! Loom models of the pool's submit / go-idle / exit races.
#![cfg(loom)]

use std::num::NonZeroUsize;
use std::time::Duration;

use bureau_blocking::Pool;

#[test]
fn a_job_submitted_while_the_last_worker_goes_idle_runs() {
    loom::model(|| {
        let pool = Pool::new(NonZeroUsize::MIN, Duration::from_millis(1));
        let first = pool.spawn(|| 1);
        assert_eq!(loom::future::block_on(first), 1);
        let second = pool.spawn(|| 2);
        assert_eq!(loom::future::block_on(second), 2);
    });
}

#[test]
fn two_submitters_and_two_threads() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(2);
    model.check(|| {
        let pool = std::sync::Arc::new(Pool::new(
            NonZeroUsize::new(2).unwrap(),
            Duration::from_millis(1),
        ));
        let other = pool.clone();
        let t = loom::thread::spawn(move || loom::future::block_on(other.spawn(|| 1)));
        assert_eq!(loom::future::block_on(pool.spawn(|| 2)), 2);
        assert_eq!(t.join().unwrap(), 1);
    });
}

/// Built with `--cfg bureau_loom_broken="pool_unlock_before_sleep"`, the
/// worker unlocks between finding the queue empty and counting itself
/// asleep; loom must find the job that is stranded in that gap.
#[test]
#[cfg(bureau_loom_broken = "pool_unlock_before_sleep")]
fn loom_catches_the_broken_variant() {
    let model = "a_job_submitted_while_the_last_worker_goes_idle_runs";
    // In a child process: the failing model unwinds through async-task's
    // abort-on-panic guards and aborts its process.
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "--test-threads=1", "--nocapture", model])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("deadlock"),
        "loom did not find the stranded job in {model}:\n{stderr}"
    );
}
