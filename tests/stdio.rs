//! `bureau::io::{stdin, stdout, stderr}`, seen from outside: each case runs
//! in a child process (this test binary, run again with a variable set)
//! whose standard streams the test holds, so it can pace the child and
//! watch its loop.
//!
//! The child's libtest prints its own lines on stdout before the test
//! runs, so what the child writes starts after [`START`].

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bureau::io::{AsyncReadExt, AsyncWriteExt, stderr, stdin, stdout};
use bureau::{Timer, block_on, spawn};

#[allow(dead_code, reason = "this binary uses `output_within` only")]
mod common;
use common::output_within;

/// Set in the child process, to the name of the case it runs.
const CHILD: &str = "BUREAU_TEST_STDIO_CHILD";
/// What a child writes on stdout before anything the test checks.
const START: &[u8] = b"<<bureau stdio child output starts here>>\n";
/// Half of the bytes the echo case pipes through the child.
const HALF: usize = 512 * 1024;

/// The case this process was started for, if it is a child.
fn child_case() -> Option<String> {
    std::env::var(CHILD).ok()
}

/// This test binary, to run `test` alone as the child case `case`.
fn child_command(test: &str, case: &str) -> Command {
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, case);
    child
}

/// `len` bytes that do not repeat with a short period, so a lost, doubled
/// or misplaced block shows.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect()
}

/// Where the child's own output starts in `out`, past [`START`].
fn start_of(out: &[u8]) -> Option<usize> {
    out.windows(START.len())
        .position(|w| w == START)
        .map(|at| at + START.len())
}

/// Asserts that `got` begins with `want`, naming the first difference
/// rather than printing a megabyte.
fn assert_prefix(got: &[u8], want: &[u8]) {
    assert!(
        got.len() >= want.len(),
        "{} bytes came back, {} expected",
        got.len(),
        want.len()
    );
    if let Some(at) = got.iter().zip(want).position(|(g, w)| g != w) {
        panic!("the bytes differ from byte {at} on");
    }
}

/// Runs `scenario` with `child` on a thread of its own; kills the child
/// and fails the test if the scenario takes longer than `secs` seconds.
fn with_child<T: Send + 'static>(
    secs: u64,
    child: Child,
    scenario: impl FnOnce(Child) -> T + Send + 'static,
) -> T {
    let pid = rustix::process::Pid::from_child(&child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
            || scenario(child),
        )));
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            std::panic::resume_unwind(panic)
        }
        Err(_) => {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            panic!("the child did not finish within {secs} s");
        }
    }
}

