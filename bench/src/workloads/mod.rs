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
mod pool;
mod timers;

pub use executor::{PingPong, Spawn, Yield};
pub use files::Files;
pub use pool::{UnblockLatency, UnblockThroughput};
pub use timers::{TimerChurn, Timers};

use crate::cli::Options;
use crate::report::{Better, Row, Target};
use crate::runtimes::{Bureau, Runtime, Smol, TokioLocal, TokioSpawn};
use bureau_bench::stats::median;
use std::process::{Command, Stdio};

/// One metric a workload reports.
pub struct Metric {
    /// Its name with its unit.
    pub name: &'static str,
    /// Which way it improves.
    pub better: Better,
    /// The targets issue 6 sets for it.
    pub targets: Vec<Target>,
}

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

/// Times `workload`, part of the command line's workload `named`, on every
/// runtime `options` selects, each in a child process, and returns its
/// rows. In a child (`options.child`), it times the one runtime asked for
/// and prints the medians instead, if `workload` is the one asked for.
pub fn measure<W: Workload>(named: &str, workload: &W, options: &Options) -> Vec<Row> {
    if let Some((runtime, wanted)) = &options.child {
        if wanted == W::NAME {
            match in_this_process(workload, runtime, options.reps) {
                Some(figures) => println!("{}", join(&figures)),
                None => eprintln!("bench: {} has no runtime {runtime:?}", W::NAME),
            }
        }
        return Vec::new();
    }
    let metrics = workload.metrics();
    let figures = |runtime: &str| in_a_child(named, W::NAME, runtime, options.reps);
    let bureau = options
        .runs("bureau")
        .then(|| figures(Bureau::NAME))
        .flatten();
    let smol = options.runs("smol").then(|| figures(Smol::NAME)).flatten();
    let tokio_runs = options.runs("tokio");
    let local = tokio_runs.then(|| figures(TokioLocal::NAME)).flatten();
    let spawn = tokio_runs.then(|| figures(TokioSpawn::NAME)).flatten();
    let decides = workload.deciding_metric();
    let (tokio, tokio_via) = match (local, spawn) {
        (Some(local), Some(spawn))
            if metrics[decides]
                .better
                .prefers(spawn[decides], local[decides]) =>
        {
            (Some(spawn), TokioSpawn::NAME)
        }
        (Some(local), _) => (Some(local), TokioLocal::NAME),
        (None, Some(spawn)) => (Some(spawn), TokioSpawn::NAME),
        (None, None) => (None, ""),
    };
    let reference = W::REFERENCE
        .filter(|_| options.runs("ref"))
        .and_then(|name| Some((name, figures("ref")?)));
    metrics
        .iter()
        .enumerate()
        .map(|(i, metric)| {
            let mut row =
                Row::new(W::NAME, metric.name, metric.better).with_targets(&metric.targets);
            row.bureau = bureau.as_ref().map(|f| f[i]);
            row.smol = smol.as_ref().map(|f| f[i]);
            row.tokio = tokio.as_ref().map(|f| f[i]);
            row.tokio_via = tokio_via;
            if let Some((name, figures)) = &reference {
                row.reference_name = name;
                row.reference = Some(figures[i]);
            }
            row
        })
        .collect()
}

/// Runs this program again as a child that times measurement `name` of the
/// command line's workload `named` on `runtime` (one of
/// [`crate::cli::CHILDREN`]), and reads its medians; `None`, said on
/// stderr, if the child fails.
fn in_a_child(named: &str, name: &str, runtime: &str, reps: usize) -> Option<Vec<f64>> {
    let run = || -> Result<Vec<f64>, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let output = Command::new(exe)
            .args([named, "--child", runtime, name, "--reps", &reps.to_string()])
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| e.to_string())?;
        if !output.status.success() {
            return Err(format!("the child process ended with {}", output.status));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout.lines().last().ok_or("the child printed nothing")?;
        line.split_whitespace()
            .map(|figure| {
                figure
                    .parse()
                    .map_err(|_| format!("{line:?} is not figures"))
            })
            .collect()
    };
    run()
        .inspect_err(|error| eprintln!("  {name:<8} {runtime:<8} failed: {error}"))
        .ok()
}

/// One warm-up and `reps` timed runs of `workload` on `runtime` (one of
/// [`crate::cli::CHILDREN`]) in this process: the median of each metric, or `None` for
/// a name that is not there.
fn in_this_process<W: Workload>(workload: &W, runtime: &str, reps: usize) -> Option<Vec<f64>> {
    let runs: Vec<Vec<f64>> = match runtime {
        "bureau" => repeat(reps, || workload.run::<Bureau>()),
        "smol" => repeat(reps, || workload.run::<Smol>()),
        "local" => repeat(reps, || workload.run::<TokioLocal>()),
        "spawn" => repeat(reps, || workload.run::<TokioSpawn>()),
        "ref" if W::REFERENCE.is_some() => repeat(reps, || workload.reference()),
        _ => return None,
    };
    let count = runs.first().map_or(0, Vec::len);
    let figures: Vec<f64> = (0..count)
        .map(|i| median(&runs.iter().map(|run| run[i]).collect::<Vec<_>>()))
        .collect();
    let name = W::REFERENCE.filter(|_| runtime == "ref").unwrap_or(runtime);
    eprintln!("  {:<8} {name:<8} {}", W::NAME, show(&figures));
    Some(figures)
}

/// One warm-up, then `reps` timed runs of `run`.
fn repeat(reps: usize, mut run: impl FnMut() -> Vec<f64>) -> Vec<Vec<f64>> {
    run();
    (0..reps).map(|_| run()).collect()
}

/// Figures as the child prints them: in full, space-separated.
fn join(figures: &[f64]) -> String {
    let shown: Vec<String> = figures.iter().map(f64::to_string).collect();
    shown.join(" ")
}

fn show(figures: &[f64]) -> String {
    let shown: Vec<String> = figures
        .iter()
        .map(|f| crate::report::figure(Some(*f)))
        .collect();
    shown.join("  ")
}
