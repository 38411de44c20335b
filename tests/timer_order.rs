//! 100,000 timers under `bureau::block_on` complete in deadline order and
//! none early. Alone in its process: with other tests' threads driving the
//! reactor, wakes would arrive through other threads and the executor's
//! queues could interleave them. It must never share its binary with
//! another test.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bureau::Timer;

mod common;
use common::bounded;

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
