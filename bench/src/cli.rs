//! The command line: which workloads to run, how often, for how long, and
//! where the JSON and the SVG go.
//!
//! Parsing only: this file must never run anything.

use std::path::PathBuf;
use std::time::Duration;

/// The workloads that run inside the harness's process (or its child's),
/// in the order `all` runs them.
pub const IN_PROCESS: &[&str] = &[
    "spawn",
    "yield",
    "pingpong",
    "unblock",
    "timers",
    "timer-churn",
    "starve",
    "fs",
    "pipe",
];

/// The workloads around server programs, which start them (`tcp-echo`,
/// `timer-under-load`, `http`, `hyper`, `cluster`, `idle`) or build them
/// (`footprint`); `all` runs them after the in-process ones.
const SERVERS: &[&str] = &[
    "tcp-echo",
    "timer-under-load",
    "http",
    "hyper",
    "cluster",
    "idle",
    "footprint",
];

/// Every workload, in the order `all` runs them.
fn every_workload() -> impl Iterator<Item = &'static str> {
    IN_PROCESS.iter().chain(SERVERS).copied()
}

/// What to run, as the command line asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The workloads to run, in the order `all` runs them.
    pub workloads: Vec<&'static str>,
    /// Timed repetitions of each in-process workload (after one warm-up).
    pub reps: usize,
    /// Seconds of load per server run of `tcp-echo`, `timer-under-load`,
    /// `http`, `hyper` and `cluster`.
    pub secs: u64,
    /// How long each repetition of `starve` runs.
    pub starve: Duration,
    /// Runs of each server workload per runtime, taken in turns (every
    /// runtime once, then again): the table gives each figure's median.
    pub rounds: usize,
    /// The connection counts of `tcp-echo`.
    pub conns: Vec<usize>,
    /// Print JSON instead of the Markdown table.
    pub json: bool,
    /// Where to draw the ratios as an SVG bar chart.
    pub svg: Option<PathBuf>,
    /// Run only this column (`bureau`, `smol`, `tokio` or `ref`), to
    /// profile one runtime alone.
    pub only: Option<String>,
    /// Set when the harness runs itself as a child process that times one
    /// in-process measurement (a `Workload::NAME`, such as `unblock
    /// latency` of workload `unblock`) on one runtime (one of [`CHILDREN`])
    /// and prints its medians: `--child RUNTIME NAME`, not meant to be
    /// typed.
    pub child: Option<(String, String)>,
}

/// What `--child` accepts: a runtime's name (tokio's two ways of spawning
/// apart) or `ref`, the reference without a runtime.
pub const CHILDREN: &[&str] = &["bureau", "smol", "local", "spawn", "ref"];

/// The columns `--only` accepts.
pub const COLUMNS: &[&str] = &["bureau", "smol", "tokio", "ref"];

impl Options {
    /// Whether the column named `column` (one of [`COLUMNS`]) runs.
    pub fn runs(&self, column: &str) -> bool {
        self.only.as_deref().is_none_or(|only| only == column)
    }
}

/// How to call the program.
pub const USAGE: &str = "\
usage: bureau-bench [all | WORKLOAD...] [--reps N] [--secs S] [--rounds R]
                    [--conns C,C,...] [--starve-secs S] [--json] [--svg FILE]
                    [--only COLUMN]

  all          every workload (the default)
  WORKLOAD     spawn yield pingpong unblock timers timer-churn starve fs pipe
               tcp-echo timer-under-load http hyper cluster idle footprint
  --reps N     timed repetitions of in-process workloads, after a warm-up (5)
  --secs S     seconds of load per server run of tcp-echo, timer-under-load,
               http, hyper and cluster (10)
  --rounds R   runs of each server per runtime, in turns; medians (1)
  --conns LIST connection counts of tcp-echo (100,1000,5000,10000)
  --starve-secs S  seconds of each run of starve, a decimal (2)
  --json       print JSON instead of the Markdown table
  --svg FILE   draw bureau's ratio to the best peer as a bar chart
  --only COL   run one column only: bureau, smol, tokio or ref (to profile)";

