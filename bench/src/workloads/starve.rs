//! The starve workload: one task reads a socket that never runs dry and
//! works about 20 µs on each read, beside a 1 ms interval ticker: how late
//! the ticks fire, and how much the reader reads.
//!
//! A loop that lets an always-ready socket hold it keeps the ticker waiting
//! for the whole run; one that makes the reader yield too often reads less.
//! The peer must stay a plain thread, outside every runtime, and every run
//! must end by itself after its duration.

use super::{Metric, Workload};
use crate::report::Better;
use crate::runtimes::Runtime;
use bureau_bench::stats::Lateness;
use bureau_bench::ticks::late_by;
use std::io::{self, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A busy reader beside a 1 ms ticker for `run_for`: the ticks' lateness
/// (p99 and worst, in ms) and the reader's MB/s.
pub struct Starve {
    /// How long the reader reads and the ticker ticks.
    pub run_for: Duration,
}

/// The ticker's period.
const TICK: Duration = Duration::from_millis(1);
/// The CPU work after each read.
const WORK: Duration = Duration::from_micros(20);
/// The most one read takes. The writing thread keeps far more than this in
/// the socket: loopback TCP's buffers grow to megabytes, so the socket
/// stays full even when that thread waits some milliseconds for a core.
const READ_SIZE: usize = 4096;
/// What the writing thread writes at a time.
const WRITE_SIZE: usize = 64 * 1024;

impl Workload for Starve {
    const NAME: &'static str = "starve";

    fn metrics(&self) -> Vec<Metric> {
        vec![
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
                name: "reader MB/s",
                better: Better::Higher,
                targets: vec![],
            },
        ]
    }

    fn deciding_metric(&self) -> usize {
        1
    }

    fn run<R: Runtime>(&self) -> Vec<f64> {
        let spins = spins_per_read();
        let (ours, theirs) = connected_pair().expect("bench: cannot connect on 127.0.0.1");
        let writer = std::thread::spawn(move || flood(theirs));
        let run_for = self.run_for;
        let figures = R::block_on(async move {
            let socket = R::socket(ours).expect("bench: cannot register the socket");
            let start = Instant::now();
            let end = start + run_for;
            // Made before either task runs, so that a reader that holds the
            // loop from its first poll does not delay the ticks' schedule.
            let interval = R::interval_at(start + TICK, TICK);
            let ticker = R::spawn(tick_until::<R>(interval, end));
            let reader = R::spawn(read_until::<R>(socket, end, spins));
            let (bytes, finished) = reader.await;
            let lateness = Lateness::of(ticker.await).expect("bench: no tick fired");
            let secs = (finished - start).as_secs_f64();
            vec![lateness.p99_ms, lateness.max_ms, bytes as f64 / secs / 1e6]
        });
        writer.join().expect("bench: the writing thread panicked");
        figures
    }
}

/// Takes the interval's ticks due before `end`: the lateness of each.
async fn tick_until<R: Runtime>(mut interval: R::Interval, end: Instant) -> Vec<i64> {
    let mut lateness = Vec::new();
    loop {
        let deadline = R::tick(&mut interval).await;
        if deadline >= end {
            return lateness;
        }
        lateness.push(late_by(Instant::now(), deadline));
    }
}

/// Reads `socket` until `end`, spinning `spins` after each read: the bytes
/// read and when it stopped. Dropping the socket stops the writing thread.
async fn read_until<R: Runtime>(
    mut socket: R::Socket,
    end: Instant,
    spins: u64,
) -> (usize, Instant) {
    let mut buf = vec![0u8; READ_SIZE];
    let mut bytes = 0;
    loop {
        let now = Instant::now();
        if now >= end {
            return (bytes, now);
        }
        let read = R::read(&mut socket, &mut buf).await;
        let n = read.expect("bench: cannot read the socket");
        assert!(n > 0, "bench: the writing thread closed its end");
        bytes += n;
        spin(spins);
    }
}

/// Both ends of a TCP connection on 127.0.0.1.
fn connected_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let ours = TcpStream::connect(listener.local_addr()?)?;
    let (theirs, _) = listener.accept()?;
    Ok((ours, theirs))
}

/// Writes into `stream` as fast as the reader makes room, until the
/// reader's end is closed.
fn flood(mut stream: TcpStream) {
    let chunk = vec![b'x'; WRITE_SIZE];
    while stream.write(&chunk).is_ok() {}
}

/// How many [`spin`] steps take [`WORK`] here: timed once per process, the
/// fastest of a few tries, so that a moment when the machine is busy does
/// not lengthen the work of every read after it.
fn spins_per_read() -> u64 {
    static SPINS: OnceLock<u64> = OnceLock::new();
    *SPINS.get_or_init(|| {
        const TRIAL: u64 = 1_000_000;
        let fastest = (0..5)
            .map(|_| {
                let start = Instant::now();
                spin(TRIAL);
                start.elapsed()
            })
            .min()
            .expect("bench: five tries");
        let per_step = fastest.as_secs_f64().max(f64::MIN_POSITIVE) / TRIAL as f64;
        (WORK.as_secs_f64() / per_step) as u64
    })
}

/// CPU work that the compiler cannot remove: `steps` increments of a
/// counter it cannot see through.
fn spin(steps: u64) {
    let mut counter = 0u64;
    for _ in 0..steps {
        counter = std::hint::black_box(counter + 1);
    }
}
