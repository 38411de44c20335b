//! The in-process workloads and the loop that times them on each runtime:
//! one warm-up, then `reps` timed repetitions, medians kept.
//!
//! Each runtime's repetitions run in a child process of their own (this
//! program again, with `--child`), so that no runtime finds another's
//! threads, pools or heap in its process: a blocking pool of 256 idle
//! threads left by one column changed the next column's `fs` figure by a
//! factor of two. A workload is written once, generic over [`Runtime`];
//! this file must never special-case a runtime, so that every column runs
//! the same code.

mod executor;
mod files;
mod pipe;
mod pool;
mod starve;
mod timers;

use crate::cli::Options;
use crate::report::{Columns, Metric, Row, figures, rows};
use crate::runtimes::{Bureau, Runtime, Smol, TokioLocal, TokioSpawn};
use bureau_bench::stats::medians;
use executor::{PingPong, Spawn, Yield};
use files::Files;
use pipe::Pipe;
use pool::{UnblockLatency, UnblockThroughput};
use starve::Starve;
use std::process::{Command, Stdio};
use timers::{TimerChurn, Timers};

/// A workload that runs inside this process.
pub trait Workload {
    /// Its name in the table.
    const NAME: &'static str;

    /// What [`Workload::run`] returns, in that order.
    fn metrics(&self) -> Vec<Metric>;

    /// The index of the metric that decides which of tokio's two ways of
    /// spawning is reported.
    fn deciding_metric(&self) -> usize {
        0
    }

    /// Runs one repetition on `R` and returns one figure per metric.
    fn run<R: Runtime>(&self) -> Vec<f64>;

    /// The name of a reference without any runtime, if the workload has one.
    const REFERENCE: Option<&'static str> = None;

    /// One repetition of the reference named [`Workload::REFERENCE`].
    fn reference(&self) -> Vec<f64> {
        Vec::new()
    }
}

/// Something done with each measurement of an in-process workload.
trait Visit {
    fn visit<W: Workload>(&mut self, workload: &W);
}

/// Calls `visitor` with each measurement of the command line's in-process
/// workload `named` (one of [`crate::cli::IN_PROCESS`]), as `options` sets
/// it up: one, or two for `unblock` (`unblock` and `unblock latency`).
fn each(named: &str, options: &Options, visitor: &mut impl Visit) -> Result<(), String> {
    match named {
        "spawn" => visitor.visit(&Spawn),
        "yield" => visitor.visit(&Yield),
        "pingpong" => visitor.visit(&PingPong),
        "unblock" => {
            visitor.visit(&UnblockThroughput);
            visitor.visit(&UnblockLatency);
        }
        "timers" => visitor.visit(&Timers),
        "timer-churn" => visitor.visit(&TimerChurn),
        "starve" => visitor.visit(&Starve {
            run_for: options.starve,
        }),
        "fs" => {
            let files = Files::prepare().map_err(|e| format!("cannot make the files: {e}"))?;
            visitor.visit(&files);
        }
        "pipe" => visitor.visit(&Pipe),
        other => return Err(format!("{other} is not an in-process workload")),
    }
    Ok(())
}

/// Times the command line's in-process workload `named` on every runtime
/// `options` selects, each in a child process, and returns its rows.
pub fn measure(named: &str, options: &Options) -> Vec<Row> {
    struct Parent<'a> {
        named: &'a str,
        options: &'a Options,
        rows: Vec<Row>,
    }
    impl Visit for Parent<'_> {
        fn visit<W: Workload>(&mut self, workload: &W) {
            let metrics = workload.metrics();
            let count = metrics.len();
            let runs = |column: &str| self.options.runs(column);
            let child =
                |runtime: &str| in_a_child(self.named, W::NAME, runtime, self.options, count);
            let columns = Columns {
                bureau: runs("bureau").then(|| child(Bureau::NAME)).flatten(),
                smol: runs("smol").then(|| child(Smol::NAME)).flatten(),
                local: runs("tokio").then(|| child(TokioLocal::NAME)).flatten(),
                spawn: runs("tokio").then(|| child(TokioSpawn::NAME)).flatten(),
                reference_name: W::REFERENCE.unwrap_or_default(),
                reference: W::REFERENCE
                    .filter(|_| runs("ref"))
                    .and_then(|_| child(REFERENCE)),
            };
            let decides = workload.deciding_metric();
            self.rows.extend(rows(W::NAME, &metrics, decides, columns));
        }
    }
    let mut parent = Parent {
        named,
        options,
        rows: Vec::new(),
    };
    if let Err(error) = each(named, options, &mut parent) {
        eprintln!("  {named}: {error}");
    }
    parent.rows
}

