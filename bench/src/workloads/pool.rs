//! The blocking pool's workloads: throughput with 64 jobs in flight, and the
//! latency of one round trip at a time.
//!
//! The jobs are trivial on purpose, so only the hand-off to the pool and the
//! wakeup back are measured; this file must never do real work in a job.

use super::{Metric, Workload};
use crate::report::{Better, Target};
use crate::runtimes::Runtime;
use bureau_bench::stats::percentile;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// 100,000 trivial jobs, 64 in flight: ns per job.
pub struct UnblockThroughput;

const JOBS: usize = 100_000;
const IN_FLIGHT: usize = 64;

impl Workload for UnblockThroughput {
    const NAME: &'static str = "unblock";

    fn metrics(&self) -> Vec<Metric> {
        vec![Metric {
            name: "ns/job",
            better: Better::Lower,
            targets: vec![Target::peer_at_most(0.8)],
        }]
    }

    fn run<R: Runtime>(&self) -> Vec<f64> {
        R::block_on(async {
            let next = Arc::new(AtomicUsize::new(0));
            let start = Instant::now();
            let workers: Vec<_> = (0..IN_FLIGHT)
                .map(|_| {
                    let next = next.clone();
                    R::spawn(async move {
                        while next.fetch_add(1, Ordering::Relaxed) < JOBS {
                            R::unblock(|| ()).await;
                        }
                    })
                })
                .collect();
            for worker in workers {
                worker.await;
            }
            vec![start.elapsed().as_nanos() as f64 / JOBS as f64]
        })
    }
}

/// 10,000 sequential round trips to the pool: p50 and p99 in µs.
pub struct UnblockLatency;

const ROUND_TRIPS: usize = 10_000;

impl Workload for UnblockLatency {
    const NAME: &'static str = "unblock latency";

    fn metrics(&self) -> Vec<Metric> {
        let targets = vec![Target::peer_at_most(0.8)];
        vec![
            Metric {
                name: "p50 µs",
                better: Better::Lower,
                targets: targets.clone(),
            },
            Metric {
                name: "p99 µs",
                better: Better::Lower,
                targets,
            },
        ]
    }

    fn run<R: Runtime>(&self) -> Vec<f64> {
        R::block_on(async {
            let mut nanos = Vec::with_capacity(ROUND_TRIPS);
            for _ in 0..ROUND_TRIPS {
                let start = Instant::now();
                R::unblock(|| ()).await;
                nanos.push(start.elapsed().as_nanos() as u64);
            }
            nanos.sort_unstable();
            vec![
                percentile(&nanos, 50.0) as f64 / 1000.0,
                percentile(&nanos, 99.0) as f64 / 1000.0,
            ]
        })
    }
}
