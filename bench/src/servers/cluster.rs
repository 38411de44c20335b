//! The cluster workload: the hello-world keep-alive HTTP server spread over
//! the machine's cores, under `wrk -t1 -c100`. bureau's side is N worker
//! processes of one loop each, sharing the port with `SO_REUSEPORT`
//! (`http_cluster_bureau`, the design of `examples/cluster.rs`); tokio's
//! is its multi-thread runtime with N worker threads
//! (`http_cluster_tokio`). N is 1, then 2.
//!
//! It must bound every run by its duration (`--secs`), and count the CPU
//! of every server process (bureau's parent and each of its workers, read
//! from `/proc` around the `wrk` run), never wrk's.

use super::http::{requests_done, wrk_micros, wrk_number};
use super::{Flavor, Server};
use crate::cli::Options;
use crate::report::{Better, Columns, Metric, Row, figures, rows};
use bureau_bench::procfs::{self, CpuTime};
use bureau_bench::stats::medians;
use std::io;
use std::process::Command;

/// The worker processes (bureau) or threads (tokio) of each row.
const WORKERS: [usize; 2] = [1, 2];
/// The connections `wrk` keeps open.
const CONNS: usize = 100;
/// What `Server::start` makes of the binaries' names: `http_cluster_bureau`
/// for `Flavor::Bureau`, `http_cluster_tokio` (no flag added) for
/// `Flavor::TokioLocal`.
const APP: &str = "http_cluster";

fn metrics() -> Vec<Metric> {
    let metric = |name, better| Metric {
        name,
        better,
        targets: vec![],
    };
    vec![
        metric("requests/s", Better::Higher),
        metric("p50 µs", Better::Lower),
        metric("p99 µs", Better::Lower),
        metric("server CPU µs/request", Better::Lower),
        metric("of which user µs/request", Better::Lower),
    ]
}

/// One side of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// bureau: N processes, one loop each.
    Bureau,
    /// tokio: one process, a multi-thread runtime with N worker threads.
    TokioMt,
}

impl Side {
    /// The table column it fills (one of `cli::COLUMNS`).
    fn column(self) -> &'static str {
        match self {
            Side::Bureau => "bureau",
            Side::TokioMt => "tokio",
        }
    }

    /// The name printed in progress lines.
    fn name(self) -> &'static str {
        match self {
            Side::Bureau => "bureau",
            Side::TokioMt => "tokio-mt",
        }
    }
}

/// Runs `wrk` against both sides with each worker count, `options.secs`
/// seconds a run, `options.rounds` runs each, in turns.
pub fn cluster(options: &Options) -> Vec<Row> {
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("  cluster: wrk is not installed (bench/run.sh installs it)");
        return Vec::new();
    }
    WORKERS
        .iter()
        .flat_map(|&workers| rows_for(options, workers))
        .collect()
}

/// The rows of `workers` workers: each figure's median over the rounds.
fn rows_for(options: &Options, workers: usize) -> Vec<Row> {
    let workload = format!("cluster n={workers}");
    let sides: Vec<Side> = [Side::Bureau, Side::TokioMt]
        .into_iter()
        .filter(|side| options.runs(side.column()))
        .collect();
    let mut runs: Vec<Vec<Vec<f64>>> = vec![Vec::new(); sides.len()];
    for round in 1..=options.rounds {
        for (side, runs) in sides.iter().zip(&mut runs) {
            let name = side.name();
            let tag = match options.rounds {
                1 => String::new(),
                n => format!(" {round}/{n}"),
            };
            match run(*side, workers, options.secs) {
                Ok(f) => {
                    eprintln!("  {workload:<16} {name:<8} {}{tag}", figures(&f));
                    runs.push(f);
                }
                Err(e) => eprintln!("  {workload:<16} {name:<8} failed{tag}: {e}"),
            }
        }
    }
    let mut columns = Columns::default();
    for (side, runs) in sides.into_iter().zip(runs) {
        match side {
            Side::Bureau => columns.bureau = medians(&runs),
            Side::TokioMt => columns.local = medians(&runs),
        }
    }
    let mut rows = rows(&workload, &metrics(), 0, columns);
    for row in &mut rows {
        row.tokio_via = if row.tokio.is_some() { "mt" } else { "" };
    }
    rows
}

/// One `wrk` run against `side` with `workers` workers.
fn run(side: Side, workers: usize, secs: u64) -> io::Result<Vec<f64>> {
    let count = workers.to_string();
    let server = match side {
        Side::Bureau => Server::start(Flavor::Bureau, APP, &["--workers", &count])?,
        Side::TokioMt => Server::start(Flavor::TokioLocal, APP, &["--threads", &count])?,
    };
    let pids = with_children(server.pid())?;
    let expected = match side {
        Side::Bureau => workers + 1,
        Side::TokioMt => 1,
    };
    if pids.len() != expected {
        return Err(io::Error::other(format!(
            "{} server processes, not {expected}: {pids:?}",
            pids.len()
        )));
    }
    let cpu_before = cpu_time(&pids)?;
    let output = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{CONNS}"),
            &format!("-d{secs}s"),
            "--latency",
        ])
        .arg(format!("http://{}/", server.addr))
        .output()?;
    let cpu = cpu_time(&pids)?.since(cpu_before);
    let report = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || report.contains("Socket errors") {
        return Err(io::Error::other(format!("wrk: {report}")));
    }
    let requests = requests_done(&report)?;
    Ok(vec![
        wrk_number(&report, "Requests/sec:")?,
        wrk_micros(&report, "50%")?,
        wrk_micros(&report, "99%")?,
        cpu.total() as f64 / requests,
        cpu.user as f64 / requests,
    ])
}

/// Process `pid` and its children: those of each of its threads, from
/// `/proc/PID/task/TID/children`.
fn with_children(pid: u32) -> io::Result<Vec<u32>> {
    let mut pids = vec![pid];
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        // A thread may end between the listing and the read: it has no
        // children left to count.
        let Ok(children) = std::fs::read_to_string(task?.path().join("children")) else {
            continue;
        };
        pids.extend(
            children
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    Ok(pids)
}

/// The CPU time the processes `pids` have used, all together.
fn cpu_time(pids: &[u32]) -> io::Result<CpuTime> {
    pids.iter().try_fold(CpuTime::default(), |sum, &pid| {
        let cpu = procfs::cpu_time(pid)?;
        Ok(CpuTime {
            user: sum.user + cpu.user,
            system: sum.system + cpu.system,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_children_of_a_process() {
        let mut child = Command::new("sleep")
            .arg("10")
            .spawn()
            .expect("start sleep");
        let pids = with_children(std::process::id());
        let _ = child.kill();
        let _ = child.wait();
        let pids = pids.expect("read /proc");
        assert_eq!(pids[0], std::process::id());
        assert!(pids.contains(&child.id()), "{pids:?}");
    }

    #[test]
    fn sums_the_cpu_of_several_processes() {
        let me = std::process::id();
        let one = cpu_time(&[me]).expect("cpu");
        let twice = cpu_time(&[me, me]).expect("cpu");
        assert!(twice.total() >= 2 * one.total());
    }
}
