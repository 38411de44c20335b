//! Runs a command as a child process and prints its output line by line as
//! it comes, each line stamped with the time since the start, while a
//! 100 ms timer on the same loop keeps ticking: the loop never waits for the
//! child, only for whichever of the pipe and the timer is ready first.
//!
//! ```text
//! cargo run --example shell
//! cargo run --example shell -- ping -c 3 127.0.0.1
//! ```
//!
//! Without a command it runs
//! `sh -c 'for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done'`.
//! The child's stdout is a pipe registered with the reactor; its stdin and
//! stderr are this process's own. Once its output has ended and it has
//! exited, the example prints its exit status and exits with the child's
//! code (128 + N if signal N ended it). A program that cannot be found
//! exits 127, one that cannot be run 126, as in a shell.
//!
//! Whatever the child writes is shown as text: bytes that are not UTF-8
//! become U+FFFD, control characters (a terminal's escape sequences, NUL, a
//! carriage return) are shown escaped (`\u{1b}`), and a line longer than
//! `MAX_LINE` bytes is cut, with a count of what was left out. So neither
//! the terminal nor this process's memory is at the child's mercy.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bureau::Timer;
use bureau::io::{BufReader, Stdout};
use bureau::prelude::*;
use bureau::process::{ChildStdout, Command, Stdio};

const USAGE: &str = "usage: shell [--] [PROGRAM [ARG...]]
  runs PROGRAM (default: a shell loop that prints five lines) and streams
  its stdout line by line while a timer ticks";
const DEFAULT: [&str; 3] = [
    "sh",
    "-c",
    "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done",
];
/// The longest line shown whole, in bytes; the rest of a longer one is
/// counted and skipped.
const MAX_LINE: usize = 4096;
const TICK: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    let argv = match parse_args(std::env::args_os().skip(1)) {
        Ok(argv) => argv,
        Err(message) => {
            eprintln!("shell: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    bureau::block_on(async {
        let code = run(&argv).await;
        // Our stdout goes out through the pool: bytes not written at exit
        // would be lost.
        match bureau::io::stdout().flush().await {
            Ok(()) => code,
            Err(e) => {
                eprintln!("shell: stdout: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Runs `argv` and streams its output; the code to exit with.
async fn run(argv: &[OsString]) -> ExitCode {
    let start = Instant::now();
    // Debug quotes each argument and escapes what a terminal should not see.
    let shown = format!("{argv:?}");
    // `kill_on_drop`: if this process gives up early (its stdout is gone),
    // the child does not run on unwatched.
    let spawned = Command::new(&argv[0])
        .args(&argv[1..])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        // The message names the program: `cannot run "nope": No such file...`.
        Err(e) => {
            eprintln!("shell: {e}");
            return ExitCode::from(if e.kind() == io::ErrorKind::NotFound {
                127
            } else {
                126
            });
        }
    };
    let Some(pipe) = child.stdout.take() else {
        unreachable!("stdout was piped")
    };

    let mut out = bureau::io::stdout();
    let ticker = bureau::spawn(async move {
        let mut out = bureau::io::stdout();
        let mut ticks = Timer::interval(TICK);
        let mut n = 0u64;
        while ticks.next().await.is_some() {
            n += 1;
            // A failed write shows in the main task's next one.
            if say(&mut out, start, &format!("tick {n}")).await.is_err() {
                return;
            }
        }
    });
    let streamed = async {
        say(
            &mut out,
            start,
            &format!("started {shown}, pid {}", child.id()),
        )
        .await?;
        stream_lines(pipe, &mut out, start).await?;
        // The output has ended; the child may run on a while yet.
        let status = child.status().await?;
        ticker.cancel().await;
        say(&mut out, start, &status.to_string()).await?;
        io::Result::Ok(status)
    };
    match streamed.await {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => ExitCode::from(code as u8),
            (None, Some(signal)) => ExitCode::from(128u8.wrapping_add(signal as u8)),
            (None, None) => ExitCode::FAILURE,
        },
        // Dropping `child` kills it.
        Err(e) => {
            eprintln!("shell: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints each line that `pipe` yields, as it comes, until it ends.
async fn stream_lines(pipe: ChildStdout, out: &mut Stdout, start: Instant) -> io::Result<()> {
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    loop {
        line.clear();
        // `take` bounds the line, so a child cannot make us buffer forever.
        let n = (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        let mut text = printable(&line);
        if n == MAX_LINE && !line.ends_with(b"\n") {
            let rest = skip_line(&mut reader).await?;
            if rest > 0 {
                text.push_str(&format!("... ({rest} more bytes)"));
            }
        }
        say(out, start, &format!("> {text}")).await?;
    }
}

/// Reads and drops the rest of a line, its newline included; the number
/// of bytes before the newline.
async fn skip_line(reader: &mut BufReader<ChildStdout>) -> io::Result<u64> {
    let mut skipped = 0;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(skipped);
        }
        let (used, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(newline) => (newline + 1, true),
            None => (buf.len(), false),
        };
        reader.consume(used);
        skipped += used as u64 - u64::from(done);
        if done {
            return Ok(skipped);
        }
    }
}

/// `line`, without its line ending, as text safe for a terminal: invalid
/// UTF-8 replaced, control characters other than tab escaped.
fn printable(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut text = String::with_capacity(line.len());
    for c in String::from_utf8_lossy(line).chars() {
        if c.is_control() && c != '\t' {
            text.extend(c.escape_default());
        } else {
            text.push(c);
        }
    }
    text
}

/// Prints `[  ELAPSED ms] what` in one write, so the lines of the two tasks
/// never mix.
async fn say(out: &mut Stdout, start: Instant, what: &str) -> io::Result<()> {
    let line = format!("[{:5} ms] {what}\n", start.elapsed().as_millis());
    out.write_all(line.as_bytes()).await
}

/// The command to run: the arguments, after an optional `--`, or
/// `DEFAULT`. Before the program, an argument that starts with `-` is an
/// error (there are no options), so a mistyped option is not run.
fn parse_args(args: impl Iterator<Item = OsString>) -> Result<Vec<OsString>, String> {
    let mut argv: Vec<OsString> = args.collect();
    match argv.first().and_then(|first| first.to_str()) {
        Some("--") => {
            argv.remove(0);
        }
        Some(option) if option.starts_with('-') => {
            return Err(format!("unknown option {option:?}"));
        }
        _ => {}
    }
    if argv.is_empty() {
        argv = DEFAULT.iter().map(OsString::from).collect();
    }
    Ok(argv)
}
