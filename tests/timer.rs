//! API.md's "Time" under `bureau::block_on`: timers in deadline order and
//! never early, timers across threads, several threads sharing the reactor,
//! and `timeout`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bureau::prelude::*;
use bureau::{Async, TimedOut, Timer, timeout};

mod common;
use common::bounded;

#[test]
fn timers_do_not_fire_early_and_report_their_deadline() {
    bounded(20, || {
        bureau::block_on(async {
            for ms in [0u64, 1, 2, 5, 13] {
                let start = Instant::now();
                let fired = Timer::after(Duration::from_millis(ms)).await;
                assert!(fired >= start + Duration::from_millis(ms));
                assert!(Instant::now() >= fired);
            }
            let mut t = Timer::interval(Duration::from_millis(3));
            let a = t.next().await.unwrap();
            let b = t.next().await.unwrap();
            assert_eq!(b - a, Duration::from_millis(3));
            assert!(t.will_fire());
            let mut once = Timer::after(Duration::from_millis(1));
            (&mut once).await;
            assert!(!once.will_fire());
            assert!(!Timer::never().will_fire());
        });
    });
}

#[test]
fn timeout_gives_the_output_or_timed_out() {
    bounded(20, || {
        bureau::block_on(async {
            assert_eq!(timeout(Duration::from_secs(5), async { 3 }).await, Ok(3));
            let start = Instant::now();
            let r = timeout(Duration::from_millis(20), Timer::never()).await;
            assert_eq!(r, Err(TimedOut));
            assert!(start.elapsed() >= Duration::from_millis(20));
            let e: std::io::Error = TimedOut.into();
            assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        });
    });
}

#[test]
fn a_timer_made_on_one_thread_fires_in_another_threads_block_on() {
    bounded(20, || {
        let t = Timer::after(Duration::from_millis(10));
        let when = std::thread::spawn(move || bureau::block_on(t))
            .join()
            .unwrap();
        assert!(Instant::now() >= when);
        // And under futures-lite's block_on, which needs the helper thread.
        let start = Instant::now();
        futures_lite::future::block_on(Timer::after(Duration::from_millis(10)));
        assert!(start.elapsed() >= Duration::from_millis(10));
    });
}

#[test]
fn several_threads_share_the_reactor_and_hand_driving_over() {
    bounded(30, || {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    bureau::block_on(async {
                        for _ in 0..50 {
                            let start = Instant::now();
                            Timer::after(Duration::from_millis(1)).await;
                            assert!(start.elapsed() >= Duration::from_millis(1));
                        }
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    });
}

#[test]
fn an_earlier_timer_from_a_non_driving_thread_interrupts_the_driver() {
    bounded(30, || {
        let (a, mut b) = UnixStream::pair().unwrap();
        let (started_tx, started_rx) = mpsc::channel();
        // Thread A sleeps in the poller with no deadline at all.
        let driver = std::thread::spawn(move || {
            bureau::block_on(async move {
                let a = Async::new(a).unwrap();
                started_tx.send(()).unwrap();
                a.read_with(|mut s| s.read(&mut [0; 1])).await.unwrap();
            })
        });
        started_rx.recv().unwrap();
        // This thread's short timer must not wait for A's (infinite) wait.
        let start = Instant::now();
        bureau::block_on(Timer::after(Duration::from_millis(5)));
        let took = start.elapsed();
        b.write_all(b"x").unwrap();
        driver.join().unwrap();
        assert!(took >= Duration::from_millis(5));
        assert!(
            took < Duration::from_secs(2),
            "the driver slept through: {took:?}"
        );
    });
}
