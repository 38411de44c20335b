//! The idle workload: 1,000 idle connections and a 1 s interval timer for
//! 5 s, counting every server thread's voluntary context switches.
//!
//! It must count the server's threads only, and every one of them, so that
//! a helper thread that wakes shows up.

use super::{Flavor, Server, bin_dir, field, rows_by_flavor};
use crate::cli::Options;
use crate::report::{Better, Metric, Row, Target};
use std::io;
use std::process::Command;

const CONNS: usize = 1_000;
const SECS: u64 = 5;

fn metrics() -> Vec<Metric> {
    vec![
        Metric {
            name: "wakeups/s",
            better: Better::Lower,
            targets: vec![Target::at_most(1.0)],
        },
        Metric {
            name: "helper threads woken",
            better: Better::Lower,
            targets: vec![Target::at_most(0.0)],
        },
    ]
}

/// Runs the idle workload on every server `options` selects.
pub fn idle(options: &Options) -> Vec<Row> {
    rows_by_flavor(options, "idle", &Flavor::ALL, &metrics(), 0, run)
}

fn run(flavor: Flavor) -> io::Result<Vec<f64>> {
    let server = Server::start(flavor, "echo", &["--tick"])?;
    let output = Command::new(bin_dir()?.join("loadgen"))
        .args(["idle", &server.addr.to_string()])
        .args(["--conns", &CONNS.to_string(), "--secs", &SECS.to_string()])
        .args(["--pid", &server.pid().to_string()])
        .output()?;
    if !output.status.success() {
        return Err(io::Error::other(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    let line = String::from_utf8_lossy(&output.stdout);
    if let Some(detail) = line
        .split_whitespace()
        .find_map(|p| p.strip_prefix("detail="))
    {
        eprintln!("  idle {:<8} wakeups per thread: {detail}", flavor.name());
    }
    Ok(vec![
        field(&line, "wakeups")? / field(&line, "secs")?,
        field(&line, "woken_helpers")?,
    ])
}