/// In a child process: times measurement `name` of the command line's
/// workload `named` on `runtime` (one of [`crate::cli::CHILDREN`]), with
/// one warm-up and `options.reps` timed runs in this process, and returns
/// the median of each metric.
pub fn in_this_process(
    named: &str,
    name: &str,
    runtime: &str,
    options: &Options,
) -> Result<Vec<f64>, String> {
    struct Child<'a> {
        name: &'a str,
        runtime: &'a str,
        reps: usize,
        figures: Option<Result<Vec<f64>, String>>,
    }
    impl Visit for Child<'_> {
        fn visit<W: Workload>(&mut self, workload: &W) {
            if W::NAME == self.name {
                self.figures = Some(time(workload, self.runtime, self.reps));
            }
        }
    }
    let mut child = Child {
        name,
        runtime,
        reps: options.reps,
        figures: None,
    };
    each(named, options, &mut child)?;
    child
        .figures
        .unwrap_or_else(|| Err(format!("{named} has no measurement {name:?}")))
}

/// What `--child` calls the reference without a runtime.
const REFERENCE: &str = "ref";

/// One warm-up and `reps` timed runs of `workload` on `runtime`: the median
/// of each metric.
fn time<W: Workload>(workload: &W, runtime: &str, reps: usize) -> Result<Vec<f64>, String> {
    let repeat = |run: &dyn Fn() -> Vec<f64>| {
        run();
        let runs: Vec<Vec<f64>> = (0..reps).map(|_| run()).collect();
        medians(&runs).unwrap_or_default()
    };
    let found = match runtime {
        Bureau::NAME => repeat(&|| workload.run::<Bureau>()),
        Smol::NAME => repeat(&|| workload.run::<Smol>()),
        TokioLocal::NAME => repeat(&|| workload.run::<TokioLocal>()),
        TokioSpawn::NAME => repeat(&|| workload.run::<TokioSpawn>()),
        REFERENCE if W::REFERENCE.is_some() => repeat(&|| workload.reference()),
        _ => return Err(format!("{} has no column {runtime:?}", W::NAME)),
    };
    let shown = W::REFERENCE
        .filter(|_| runtime == REFERENCE)
        .unwrap_or(runtime);
    eprintln!("  {:<8} {shown:<8} {}", W::NAME, figures(&found));
    Ok(found)
}

/// Runs this program again as a child that times measurement `name` of the
/// command line's workload `named` on `runtime` (one of
/// [`crate::cli::CHILDREN`]) as `options` asks, and reads its `count`
/// medians; `None`, said on stderr, if the child fails.
fn in_a_child(
    named: &str,
    name: &str,
    runtime: &str,
    options: &Options,
    count: usize,
) -> Option<Vec<f64>> {
    let run = || -> Result<Vec<f64>, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let output = Command::new(exe)
            .args([named, "--child", runtime, name])
            .args(["--reps", &options.reps.to_string()])
            .args(["--starve-secs", &options.starve.as_secs_f64().to_string()])
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| e.to_string())?;
        if !output.status.success() {
            return Err(format!("the child process ended with {}", output.status));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout.lines().last().unwrap_or_default();
        let figures: Vec<f64> = line
            .split_whitespace()
            .map(|figure| {
                figure
                    .parse()
                    .map_err(|_| format!("{line:?} is not figures"))
            })
            .collect::<Result<_, _>>()?;
        if figures.len() != count {
            return Err(format!(
                "{line:?} holds {} figures, not {count}",
                figures.len()
            ));
        }
        Ok(figures)
    };
    run()
        .inspect_err(|error| eprintln!("  {name:<8} {runtime:<8} failed: {error}"))
        .ok()
}

/// Figures as a child prints them for its parent: in full, space-separated.
pub fn child_line(figures: &[f64]) -> String {
    let shown: Vec<String> = figures.iter().map(f64::to_string).collect();
    shown.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_are_the_runtimes_by_their_names_and_the_reference() {
        let names = [
            Bureau::NAME,
            Smol::NAME,
            TokioLocal::NAME,
            TokioSpawn::NAME,
            REFERENCE,
        ];
        assert_eq!(crate::cli::CHILDREN, names);
    }
}
