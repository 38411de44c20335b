//! The timer workloads: many deadlines firing on time, and timers created,
//! polled once and dropped (the life of most timeouts).
//!
//! They stress the runtime's timer store and its sleep in the kernel; this
//! file must never use sockets or the blocking pool.

use super::{Metric, Workload};
use crate::report::{Better, Target};
use crate::runtimes::Runtime;
use bureau_bench::ticks::late_by;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// 100,000 deadlines spread over 100 ms, one task each: how long past the
/// last deadline the run ends, and how late (or early) each one woke.
pub struct Timers;

const DEADLINES: u32 = 100_000;
const SPREAD: Duration = Duration::from_millis(100);
/// How long after the tasks exist the first deadline falls: time for every
/// task's first poll to register its timer, so that lateness measures when
/// timers fire, not how long 100,000 registrations take on a busy machine
/// (timer-churn measures that).
const LEAD: Duration = Duration::from_millis(250);

impl Workload for Timers {
    const NAME: &'static str = "timers";

    fn metrics(&self) -> Vec<Metric> {
        vec![
            Metric {
                name: "overhead ms",
                better: Better::Lower,
                targets: vec![Target::at_most(1.0)],
            },
            Metric {
                name: "median lateness µs",
                better: Better::Lower,
                targets: vec![Target::peer_at_most(1.0)],
            },
            Metric {
                name: "worst lateness µs",
                better: Better::Lower,
                targets: vec![],
            },
            Metric {
                name: "early wakeups",
                better: Better::Lower,
                targets: vec![Target::at_most(0.0)],
            },
        ]
    }

    fn deciding_metric(&self) -> usize {
        1
    }

    fn run<R: Runtime>(&self) -> Vec<f64> {
        R::block_on(async {
            // Deadlines count from the moment every task exists, so that
            // spawning 100,000 tasks is not charged as lateness.
            let base = Arc::new(OnceLock::new());
            let tasks: Vec<_> = (0..DEADLINES)
                .map(|i| {
                    let base = base.clone();
                    R::spawn(async move {
                        let base: Instant = *base.get().expect("bench: base set before any poll");
                        let deadline = base + LEAD + SPREAD * i / DEADLINES;
                        R::sleep_until(deadline).await;
                        late_by(Instant::now(), deadline)
                    })
                })
                .collect();
            let start = Instant::now();
            base.set(start).expect("bench: base set once");
            let mut lateness = Vec::with_capacity(tasks.len());
            for task in tasks {
                lateness.push(task.await);
            }
            let overhead = late_by(Instant::now(), start + LEAD + SPREAD);
            lateness.sort_unstable();
            let early = lateness.iter().filter(|&&n| n < 0).count();
            vec![
                overhead as f64 / 1e6,
                lateness[lateness.len() / 2] as f64 / 1e3,
                lateness[lateness.len() - 1] as f64 / 1e3,
                early as f64,
            ]
        })
    }
}

/// 1,000,000 times: a 10 s timer created, polled once and dropped: ns each.
pub struct TimerChurn;

const CHURNED: u32 = 1_000_000;

impl Workload for TimerChurn {
    const NAME: &'static str = "timer-churn";

    fn metrics(&self) -> Vec<Metric> {
        vec![Metric {
            name: "ns/timer",
            better: Better::Lower,
            targets: vec![Target::peer_at_most(0.7)],
        }]
    }

    fn run<R: Runtime>(&self) -> Vec<f64> {
        R::block_on(async {
            let start = Instant::now();
            for _ in 0..CHURNED {
                let timer = R::sleep_until(Instant::now() + Duration::from_secs(10));
                futures_lite::future::poll_once(timer).await;
            }
            vec![start.elapsed().as_nanos() as f64 / f64::from(CHURNED)]
        })
    }
}
