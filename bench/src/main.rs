//! `bureau-bench`: runs the benchmark workloads on bureau, smol and tokio
//! in one run, and prints the medians with bureau's ratio to the best peer.
//!
//! This binary only orchestrates: in-process workloads live in
//! `workloads/`, the servers and their load in `servers/` and the
//! `src/bin/` programs. CI runs only its unit tests (its command line,
//! medians and table), never a workload, and no result here gates
//! anything.

mod cli;
mod report;
mod runtimes;
mod servers;
mod svg;
mod workloads;

use report::Row;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let options = match cli::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    if let Some((runtime, name)) = &options.child {
        // A child prints its medians, and the parent makes the table.
        let named = options.workloads[0];
        return match workloads::in_this_process(named, name, runtime, &options) {
            Ok(figures) => {
                println!("{}", workloads::child_line(&figures));
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("bench: {error}");
                ExitCode::FAILURE
            }
        };
    }
    match bureau_bench::limits::raise_nofile() {
        Ok(limit) if limit < 10_100 => {
            eprintln!("note: at most {limit} open files per process; C=10,000 needs about 10,050")
        }
        Ok(_) => {}
        Err(error) => eprintln!("note: cannot raise the open-file limit: {error}"),
    }
    let needs_servers = options.workloads.iter().any(|w| {
        [
            "tcp-echo",
            "timer-under-load",
            "http",
            "hyper",
            "cluster",
            "idle",
        ]
        .contains(w)
    });
    if needs_servers {
        if let Err(error) = servers::build_binaries() {
            eprintln!("bench: {error}");
            return ExitCode::FAILURE;
        }
    }
    let mut rows: Vec<Row> = Vec::new();
    for &workload in &options.workloads {
        eprintln!("{workload}:");
        rows.extend(run(workload, &options));
    }
    let caption = machine();
    if options.json {
        print!("{}", report::json(&rows));
    } else {
        println!("{caption}\n");
        print!("{}", report::markdown(&rows));
    }
    if let Some(path) = &options.svg {
        if let Err(error) = std::fs::write(path, svg::chart(&rows, &caption)) {
            eprintln!("bench: cannot write {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Runs one workload by its name and returns its rows.
fn run(workload: &str, options: &cli::Options) -> Vec<Row> {
    match workload {
        in_process if cli::IN_PROCESS.contains(&in_process) => {
            workloads::measure(workload, options)
        }
        "tcp-echo" => servers::tcp_echo(options),
        "timer-under-load" => servers::timer_under_load(options),
        "http" => servers::http(options),
        "hyper" => servers::hyper(options),
        "cluster" => servers::cluster(options),
        "idle" => servers::idle(options),
        _ => servers::footprint(options),
    }
}

/// The machine and the date, for the table's caption.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let shell = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    format!(
        "{} · {cpu}, {cores} cores · Linux {}",
        shell("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        shell("uname", &["-r"])
    )
}