/// The lines of the child's stderr, as they arrive; keeps them all for
/// the failure message.
struct StderrLines {
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl StderrLines {
    fn new(stderr: impl Read + Send + 'static) -> StderrLines {
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        StderrLines {
            lines,
            seen: Vec::new(),
        }
    }

    /// The next line, failing the test (with the child's messages) at
    /// the end of stderr.
    fn next(&mut self) -> String {
        match self.lines.recv() {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(_) => panic!("the child's stderr ended:\n{}", self.messages()),
        }
    }

    /// What the child wrote on stderr besides its ticks, up to the end of
    /// stderr: a panic message, for one.
    fn messages(&mut self) -> String {
        self.seen.extend(self.lines.iter());
        let messages: Vec<&str> = self
            .seen
            .iter()
            .filter(|l| !l.starts_with("tick "))
            .map(String::as_str)
            .collect();
        messages.join("\n")
    }

    /// Waits for `n` ticks in a row that report the same `state` with no
    /// byte echoed in between: the child's loop went round `n` times, at
    /// least 5 ms apart, while its copy waited in that state.
    fn wait_for_stalled(&mut self, state: &str, n: usize) {
        let mut run: Option<(String, usize)> = None;
        loop {
            let line = self.next();
            if !line.starts_with("tick ") {
                continue;
            }
            let count = match &run {
                Some((last, count)) if *last == line => count + 1,
                _ => 1,
            };
            if count >= n && line.ends_with(state) {
                return;
            }
            run = Some((line, count));
        }
    }
}

#[test]
fn stdin_is_echoed_through_stdout_byte_exact_while_the_loop_keeps_serving_a_timer() {
    let test = "stdin_is_echoed_through_stdout_byte_exact_while_the_loop_keeps_serving_a_timer";
    match child_case().as_deref() {
        Some(_) => echo_child(false),
        None => echo_through_child(test, "echo"),
    }
}

#[test]
fn standard_streams_someone_else_made_non_blocking_still_echo_byte_exact() {
    let test = "standard_streams_someone_else_made_non_blocking_still_echo_byte_exact";
    match child_case().as_deref() {
        Some(_) => echo_child(true),
        None => echo_through_child(test, "echo-nonblocking"),
    }
}

/// Pipes [`HALF`] bytes through the child `test`, checks they come back
/// and that the child's loop serves its timer while its read waits; then
/// pipes the rest without reading, and checks that its loop serves the
/// timer while its write waits; then that all came back, byte-exact.
fn echo_through_child(test: &str, case: &str) {
    let child = child_command(test, case)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    with_child(60, child, |mut child| {
        let input = pattern(2 * HALF);
        let mut to_child = child.stdin.take().unwrap();
        let mut from_child = child.stdout.take().unwrap();
        let mut ticks = StderrLines::new(child.stderr.take().unwrap());
        let (go, wait_for_go) = mpsc::channel::<()>();
        let writer = std::thread::spawn({
            let input = input.clone();
            move || {
                to_child.write_all(&input[..HALF]).unwrap();
                if wait_for_go.recv().is_ok() {
                    to_child.write_all(&input[HALF..]).unwrap();
                }
            }
        });

        // The first half comes back, and the child's read of the next
        // byte, which the test holds back, waits while its timer fires.
        let mut out = Vec::new();
        let mut buf = vec![0; 64 * 1024];
        let start = loop {
            if let Some(start) = start_of(&out).filter(|s| out.len() >= s + HALF) {
                break start;
            }
            let n = from_child.read(&mut buf).unwrap();
            if n == 0 {
                panic!("the child's stdout ended early:\n{}", ticks.messages());
            }
            out.extend_from_slice(&buf[..n]);
        };
        assert_prefix(&out[start..], &input[..HALF]);
        ticks.wait_for_stalled(&format!("tick {HALF} reading"), 3);

        // The second half goes in and the test reads nothing: the child's
        // write waits on a full pipe while its timer fires.
        go.send(()).unwrap();
        ticks.wait_for_stalled("writing", 3);
        from_child.read_to_end(&mut out).unwrap();
        writer.join().unwrap();
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "the child failed ({status:?}):\n{}",
            ticks.messages()
        );
        assert_prefix(&out[start..], &input);
    });
}

/// The echo child: copies stdin to stdout with bureau's handles while a
/// 5 ms timer reports on stderr how many bytes went through and what the
/// copy waits for. With `non_blocking`, it first sets `O_NONBLOCK` on its
/// stdin and stdout, as another process sharing them might.
fn echo_child(non_blocking: bool) {
    use std::cell::Cell;
    use std::rc::Rc;
    if non_blocking {
        rustix::io::ioctl_fionbio(std::io::stdin(), true).unwrap();
        rustix::io::ioctl_fionbio(std::io::stdout(), true).unwrap();
    }
    block_on(async {
        let state = Rc::new(Cell::new((0, "starting")));
        let _ticker = spawn({
            let state = state.clone();
            async move {
                let mut err = stderr();
                loop {
                    Timer::after(Duration::from_millis(5)).await;
                    let (echoed, what) = state.get();
                    let line = format!("tick {echoed} {what}\n");
                    err.write_all(line.as_bytes()).await.unwrap();
                    err.flush().await.unwrap();
                }
            }
        });
        let (mut input, mut output) = (stdin(), stdout());
        output.write_all(START).await.unwrap();
        output.flush().await.unwrap();
        let mut buf = vec![0; 16 * 1024];
        let mut echoed = 0;
        loop {
            state.set((echoed, "reading"));
            let n = input.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            state.set((echoed, "writing"));
            output.write_all(&buf[..n]).await.unwrap();
            echoed += n;
        }
        state.set((echoed, "done"));
        output.flush().await.unwrap();
    });
    if non_blocking {
        // Blocking again for the test harness's own report, which follows
        // on this stdout: a non-blocking write of it into a pipe the parent
        // has not drained yet fails with `WouldBlock`, and the harness then
        // exits 101.
        rustix::io::ioctl_fionbio(std::io::stdout(), false).unwrap();
    }
}

