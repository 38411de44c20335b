//! The executor's workloads: spawning, yielding, and two tasks passing a
//! message back and forth.
//!
//! They stress the run queue, task allocation and wakers only: this file
//! must never touch sockets, timers or the blocking pool.

use super::{Metric, Workload};
use crate::report::{Better, Target};
use crate::runtimes::Runtime;
use std::time::Instant;

/// 1,000,000 tasks spawned, then every handle awaited: ns per task.
pub struct Spawn;

const SPAWNED: usize = 1_000_000;

impl Workload for Spawn {
    const NAME: &'static str = "spawn";

    fn metrics(&self) -> Vec<Metric> {
        vec![Metric {
            name: "ns/task",
            better: Better::Lower,
            targets: vec![Target::peer_at_most(0.6)],
        }]
    }

    fn run<R: Runtime>(&self) -> Vec<f64> {
        R::block_on(async {
            let start = Instant::now();
            let tasks: Vec<_> = (0..SPAWNED).map(|_| R::spawn(async {})).collect();
            for task in tasks {
                task.await;
            }
            vec![start.elapsed().as_nanos() as f64 / SPAWNED as f64]
        })
    }
}

/// 1,000 tasks × 1,000 `yield_now`: ns per poll.
pub struct Yield;

const YIELDERS: usize = 1_000;
const YIELDS: usize = 1_000;

impl Workload for Yield {
    const NAME: &'static str = "yield";

    fn metrics(&self) -> Vec<Metric> {
        vec![Metric {
            name: "ns/poll",
            better: Better::Lower,
            targets: vec![Target::peer_at_most(0.8)],
        }]
    }

    fn run<R: Runtime>(&self) -> Vec<f64> {
        R::block_on(async {
            let start = Instant::now();
            let tasks: Vec<_> = (0..YIELDERS)
                .map(|_| {
                    R::spawn(async {
                        for _ in 0..YIELDS {
                            R::yield_now().await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
            let polls = YIELDERS * (YIELDS + 1);
            vec![start.elapsed().as_nanos() as f64 / polls as f64]
        })
    }
}

/// Two tasks, 1,000,000 round trips through `async-channel` bounded(1): ns
/// per round trip.
pub struct PingPong;

const ROUND_TRIPS: usize = 1_000_000;

impl Workload for PingPong {
    const NAME: &'static str = "pingpong";

    fn metrics(&self) -> Vec<Metric> {
        vec![Metric {
            name: "ns/round trip",
            better: Better::Lower,
            targets: vec![Target::peer_at_most(0.8)],
        }]
    }

    fn run<R: Runtime>(&self) -> Vec<f64> {
        R::block_on(async {
            let (ping_tx, ping_rx) = async_channel::bounded::<usize>(1);
            let (pong_tx, pong_rx) = async_channel::bounded::<usize>(1);
            let start = Instant::now();
            let ponger = R::spawn(async move {
                while let Ok(n) = ping_rx.recv().await {
                    if pong_tx.send(n).await.is_err() {
                        break;
                    }
                }
            });
            let pinger = R::spawn(async move {
                for n in 0..ROUND_TRIPS {
                    ping_tx.send(n).await.expect("bench: the ponger hung up");
                    pong_rx.recv().await.expect("bench: the ponger hung up");
                }
            });
            pinger.await;
            ponger.await;
            vec![start.elapsed().as_nanos() as f64 / ROUND_TRIPS as f64]
        })
    }
}
