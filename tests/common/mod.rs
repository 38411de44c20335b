//! What the facade's integration tests share: [`bounded`], which turns a
//! hang into a failure. Nothing here may sleep or assert on timing.

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
