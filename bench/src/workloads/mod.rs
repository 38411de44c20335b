//! The in-process workloads and the loop that times them on each runtime:
//! one warm-up, then `reps` timed repetitions in this process, medians kept.
//!
//! A workload is written once, generic over [`Runtime`]; this file must
//! never special-case a runtime, so that every column runs the same code.

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

    /// A reference without any runtime, if the workload has one: its name
    /// and one repetition's figures.
    fn reference(&self) -> Option<(&'static str, Vec<f64>)> {
        None
    }
}

/// Times `workload` on every runtime `options` selects and returns its rows.
pub fn measure<W: Workload>(workload: &W, options: &Options) -> Vec<Row> {
    let metrics = workload.metrics();
    let reps = options.reps;
    let bureau = options
        .runs("bureau")
        .then(|| medians::<Bureau, W>(workload, reps));
    let smol = options
        .runs("smol")
        .then(|| medians::<Smol, W>(workload, reps));
    let tokio_runs = options.runs("tokio");
    let local = tokio_runs.then(|| medians::<TokioLocal, W>(workload, reps));
    let spawn = tokio_runs.then(|| medians::<TokioSpawn, W>(workload, reps));
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
        _ => (None, ""),
    };
    let reference = options
        .runs("ref")
        .then(|| reference_medians(workload, reps))
        .flatten();
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

/// One warm-up and `reps` timed runs of `workload` on `R`: the median of each
/// metric.
fn medians<R: Runtime, W: Workload>(workload: &W, reps: usize) -> Vec<f64> {
    workload.run::<R>();
    let runs: Vec<Vec<f64>> = (0..reps).map(|_| workload.run::<R>()).collect();
    let figures = per_metric_medians(&runs);
    eprintln!("  {:<8} {:<8} {}", W::NAME, R::NAME, show(&figures));
    figures
}

fn reference_medians<W: Workload>(workload: &W, reps: usize) -> Option<(&'static str, Vec<f64>)> {
    let (name, _) = workload.reference()?;
    let runs: Vec<Vec<f64>> = (0..reps)
        .filter_map(|_| workload.reference().map(|(_, figures)| figures))
        .collect();
    let figures = per_metric_medians(&runs);
    eprintln!("  {:<8} {:<8} {}", W::NAME, name, show(&figures));
    Some((name, figures))
}

fn per_metric_medians(runs: &[Vec<f64>]) -> Vec<f64> {
    let count = runs.first().map_or(0, Vec::len);
    (0..count)
        .map(|i| median(&runs.iter().map(|run| run[i]).collect::<Vec<_>>()))
        .collect()
}

fn show(figures: &[f64]) -> String {
    let shown: Vec<String> = figures
        .iter()
        .map(|f| crate::report::figure(Some(*f)))
        .collect();
    shown.join("  ")
}
