//! Timers on the event loop: one-shot timers racing each other, an interval,
//! and a timeout that gives up on a slow operation.
//!
//! ```text
//! cargo run --example timers
//! ```
//!
//! A timer is not a thread and not a busy wait: the loop thread sleeps in
//! the kernel (`epoll_wait`) until the earliest deadline, then wakes the task
//! that waits for it.

use std::time::{Duration, Instant};

use bureau::Timer;
use bureau::prelude::*;

fn main() {
    if std::env::args().len() > 1 {
        eprintln!("timers: takes no arguments\nusage: timers");
        std::process::exit(2);
    }
    bureau::block_on(async {
        let start = Instant::now();
        let log = move |what: &str| println!("[{:4} ms] {what}", start.elapsed().as_millis());

        // Three tasks, spawned slowest first: they finish in deadline order,
        // all within 300 ms, because they wait at the same time.
        log("spawning timers of 300, 100 and 200 ms");
        let sleepers: Vec<_> = [300, 100, 200]
            .into_iter()
            .map(|ms| {
                bureau::spawn(async move {
                    Timer::after(Duration::from_millis(ms)).await;
                    log(&format!("the {ms} ms timer fired"));
                })
            })
            .collect();
        for sleeper in sleepers {
            sleeper.await;
        }

        // An interval is a `Stream` of the deadlines it fires for; it keeps
        // its rhythm, whatever the loop did in between.
        let mut ticks = Timer::interval(Duration::from_millis(100)).take(3);
        let mut n = 0;
        while ticks.next().await.is_some() {
            n += 1;
            log(&format!("interval tick {n} of 3"));
        }

        // `timeout` races a future against a timer; the loser is dropped,
        // which cancels it.
        let slow = Timer::after(Duration::from_secs(10));
        match bureau::timeout(Duration::from_millis(200), slow).await {
            Ok(_) => log("the 10 s operation finished (unexpected)"),
            Err(e) => log(&format!("gave up on the 10 s operation after 200 ms: {e}")),
        }
        log("done");
    });
}
