//! `bureau-bench`: runs the workloads of issue 6 on bureau, smol and tokio
//! in one run, and prints the medians with bureau's ratio to the best peer.
//!
//! This binary only orchestrates: in-process workloads live in
//! `workloads/`, the servers and their load in `servers/` and the
//! `src/bin/` programs. It must never be part of CI's test run, and no
//! result here gates anything.

mod cli;
mod report;
mod runtimes;
mod workloads;

use report::Row;
use std::process::ExitCode;
use workloads::measure;

fn main() -> ExitCode {
    let options = match cli::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let mut rows: Vec<Row> = Vec::new();
    for &workload in &options.workloads {
        eprintln!("{workload}:");
        let reps = options.reps;
        match workload {
            "spawn" => rows.extend(measure(&workloads::Spawn, reps)),
            "yield" => rows.extend(measure(&workloads::Yield, reps)),
            "pingpong" => rows.extend(measure(&workloads::PingPong, reps)),
            "unblock" => {
                rows.extend(measure(&workloads::UnblockThroughput, reps));
                rows.extend(measure(&workloads::UnblockLatency, reps));
            }
            other => eprintln!("  {other}: not measured yet"),
        }
    }
    if options.json {
        print!("{}", report::json(&rows));
    } else {
        print!("{}", report::markdown(&rows));
    }
    ExitCode::SUCCESS
}
