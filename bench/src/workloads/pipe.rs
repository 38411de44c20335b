//! The pipe workload: 64 MiB written into `cat` and read back from it at
//! once, and the `output()` of a child that writes 16 MiB; MB/s of each.
//!
//! It measures each runtime's child pipes and their wakeups, not the
//! copying around them: every read goes into one reused buffer, never a
//! growing vector, and the data is not checked byte by byte (only counted).
//! `output()` is the runtime's own, as its users would call it.

use super::{Metric, Workload};
use crate::report::Better;
use crate::runtimes::Runtime;
use std::process::Command;
use std::time::Instant;

/// Bytes through `cat` and MB/s of `output()`.
pub struct Pipe;

/// What goes through `cat`.
const THROUGH: usize = 64 << 20;
/// What the child of `output()` writes.
const OUTPUT: usize = 16 << 20;
/// The size of each write and read: a Linux pipe's default capacity.
const CHUNK: usize = 64 << 10;

impl Workload for Pipe {
    const NAME: &'static str = "pipe";

    fn metrics(&self) -> Vec<Metric> {
        vec![
            Metric {
                name: "through cat MB/s",
                better: Better::Higher,
                targets: vec![],
            },
            Metric {
                name: "output() MB/s",
                better: Better::Higher,
                targets: vec![],
            },
        ]
    }

    fn run<R: Runtime>(&self) -> Vec<f64> {
        R::block_on(async { vec![through_cat::<R>().await, output::<R>().await] })
    }
}

/// MB/s through `cat`: a task writes [`THROUGH`] bytes into its stdin while
/// this one reads them back from its stdout, from the spawn's return to the
/// end of file.
async fn through_cat<R: Runtime>() -> f64 {
    let (child, mut stdin, mut stdout) =
        R::spawn_piped(Command::new("cat")).expect("bench: cannot spawn cat");
    let start = Instant::now();
    let writer = R::spawn(async move {
        let chunk = vec![b'p'; CHUNK];
        for _ in 0..THROUGH / CHUNK {
            R::write_stdin(&mut stdin, &chunk)
                .await
                .expect("bench: cannot write to cat");
        }
        // Dropping `stdin` here closes the pipe: cat then ends its output.
    });
    let mut buf = vec![0u8; CHUNK];
    let mut bytes = 0;
    loop {
        let read = R::read_stdout(&mut stdout, &mut buf).await;
        match read.expect("bench: cannot read from cat") {
            0 => break,
            n => bytes += n,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    writer.await;
    assert_eq!(bytes, THROUGH, "bench: cat gave back a different length");
    let status = R::wait(child).await.expect("bench: cannot wait for cat");
    assert!(status.success(), "bench: cat ended with {status}");
    bytes as f64 / secs / 1e6
}

/// MB/s of `output()` of `head` writing [`OUTPUT`] zeros, from the spawn
/// to the exit status.
async fn output<R: Runtime>() -> f64 {
    let mut head = Command::new("head");
    head.args(["-c", &OUTPUT.to_string(), "/dev/zero"]);
    let start = Instant::now();
    let output = R::output(head).await.expect("bench: cannot run head");
    let secs = start.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "bench: head ended with {}",
        output.status
    );
    assert_eq!(
        output.stdout.len(),
        OUTPUT,
        "bench: head wrote a different length"
    );
    OUTPUT as f64 / secs / 1e6
}