#[test]
fn stdin_at_its_end_reads_zero_and_what_goes_to_stderr_arrives() {
    let test = "stdin_at_its_end_reads_zero_and_what_goes_to_stderr_arrives";
    if child_case().is_some() {
        block_on(async {
            let mut buf = [0; 16];
            assert_eq!(stdin().read(&mut buf).await.unwrap(), 0);
            // The end is reported to every read that meets it.
            assert_eq!(stdin().read(&mut buf).await.unwrap(), 0);
            let mut rest = Vec::new();
            stdin().read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty());
            let mut err = stderr();
            err.write_all(b"bureau stderr arrives\n").await.unwrap();
            err.flush().await.unwrap();
        });
        return;
    }
    let mut child = child_command(test, "eof");
    child.stdin(Stdio::null());
    let output = output_within(60, child);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the child failed: {stderr}");
    assert!(stderr.contains("bureau stderr arrives"), "{stderr}");
}

#[test]
fn a_flush_returns_once_the_bytes_reached_the_descriptor() {
    let test = "a_flush_returns_once_the_bytes_reached_the_descriptor";
    const END: &[u8] = b"<<written past bureau, after the flush>>";
    let bytes = pattern(2 * HALF);
    if child_case().is_some() {
        block_on(async {
            let mut out = stdout();
            out.write_all(START).await.unwrap();
            out.write_all(&bytes).await.unwrap();
            out.flush().await.unwrap();
        });
        // Straight to the descriptor, past std's buffer and bureau's: it
        // lands after the bytes only if the flush waited for them.
        let fd = std::io::stdout().as_fd().try_clone_to_owned().unwrap();
        std::fs::File::from(fd).write_all(END).unwrap();
        return;
    }
    let mut child = child_command(test, "flush");
    child.stdin(Stdio::null());
    let output = output_within(60, child);
    assert!(
        output.status.success(),
        "the child failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let start = start_of(&output.stdout).expect("the child wrote its start line");
    let mut want = bytes;
    want.extend_from_slice(END);
    assert_prefix(&output.stdout[start..], &want);
}

#[test]
fn two_stdout_handles_never_split_each_others_writes() {
    let test = "two_stdout_handles_never_split_each_others_writes";
    const LINES: usize = 200;
    const WIDTH: usize = 3000;
    if child_case().is_some() {
        block_on(async {
            let mut out = stdout();
            out.write_all(START).await.unwrap();
            let writers = [b'a', b'b'].map(|letter| {
                spawn(async move {
                    let mut line = vec![letter; WIDTH];
                    line.push(b'\n');
                    let mut out = stdout();
                    for _ in 0..LINES {
                        out.write_all(&line).await.unwrap();
                    }
                    out.flush().await.unwrap();
                })
            });
            for writer in writers {
                writer.await;
            }
        });
        std::process::exit(0);
    }
    let mut child = child_command(test, "lines");
    child.stdin(Stdio::null());
    let output = output_within(60, child);
    assert!(
        output.status.success(),
        "the child failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let start = start_of(&output.stdout).expect("the child wrote its start line");
    let lines: Vec<&[u8]> = output.stdout[start..]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 2 * LINES);
    for letter in [b'a', b'b'] {
        let whole = lines
            .iter()
            .filter(|l| l.len() == WIDTH && l.iter().all(|&b| b == letter))
            .count();
        assert_eq!(whole, LINES, "lines of {:?} were split", letter as char);
    }
}

#[test]
fn the_handles_are_unpin_send_and_sync() {
    fn check<T: Unpin + Send + Sync + 'static>(_: &T) {}
    check(&stdin());
    check(&stdout());
    check(&stderr());
}
