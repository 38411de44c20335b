//! `BUREAU_MAX_THREADS=2` bounds how many closures run at once. Its own
//! test binary, because the variable is read once, at the pool's first use.

use std::sync::mpsc;
use std::thread::{self, ThreadId};
use std::time::Duration;

use bureau::{block_on, unblock};

#[test]
fn bureau_max_threads_bounds_how_many_closures_run_at_once() {
    // SAFETY: this is the only test in this binary, and nothing else in the
    // process reads or writes the environment while it runs.
    unsafe { std::env::set_var("BUREAU_MAX_THREADS", "2") };

    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let (started, starts) = mpsc::channel::<ThreadId>();
        let (release_one, gate_one) = mpsc::channel::<()>();
        let (release_two, gate_two) = mpsc::channel::<()>();
        let blocked: Vec<_> = [gate_one, gate_two]
            .into_iter()
            .map(|gate| {
                let started = started.clone();
                unblock(move || {
                    started.send(thread::current().id()).unwrap();
                    gate.recv().unwrap();
                })
            })
            .collect();
        let busy = [starts.recv().unwrap(), starts.recv().unwrap()];
        assert_ne!(busy[0], busy[1], "two closures run at once");

        // Both threads are busy: a third closure must wait for one of them.
        let third = unblock(|| thread::current().id());
        release_one.send(()).unwrap();
        release_two.send(()).unwrap();
        let third = block_on(async {
            for task in blocked {
                task.await;
            }
            third.await
        });
        assert!(busy.contains(&third), "a third thread ran a closure");
        let _ = done.send(());
    });
    finished
        .recv_timeout(Duration::from_secs(20))
        .expect("the test did not finish in 20 s");
}
