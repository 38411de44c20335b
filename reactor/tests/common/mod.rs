//! Helpers shared by the reactor's tests: a `block_on` that parks through
//! the reactor's own `Parker` (so no helper thread is involved), and a time
//! bound that turns a hang into a failure. It must never start a helper
//! thread or hide a failure: a hang panics with the time it was given.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::mpsc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use bureau_reactor::{Parker, Unparker};

/// Wakes a parker.
struct Wakeup(Unparker);

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` on this thread, parking in the reactor between polls.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut parker = Parker::new();
    let waker = Waker::from(Arc::new(Wakeup(parker.unparker())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        parker.park(None);
    }
}

/// Runs `f` on a thread and fails if it takes longer than `secs` seconds.
pub fn bounded<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(out) => out,
        Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the body sent nothing and did not panic"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test did not finish within {secs} s"),
    }
}
