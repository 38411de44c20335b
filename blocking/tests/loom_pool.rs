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
