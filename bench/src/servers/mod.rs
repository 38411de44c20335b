//! The server workloads: each server runs as its own process, loaded by the
//! shared `loadgen` program or by `wrk`, and read from `/proc`.
//!
//! This module starts and stops the server processes and turns their
//! figures into rows. It must only ever start servers on 127.0.0.1, and
//! never leave one running: a [`Server`] kills its process when dropped.

mod cluster;
mod echo;
mod footprint;
mod http;
mod idle;
mod under_load;

pub use cluster::cluster;
pub use echo::tcp_echo;
pub use footprint::footprint;
pub use http::{http, hyper};
pub use idle::idle;
pub use under_load::timer_under_load;

use crate::cli::Options;
use crate::report::{Columns, Metric, Row, figures, rows};
use bureau_bench::stats::medians;
use std::io::{self, BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

/// One way of building a server: a runtime, or none at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// bureau.
    Bureau,
    /// smol.
    Smol,
    /// tokio's current-thread runtime, tasks through a `LocalSet`.
    TokioLocal,
    /// tokio's current-thread runtime, tasks through `tokio::spawn`.
    TokioSpawn,
    /// Directly on `polling`: the reference.
    Raw,
}

impl Flavor {
    /// Every flavor, in the order they run.
    pub const ALL: [Flavor; 5] = [
        Flavor::Bureau,
        Flavor::Smol,
        Flavor::TokioLocal,
        Flavor::TokioSpawn,
        Flavor::Raw,
    ];

    /// The flavors that are runtimes, without the reference.
    pub const RUNTIMES: [Flavor; 4] = [
        Flavor::Bureau,
        Flavor::Smol,
        Flavor::TokioLocal,
        Flavor::TokioSpawn,
    ];

    /// The server binary for `app` (`echo`, `http` or `hyper`) and its
    /// extra flags.
    fn command(self, app: &str) -> (String, &'static [&'static str]) {
        match self {
            Flavor::Bureau => (format!("{app}_bureau"), &[]),
            Flavor::Smol => (format!("{app}_smol"), &[]),
            Flavor::TokioLocal => (format!("{app}_tokio"), &[]),
            Flavor::TokioSpawn => (format!("{app}_tokio"), &["--spawn"]),
            Flavor::Raw => (format!("{app}_raw"), &[]),
        }
    }

    /// The table column it fills (one of `cli::COLUMNS`).
    fn column(self) -> &'static str {
        match self {
            Flavor::Bureau => "bureau",
            Flavor::Smol => "smol",
            Flavor::TokioLocal | Flavor::TokioSpawn => "tokio",
            Flavor::Raw => "ref",
        }
    }

    /// The name printed in progress lines.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Bureau => "bureau",
            Flavor::Smol => "smol",
            Flavor::TokioLocal => "local",
            Flavor::TokioSpawn => "spawn",
            Flavor::Raw => "raw",
        }
    }
}

/// A server process listening on 127.0.0.1, killed when dropped.
pub struct Server {
    child: Child,
    /// Kept open so that the server's stdout never breaks.
    _stdout: BufReader<ChildStdout>,
    /// The file that holds the server's stderr.
    log: PathBuf,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `flavor`'s server for `app` with `extra` flags, and waits
    /// until it says it is listening.
    pub fn start(flavor: Flavor, app: &str, extra: &[&str]) -> io::Result<Server> {
        let addr = free_port()?;
        let (binary, flags) = flavor.command(app);
        let log = std::env::temp_dir().join(format!("bureau-bench-{binary}.log"));
        let mut child = Command::new(bin_dir()?.join(&binary))
            .arg(addr.to_string())
            .args(flags)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start {binary}: {e}")))?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or(io::Error::other("no stdout"))?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        if !line.starts_with("listening") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!(
                "{binary} did not start; see {}",
                log.display()
            )));
        }
        Ok(Server {
            child,
            _stdout: stdout,
            log,
            addr,
        })
    }

    /// The file that holds the server's stderr, written as it runs.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Killing a server that already died fails harmlessly.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> io::Result<SocketAddr> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()
}

/// The folder of this program, where cargo put the server binaries too.
pub fn bin_dir() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .map(PathBuf::from)
        .ok_or(io::Error::other("this program has no folder"))
}

/// Builds the server and load-generator binaries next to this program
/// (`cargo run` builds only this one).
pub fn build_binaries() -> io::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "bureau-bench", "--bins"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(
            "cargo could not build the server binaries",
        ))
    }
}

/// Parses `key=value` pairs out of one line of output.
fn field(line: &str, key: &str) -> io::Result<f64> {
    line.split_whitespace()
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no {key} in {line:?}")))
}

/// Runs `measure` on each of `flavors` that `options` selects,
/// `options.rounds` times in turns, and turns each figure's median (see
/// [`bureau_bench::stats::medians`]) into rows; tokio's column takes the
/// way of spawning that is better on metric `decides`.
///
/// Taking turns spreads the machine's slow minutes over every flavor
/// instead of one: a run that fails is reported and left out, and a
/// flavor whose every run failed has no figures.
fn rows_by_flavor(
    options: &Options,
    workload: &str,
    flavors: &[Flavor],
    metrics: &[Metric],
    decides: usize,
    mut measure: impl FnMut(Flavor) -> io::Result<Vec<f64>>,
) -> Vec<Row> {
    let flavors: Vec<Flavor> = flavors
        .iter()
        .copied()
        .filter(|flavor| options.runs(flavor.column()))
        .collect();
    let mut runs: Vec<Vec<Vec<f64>>> = vec![Vec::new(); flavors.len()];
    for round in 1..=options.rounds {
        for (flavor, runs) in flavors.iter().zip(&mut runs) {
            let name = flavor.name();
            let tag = match options.rounds {
                1 => String::new(),
                n => format!(" {round}/{n}"),
            };
            match measure(*flavor) {
                Ok(f) => {
                    eprintln!("  {workload:<16} {name:<8} {}{tag}", figures(&f));
                    runs.push(f);
                }
                Err(e) => eprintln!("  {workload:<16} {name:<8} failed{tag}: {e}"),
            }
        }
    }
    let mut columns = Columns {
        reference_name: "raw",
        ..Columns::default()
    };
    for (flavor, runs) in flavors.into_iter().zip(runs) {
        let figures = medians(&runs);
        match flavor {
            Flavor::Bureau => columns.bureau = figures,
            Flavor::Smol => columns.smol = figures,
            Flavor::TokioLocal => columns.local = figures,
            Flavor::TokioSpawn => columns.spawn = figures,
            Flavor::Raw => columns.reference = figures,
        }
    }
    rows(workload, metrics, decides, columns)
}
