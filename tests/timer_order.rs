//! 100,000 timers under `bureau::block_on` complete in deadline order and
//! none early. Alone in its process: with other tests' threads driving the
//! reactor, wakes would arrive through other threads and the executor's
//! queues could interleave them. It must never share its binary with
//! another test.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bureau::Timer;

/// Runs `f` on a thread and fails if it takes longer than `secs` seconds.
fn bounded<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(out) => out,
        Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the body sent nothing and did not panic"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test did not finish within {secs} s"),
    }
}

#[test]
fn a_hundred_thousand_timers_fire_in_deadline_order_none_early() {
    bounded(120, || {
        bureau::block_on(async {
            let n = 100_000u64;
            // Far enough out that spawning them all ends first.
            let base = Instant::now() + Duration::from_secs(2);
            let log = Rc::new(RefCell::new(Vec::with_capacity(n as usize)));
            let tasks: Vec<_> = (0..n)
                .map(|i| {
                    let when = base + Duration::from_micros((i * 7919) % n * 3);
                    let log = log.clone();
                    bureau::spawn(async move {
                        Timer::at(when).await;
                        log.borrow_mut().push((when, Instant::now()));
                    })
                })
                .collect();
            assert!(
                Instant::now() < base,
                "spawning took too long to test order"
            );
            for t in tasks {
                t.await;
            }
            let log = log.borrow();
            assert_eq!(log.len(), n as usize);
            for pair in log.windows(2) {
                assert!(pair[0].0 <= pair[1].0, "fired out of deadline order");
            }
            assert!(
                log.iter().all(|(when, at)| at >= when),
                "a timer fired early"
            );
        });
    });
}
