//! Helpers shared by the pool's integration tests: a time bound for each test.

use std::sync::mpsc;
use std::time::Duration;

/// Runs `f` on a thread of its own and returns its result, or panics if it
/// takes longer than `secs` seconds, so that a bug fails the test instead of
/// hanging it. A panic in `f` fails the test with `f`'s message.
pub fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        // The receiver is gone only if the test already timed out.
        let _ = done.send(f());
    });
    match result.recv_timeout(Duration::from_secs(secs)) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test timed out after {secs} s"),
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the test thread ended without a result"),
        },
    }
}
