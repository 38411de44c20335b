//! The park/unpark protocol: no lost unparks, driving handed between
//! threads, and timers served whichever thread drives. These are stress
//! tests: they must never rely on timing to pass, only on the protocol
//! (every wait is bounded by `bounded`).

mod common;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use bureau_reactor::{Parker, Timer};
use common::{block_on, bounded};

#[test]
fn an_unpark_before_the_park_is_not_lost() {
    bounded(10, || {
        let mut p = Parker::new();
        p.unparker().unpark();
        p.park(None);
        // A non-blocking turn returns at once.
        let start = Instant::now();
        p.park(Some(Duration::ZERO));
        assert!(start.elapsed() < Duration::from_secs(1));
    });
}

#[test]
fn unparks_from_other_threads_wake_drivers_and_sleepers() {
    bounded(20, || {
        for _ in 0..200 {
            // Two parked threads: one waits in the poller, one on its thread
            // parker; both must wake on their unparks.
            let (tx, rx) = mpsc::channel();
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let tx = tx.clone();
                    thread::spawn(move || {
                        let mut p = Parker::new();
                        let (done_tx, done_rx) = mpsc::channel::<()>();
                        tx.send((p.unparker(), done_tx)).unwrap();
                        // Spurious returns are allowed: park until told.
                        while done_rx.try_recv().is_err() {
                            p.park(None);
                        }
                    })
                })
                .collect();
            for _ in 0..2 {
                let (u, done) = rx.recv().unwrap();
                done.send(()).unwrap();
                u.unpark();
            }
            for h in handles {
                h.join().unwrap();
            }
        }
    });
}

#[test]
fn eight_threads_hand_driving_over_while_their_timers_fire() {
    bounded(60, || {
        let handles: Vec<_> = (0..8u64)
            .map(|i| {
                thread::spawn(move || {
                    for j in 0..100u64 {
                        let d = Duration::from_micros((i * 37 + j * 11) % 300);
                        let start = Instant::now();
                        block_on(Timer::after(d));
                        assert!(start.elapsed() >= d);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}
