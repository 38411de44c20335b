//! Reaping the children whose `Child` was dropped while they still ran.
//!
//! Such a child becomes an orphan: a future that waits for its exit and
//! reaps it (the same wait as `Child::status`), polled by its own waker.
//! That waker is woken when the child's pidfd turns readable (or, without
//! a pidfd, when a `SIGCHLD` is delivered, or the last resort's timer
//! fires), on whichever thread drives the reactor, and the wake polls the
//! future there and then. So an orphan needs no executor and no task: a
//! `Child` may be dropped inside a task, outside any loop (the reactor's
//! helper thread then drives it, as for any future polled outside a loop)
//! or on another thread, and the child is still reaped. Between wakes, the
//! only handle on an orphan is its waker, held by the reactor (or by the
//! shared `SIGCHLD` listener, which the orphan's wait holds in turn: the
//! cycle that keeps both alive until the child is reaped). Once the child
//! is reaped, nothing is left.
//!
//! It must never block: its polls run inside the reactor's turn. They run
//! only non-blocking calls (`waitpid` with `WNOHANG`, readiness and timer
//! registrations).

use crate::sync::lock;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};

use super::exit::Process;

/// Nobody polls the future; a wake polls it.
const IDLE: u8 = 0;
/// One thread polls the future (and only that thread touches it).
const POLLING: u8 = 1;
/// As [`POLLING`], and a wake came meanwhile: the poller polls again
/// before it lets go, so the wake is not lost.
const REPOLL: u8 = 2;
/// The child is reaped and the future dropped; wakes do nothing.
const DONE: u8 = 3;

/// How long an orphan whose wait failed waits before it tries again.
const RETRY: std::time::Duration = std::time::Duration::from_millis(100);

/// Reaps `process` once it exits, whoever drops what.
pub(super) fn adopt(mut process: Process) {
    let reap = async move {
        loop {
            match process.wait().await {
                Ok(_) => return,
                // Someone else reaped it: nothing is left to do.
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::CHILD.raw_os_error()) => {
                    return;
                }
                // The wait itself failed (the readiness probe ran out of
                // memory, say): giving up would leave a zombie, so try
                // again a little later.
                Err(_) => bureau_reactor::Timer::after(RETRY).await,
            };
        }
    };
    let orphan = Arc::new(Orphan {
        state: AtomicU8::new(IDLE),
        reap: Mutex::new(Some(Box::pin(reap))),
    });
    // The first poll registers the wait (or finds the child reaped).
    orphan.wake_by_ref();
}

/// A future polled by its own waker; see the module comment.
struct Orphan<F> {
    /// [`IDLE`], [`POLLING`], [`REPOLL`] or [`DONE`]: who polls, and
    /// whether a wake is owed. A wake claims the poll by moving it from
    /// `IDLE` to `POLLING`, so one thread at a time polls.
    state: AtomicU8,
    /// The wait; `None` once it completed. Locked only by the thread that
    /// moved `state` to `POLLING`, so the lock is never contended.
    reap: Mutex<Option<Pin<Box<F>>>>,
}

impl<F: Future<Output = ()> + Send + 'static> Wake for Orphan<F> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let next = match state {
                IDLE => POLLING,
                POLLING => REPOLL,
                _ => return, // a poll is owed already, or nothing is left
            };
            match self
                .state
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if next == POLLING => break,
                Ok(_) => return, // the poller will poll again
                Err(now) => state = now,
            }
        }
        // This thread is the poller until it stores `IDLE` or `DONE`.
        let waker = Waker::from(self.clone());
        loop {
            let mut reap = lock(&self.reap);
            let Some(future) = reap.as_mut() else {
                self.state.store(DONE, Ordering::Release);
                return;
            };
            // A budget of its own: the wake may come inside a task's poll
            // (the first one does, from `Child`'s drop), whose spent budget
            // would make the readiness wait wake this very waker at once
            // and return `Pending`, again and again.
            let (poll, _) =
                bureau_coop::budgeted(|| future.as_mut().poll(&mut Context::from_waker(&waker)));
            if poll.is_ready() {
                *reap = None;
                self.state.store(DONE, Ordering::Release);
                return;
            }
            drop(reap);
            // Let go unless a wake came during the poll; then poll again,
            // still as the poller.
            match self
                .state
                .compare_exchange(POLLING, IDLE, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(_) => self.state.store(POLLING, Ordering::Release),
            }
        }
    }
}
