//! The http and hyper workloads: the hello-world keep-alive servers under
//! `wrk -t1 -c100` and `-c1000`; `http` runs the hand-written ones
//! (`http_*`), `hyper` the same hello-world through hyper's HTTP/1.1 server
//! on each runtime with that runtime's glue (`hyper_*`).
//!
//! It must bound every run by its duration (`--secs`) and count the
//! server's CPU only, read from `/proc` around the `wrk` run.

use super::{Flavor, Server, rows_by_flavor};
use crate::cli::Options;
use crate::report::{Better, Metric, Row, Target};
use bureau_bench::procfs;
use std::io;
use std::process::Command;

/// The connection counts `wrk` opens.
const CONNS: [usize; 2] = [100, 1_000];

/// The figures of one run; bureau's server CPU per request must be at
/// most `cpu_target` times the best peer's.
fn metrics(cpu_target: f64) -> Vec<Metric> {
    vec![
        Metric {
            name: "requests/s",
            better: Better::Higher,
            targets: vec![Target::peer_at_least(1.0)],
        },
        Metric {
            name: "p50 µs",
            better: Better::Lower,
            targets: vec![],
        },
        Metric {
            name: "p99 µs",
            better: Better::Lower,
            targets: vec![],
        },
        Metric {
            name: "server CPU µs/request",
            better: Better::Lower,
            targets: vec![Target::peer_at_most(cpu_target)],
        },
        Metric {
            name: "of which user µs/request",
            better: Better::Lower,
            targets: vec![],
        },
    ]
}

/// Runs `wrk` against every hand-written server at each connection count,
/// `options.secs` seconds a run.
pub fn http(options: &Options) -> Vec<Row> {
    under_wrk(options, "http", &Flavor::ALL, 0.9)
}

/// Runs `wrk` against the hyper server of every runtime at each connection
/// count, `options.secs` seconds a run. There is no reference column: a
/// server without a runtime has no hyper.
pub fn hyper(options: &Options) -> Vec<Row> {
    under_wrk(options, "hyper", &Flavor::RUNTIMES, 1.0)
}

/// The rows of `app`'s servers (`APP_bureau` and so on) of `flavors`
/// under `wrk`.
fn under_wrk(options: &Options, app: &str, flavors: &[Flavor], cpu_target: f64) -> Vec<Row> {
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("  {app}: wrk is not installed (bench/run.sh installs it)");
        return Vec::new();
    }
    CONNS
        .iter()
        .flat_map(|&conns| {
            let workload = format!("{app} c={conns}");
            rows_by_flavor(
                options,
                &workload,
                flavors,
                &metrics(cpu_target),
                0,
                |flavor| run(flavor, app, conns, options.secs),
            )
        })
        .collect()
}

fn run(flavor: Flavor, app: &str, conns: usize, secs: u64) -> io::Result<Vec<f64>> {
    let server = Server::start(flavor, app, &[])?;
    let cpu_before = procfs::cpu_time(server.pid())?;
    let output = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{conns}"),
            &format!("-d{secs}s"),
            "--latency",
        ])
        .arg(format!("http://{}/", server.addr))
        .output()?;
    let cpu = procfs::cpu_time(server.pid())?.since(cpu_before);
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

/// `N` of wrk's `N requests in 10.00s` line.
pub(super) fn requests_done(report: &str) -> io::Result<f64> {
    report
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no request count in {report:?}")))
}

/// The number after `label` at the start of one of wrk's lines.
pub(super) fn wrk_number(report: &str, label: &str) -> io::Result<f64> {
    wrk_value(report, label)?
        .parse()
        .map_err(|_| io::Error::other(format!("bad {label} in {report:?}")))
}

/// A latency after `label` (`584.00us`, `1.23ms`, `2.00s`), in µs.
pub(super) fn wrk_micros(report: &str, label: &str) -> io::Result<f64> {
    let value = wrk_value(report, label)?;
    let (number, scale) = if let Some(n) = value.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1e6)
    } else {
        (value, 1.0)
    };
    number
        .parse::<f64>()
        .map(|n| n * scale)
        .map_err(|_| io::Error::other(format!("bad {label} in {report:?}")))
}

fn wrk_value<'a>(report: &'a str, label: &str) -> io::Result<&'a str> {
    report
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or_else(|| io::Error::other(format!("no {label} in {report:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "  Latency Distribution\n     50%  584.00us\n     99%    1.23ms\n  \
        359732 requests in 2.00s, 26.76MB read\nRequests/sec: 179668.63\n";

    #[test]
    fn reads_wrk_reports() {
        assert_eq!(wrk_micros(REPORT, "50%").expect("p50"), 584.0);
        assert_eq!(wrk_micros(REPORT, "99%").expect("p99"), 1230.0);
        assert_eq!(wrk_number(REPORT, "Requests/sec:").expect("rps"), 179668.63);
        assert_eq!(requests_done(REPORT).expect("count"), 359732.0);
    }
}
