//! What the facade's integration tests share: [`bounded`], which turns a
//! hang into a failure, and [`output_within`], the same for a child
//! process. Nothing here may sleep or assert on timing.

use std::sync::mpsc;
use std::time::Duration;

/// Runs `f` on a thread of its own and returns what it returns; fails the
/// test if `f` panics (with its panic) or takes longer than `secs` seconds,
/// so that a lost wake fails the test instead of hanging it.
pub fn bounded<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("did not finish within {secs} s"),
    }
}

/// Runs `command` to completion and returns its output, killing it and
/// failing the test if it takes longer than `secs` seconds.
#[allow(dead_code, reason = "not every test binary runs a child")]
pub fn output_within(secs: u64, mut command: std::process::Command) -> std::process::Output {
    use std::process::Stdio;
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = rustix::process::Pid::from_child(&child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            panic!("the child process did not finish within {secs} s");
        }
    }
}
