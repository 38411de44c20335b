//! The timer-under-load workload: a 5 ms interval ticker inside the echo
//! server, a task beside its echo tasks, while `loadgen` keeps C = 5,000
//! connections busy: how late the ticks fire, and the echo throughput of
//! the same run.
//!
//! Only the ticks due inside loadgen's measured window count (between its
//! `measuring` and `measured` lines, read on the wall clock as they come),
//! so that opening 5,000 connections is not charged to the timer. It must
//! bound every run by its duration (`--secs`).

use super::{Flavor, Server, bin_dir, field, rows_by_flavor};
use crate::cli::Options;
use crate::report::{Better, Metric, Row};
use bureau_bench::stats::Lateness;
use bureau_bench::ticks::SERVER_PERIOD;
use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// The connections loadgen keeps busy.
const CONNS: usize = 5_000;

/// How long after the window the last tick due inside it may take to
/// appear in the server's log before the run counts as failed.
const LOG_WAIT: Duration = Duration::from_secs(10);

fn metrics() -> Vec<Metric> {
    vec![
        Metric {
            name: "tick p50 lateness ms",
            better: Better::Lower,
            targets: vec![],
        },
        Metric {
            name: "tick p99 lateness ms",
            better: Better::Lower,
            targets: vec![],
        },
        Metric {
            name: "tick worst lateness ms",
            better: Better::Lower,
            targets: vec![],
        },
        Metric {
            name: "echo messages/s",
            better: Better::Higher,
            targets: vec![],
        },
    ]
}

/// Runs timer-under-load on every runtime `options` selects (there is no
/// reference: the raw server has no timers), `options.secs` seconds each.
pub fn timer_under_load(options: &Options) -> Vec<Row> {
    let workload = format!("timer-under-load C={CONNS}");
    rows_by_flavor(
        options,
        &workload,
        &Flavor::RUNTIMES,
        &metrics(),
        1,
        |flavor| run(flavor, options.secs),
    )
}

fn run(flavor: Flavor, secs: u64) -> io::Result<Vec<f64>> {
    let server = Server::start(flavor, "echo", &["--lateness"])?;
    let mut loadgen = Command::new(bin_dir()?.join("loadgen"))
        .args(["echo", &server.addr.to_string()])
        .args(["--conns", &CONNS.to_string(), "--secs", &secs.to_string()])
        .args(["--pid", &server.pid().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = loadgen.stdout.take().ok_or(io::Error::other("no stdout"))?;
    let (mut start, mut stop) = (None, None);
    let mut echoes = String::new();
    for line in BufReader::new(stdout).lines() {
        match line?.as_str() {
            "measuring" => start = Some(wall_nanos(SystemTime::now())),
            "measured" => stop = Some(wall_nanos(SystemTime::now())),
            figures => echoes = figures.to_string(),
        }
    }
    let output = loadgen.wait_with_output()?;
    if !output.status.success() {
        return Err(io::Error::other(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    let (Some(start), Some(stop)) = (start, stop) else {
        return Err(io::Error::other("loadgen printed no window"));
    };
    let lateness = Lateness::of(ticks_within(server.log(), start, stop)?)
        .ok_or(io::Error::other("no tick was due in the window"))?;
    Ok(vec![
        lateness.p50_ms,
        lateness.p99_ms,
        lateness.max_ms,
        field(&echoes, "messages")? / field(&echoes, "secs")?,
    ])
}

/// Nanoseconds since the Unix epoch, as the servers log deadlines.
fn wall_nanos(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as i64
}

/// The lateness of each tick the server at `log` logged as due from `start`
/// until just before `stop`, once all of them have fired: the log is read
/// again until it holds a tick due at `stop` or later, so that a tick held
/// up past the window still counts.
fn ticks_within(log: &Path, start: i64, stop: i64) -> io::Result<Vec<i64>> {
    let give_up = Instant::now() + LOG_WAIT;
    loop {
        let ticks = logged_ticks(&std::fs::read_to_string(log)?);
        if ticks.last().is_some_and(|&(due, _)| due >= stop) {
            return Ok(ticks
                .into_iter()
                .filter(|&(due, _)| start <= due && due < stop)
                .map(|(_, late)| late)
                .collect());
        }
        if Instant::now() >= give_up {
            return Err(io::Error::other(format!(
                "no tick after the window in {}",
                log.display()
            )));
        }
        std::thread::sleep(SERVER_PERIOD);
    }
}

/// The deadline and lateness of each tick in a server's log (the lines of
/// `bureau_bench::ticks::tick_line`), in the order they were logged; other
/// lines, and a last line still being written, are left out.
fn logged_ticks(log: &str) -> Vec<(i64, i64)> {
    log.split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .filter_map(|line| {
            let mut fields = line.strip_prefix("tick ")?.split_whitespace();
            let due = fields.next()?.parse().ok()?;
            let late = fields.next()?.parse().ok()?;
            Some((due, late))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bureau_bench::ticks::tick_line;

    #[test]
    fn reads_the_ticks_a_server_logged_and_nothing_else() {
        let deadline = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
        let late = |ms: u64| tick_line(deadline, deadline + Duration::from_millis(ms), wall);
        let log = format!(
            "echo_bureau: accept: too many open files\n{}{}tick 99",
            late(2),
            late(3)
        );
        let due = |ms: i64| 10_000_000_000 - ms * 1_000_000;
        assert_eq!(
            logged_ticks(&log),
            [(due(2), 2_000_000), (due(3), 3_000_000)]
        );
    }

    #[test]
    fn a_window_waits_for_the_tick_after_it() {
        let log = std::env::temp_dir().join(format!("bureau-bench-test-{}", std::process::id()));
        std::fs::write(&log, "tick 5 1\ntick 10 2\ntick 15 3\n").expect("writes");
        let writer = {
            let log = log.clone();
            std::thread::spawn(move || {
                std::thread::sleep(SERVER_PERIOD * 4);
                let held_up = "tick 5 1\ntick 10 2\ntick 15 3\ntick 20 40\ntick 25 4\n";
                std::fs::write(&log, held_up).expect("writes");
            })
        };
        // The tick due at 20 was held up past the window's end at 25.
        let ticks = ticks_within(&log, 10, 25);
        writer.join().expect("the writing thread");
        std::fs::remove_file(&log).expect("removes");
        assert_eq!(ticks.expect("reads"), [2, 3, 40]);
    }
}