/// Parses the arguments after the program's name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        workloads: Vec::new(),
        reps: 5,
        secs: 10,
        rounds: 1,
        conns: vec![100, 1_000, 5_000, 10_000],
        starve: Duration::from_secs(2),
        json: false,
        svg: None,
        only: None,
        child: None,
    };
    let mut wanted: Vec<String> = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "--reps" => options.reps = number(&value("--reps")?)?,
            "--secs" => options.secs = number(&value("--secs")?)? as u64,
            "--rounds" => options.rounds = number(&value("--rounds")?)?,
            "--conns" => {
                options.conns = value("--conns")?
                    .split(',')
                    .map(number)
                    .collect::<Result<_, _>>()?;
            }
            "--starve-secs" => options.starve = seconds(&value("--starve-secs")?)?,
            "--json" => options.json = true,
            "--svg" => options.svg = Some(PathBuf::from(value("--svg")?)),
            "--only" => {
                let column = value("--only")?;
                if !COLUMNS.contains(&column.as_str()) {
                    return Err(format!("--only takes one of {COLUMNS:?}"));
                }
                options.only = Some(column);
            }
            "--child" => {
                let runtime = value("--child")?;
                if !CHILDREN.contains(&runtime.as_str()) {
                    return Err(format!("--child takes one of {CHILDREN:?}"));
                }
                options.child = Some((runtime, value("--child")?));
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            flag if flag.starts_with('-') => return Err(format!("unknown flag {flag}\n{USAGE}")),
            name => wanted.push(name.to_string()),
        }
    }
    if let Some(unknown) = wanted
        .iter()
        .find(|w| *w != "all" && !every_workload().any(|x| x == w.as_str()))
    {
        return Err(format!("unknown workload {unknown}\n{USAGE}"));
    }
    let all = wanted.is_empty() || wanted.iter().any(|w| w == "all");
    options.workloads = every_workload()
        .filter(|w| all || wanted.iter().any(|x| x == w))
        .collect();
    let one_in_process = matches!(&options.workloads[..], [w] if IN_PROCESS.contains(w));
    if options.child.is_some() && (all || !one_in_process) {
        return Err("--child times one in-process workload".to_string());
    }
    if options.reps == 0 || options.secs == 0 || options.rounds == 0 || options.conns.contains(&0) {
        return Err("--reps, --secs, --rounds and --conns must be positive".to_string());
    }
    Ok(options)
}

fn number(text: &str) -> Result<usize, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number"))
}

/// A positive duration in seconds, such as `2` or `0.5`.
fn seconds(text: &str) -> Result<Duration, String> {
    text.trim()
        .parse()
        .ok()
        .and_then(|secs: f64| Duration::try_from_secs_f64(secs).ok())
        .filter(|duration| !duration.is_zero())
        .ok_or(format!("{text:?} is not a positive number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults_to_everything() {
        let options = parse(args("")).expect("parses");
        assert_eq!(options.workloads, every_workload().collect::<Vec<_>>());
        assert_eq!(options.workloads.len(), 16);
        assert_eq!((options.reps, options.secs, options.rounds), (5, 10, 1));
        assert_eq!(options.starve, Duration::from_secs(2));
    }

    #[test]
    fn keeps_the_canonical_order_and_the_flags() {
        let options = parse(args(
            "http spawn --reps 3 --rounds 2 --conns 10,20 --svg x.svg --json",
        ))
        .expect("parses");
        assert_eq!(options.workloads, ["spawn", "http"]);
        assert_eq!(options.conns, [10, 20]);
        assert_eq!((options.reps, options.rounds), (3, 2));
        assert!(options.json);
        assert_eq!(options.svg, Some(PathBuf::from("x.svg")));
    }

    #[test]
    fn refuses_unknown_names() {
        assert!(parse(args("spwan")).is_err());
        assert!(parse(args("--fast")).is_err());
        assert!(parse(args("--reps 0")).is_err());
        assert!(parse(args("--rounds 0")).is_err());
        assert!(parse(args("--only node")).is_err());
        assert!(parse(args("fs --child tokio fs")).is_err());
        assert!(parse(args("fs --child bureau")).is_err());
        assert!(parse(args("fs spawn --child bureau fs")).is_err());
        assert!(parse(args("http --child bureau http")).is_err());
        let child = parse(args("fs --child ref fs")).expect("parses");
        assert_eq!(child.child, Some(("ref".to_string(), "fs".to_string())));
    }

    #[test]
    fn starve_runs_as_long_as_asked() {
        let options = parse(args("starve --starve-secs 0.5")).expect("parses");
        assert_eq!(options.workloads, ["starve"]);
        assert_eq!(options.starve, Duration::from_millis(500));
        assert!(parse(args("starve --starve-secs 0")).is_err());
        assert!(parse(args("starve --starve-secs -1")).is_err());
        assert!(parse(args("starve --starve-secs soon")).is_err());
        let child = parse(args("starve --child spawn starve --starve-secs 1")).expect("parses");
        assert_eq!(
            child.child,
            Some(("spawn".to_string(), "starve".to_string()))
        );
    }

    #[test]
    fn timer_under_load_is_a_server_workload() {
        let options = parse(args("timer-under-load starve --secs 3")).expect("parses");
        assert_eq!(options.workloads, ["starve", "timer-under-load"]);
        assert_eq!(options.secs, 3);
        assert!(parse(args("timer-under-load --child bureau timer-under-load")).is_err());
    }

    #[test]
    fn only_keeps_one_column() {
        let options = parse(args("spawn --only tokio")).expect("parses");
        assert!(options.runs("tokio"));
        assert!(!options.runs("bureau"));
        assert!(parse(args("spawn")).expect("parses").runs("ref"));
    }
}
