//! The `SIGCHLD` listener of the exit waits that have no pidfd (see
//! `exit.rs`): one [`Signals`] for [`Signal::Child`], shared by every such
//! wait in the process, which lives while one of them does.
//!
//! A `SIGCHLD` does not say which child it is for, and POSIX merges those
//! that arrive close together (two children that exit at once may raise
//! one), so an arrival tells *every* wait to ask its own child again with
//! `try_wait`; nothing here reaps, or learns which child exited. One shared
//! `Signals` rather than one per wait, because the signal module scans its
//! listeners at every delivery of any signal: a thousand dropped children
//! would be a thousand entries there, not one.
//!
//! Ground rules, kept by every function in this file:
//! - A wait's [`Sigchld`] is made before its first `try_wait`, and counts
//!   arrivals from then on: a child that exits after a `try_wait` found it
//!   running raises `SIGCHLD` while the shared `Signals` listens, so the
//!   signal module delivers it after the `Sigchld` was made, `arrivals`
//!   grows past its `seen`, and its next poll is ready. No exit is missed.
//! - The fan-out waker is registered with the `Signals` by the same
//!   `State` lock that records a waiting `Sigchld`'s waker, and the
//!   fan-out takes the wakers under that lock: a delivery between the two
//!   finds the waker already there. No wake is lost.
//! - No waker is woken, and no `Signals` is made, while a lock of this file
//!   is held: a wake may poll an orphan's wait at once on the same thread
//!   (`orphan.rs`), which locks `State` again, and `Signals::new` wakes
//!   listeners of its own.
//! - Nothing here touches `SIGCHLD`'s disposition. The signal module
//!   installs a handler (never `SIG_IGN` or `SA_NOCLDWAIT`, which would
//!   have the kernel reap children behind `waitpid`'s back), and once no
//!   `Signals` listens, its handler does nothing with `SIGCHLD`, the
//!   default action.

use crate::sync::lock;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Wake, Waker};

use futures_lite::Stream;

use crate::signal::{Signal, Signals};

/// The listener shared by every live [`Sigchld`]; dead once the last one
/// is dropped, and made again by the next.
static SHARED: Mutex<Weak<Listener>> = Mutex::new(Weak::new());

/// One wait's share of the process's `SIGCHLD` listener: it is ready once
/// a `SIGCHLD` has arrived since it was made or last ready.
pub(super) struct Sigchld {
    listener: Arc<Listener>,
    /// Its waker's place in [`State::wakers`].
    key: usize,
    /// [`State::arrivals`] when it was made or last ready.
    seen: u64,
}

/// The one `Signals` for `SIGCHLD` and the waits that share it.
struct Listener {
    state: Mutex<State>,
}

/// What [`Listener::state`] guards.
struct State {
    signals: Signals,
    /// `SIGCHLD`s that came out of `signals` so far (merged ones count as
    /// one).
    arrivals: u64,
    /// By [`Sigchld::key`]: the waker of that `Sigchld`'s last `Pending`
    /// poll, until the fan-out takes it; `None` in a free slot.
    wakers: Vec<Option<Waker>>,
    /// Slots of `wakers` free for reuse.
    free: Vec<usize>,
    /// What `signals` is polled with: a [`FanOut`] of this listener.
    fan_out: Waker,
}

impl Sigchld {
    /// Listens for `SIGCHLD`, through the shared `Signals` (made here if
    /// none lives). The error is [`Signals::new`]'s: out of descriptors for
    /// the signal module's eventfd, no reactor, or under loom.
    pub(super) fn listen() -> io::Result<Sigchld> {
        let alive = lock(&SHARED).upgrade();
        let listener = match alive {
            Some(listener) => listener,
            None => {
                let signals = Signals::new([Signal::Child])?;
                let mut shared = lock(&SHARED);
                // Another thread may have made one meanwhile: then this
                // `signals` is dropped (which wakes nothing) and theirs
                // shared, so there is never more than one.
                match shared.upgrade() {
                    Some(listener) => listener,
                    None => {
                        let listener = Listener::new(signals);
                        *shared = Arc::downgrade(&listener);
                        listener
                    }
                }
            }
        };
        let (key, seen) = {
            let mut state = lock(&listener.state);
            let key = match state.free.pop() {
                Some(key) => key,
                None => {
                    state.wakers.push(None);
                    state.wakers.len() - 1
                }
            };
            // An arrival from before that `signals` has not yet yielded
            // makes one needless `try_wait` later; one from after is always
            // counted past this.
            (key, state.arrivals)
        };
        Ok(Sigchld {
            listener,
            key,
            seen,
        })
    }

    /// Completes once a `SIGCHLD` has arrived since this `Sigchld` was made
    /// or last completed; each completion spends one operation of the
    /// task's cooperative budget, as a pidfd's readiness does.
    pub(super) async fn arrival(&mut self) {
        poll_fn(|cx| bureau_coop::poll_budgeted(cx, |cx| self.poll_arrival(cx))).await;
    }

    fn poll_arrival(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = lock(&self.listener.state);
        state.take_arrivals();
        if state.arrivals != self.seen {
            self.seen = state.arrivals;
            return Poll::Ready(());
        }
        // A live `Sigchld` always has its slot.
        if let Some(slot) = state.wakers.get_mut(self.key) {
            match slot {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
        }
        Poll::Pending
    }

    /// Whether `self` and `other` share one listener.
    #[cfg(test)]
    pub(super) fn shares_listener_with(&self, other: &Sigchld) -> bool {
        Arc::ptr_eq(&self.listener, &other.listener)
    }
}

impl Drop for Sigchld {
    fn drop(&mut self) {
        let waker = {
            let mut state = lock(&self.listener.state);
            state.free.push(self.key);
            state.wakers.get_mut(self.key).and_then(Option::take)
        };
        // Dropped after the lock is let go; the last `Sigchld` then drops
        // the listener and its `Signals`.
        drop(waker);
    }
}

impl fmt::Debug for Sigchld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sigchld")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl Listener {
    fn new(signals: Signals) -> Arc<Listener> {
        Arc::new_cyclic(|listener| Listener {
            state: Mutex::new(State {
                signals,
                arrivals: 0,
                wakers: Vec::new(),
                free: Vec::new(),
                fan_out: Waker::from(Arc::new(FanOut(listener.clone()))),
            }),
        })
    }
}

impl State {
    /// Counts what `signals` yields, until it is `Pending` and so holds
    /// `fan_out` for the next delivery.
    fn take_arrivals(&mut self) {
        let State {
            signals,
            arrivals,
            fan_out,
            ..
        } = self;
        let mut cx = Context::from_waker(fan_out);
        // A budget of its own: with a task's budget spent, `poll_next`
        // would wake `fan_out` at once, which locks `State`, held here.
        // `Signals` yields one item per new count, so this ends.
        while let (Poll::Ready(Some(_)), _) =
            bureau_coop::budgeted(|| Pin::new(&mut *signals).poll_next(&mut cx))
        {
            *arrivals += 1;
        }
    }
}

/// The waker of the shared `Signals`: wakes every waiting [`Sigchld`].
/// It holds its listener weakly, or the signal module, which keeps it
/// between deliveries, would keep the listener alive for good.
struct FanOut(Weak<Listener>);

impl Wake for FanOut {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let Some(listener) = self.0.upgrade() else {
            return;
        };
        let waiting: Vec<Waker> = lock(&listener.state)
            .wakers
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        // If every `Sigchld` went meanwhile, the listener ends here, with
        // no lock held.
        drop(listener);
        for waker in waiting {
            // One waker that panics must not cost the others their wake.
            let _ = catch_unwind(AssertUnwindSafe(|| waker.wake()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::StreamExt;
    use futures_lite::future::{block_on, poll_once};
    use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};
    use std::time::Duration;

    #[test]
    fn a_sigchld_delivered_before_the_first_poll_still_completes_it() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sigchld = Sigchld::listen().unwrap();
            // Tells when the signal module has delivered the SIGCHLD of
            // the exit below.
            let mut delivered = Signals::new([Signal::Child]).unwrap();
            let mut child = std::process::Command::new("true").spawn().unwrap();
            // Until it has exited, without reaping it.
            let exited = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT;
            waitid(WaitId::Pid(Pid::from_child(&child)), exited).unwrap();
            block_on(delivered.next());
            let first = block_on(poll_once(sigchld.arrival()));
            child.wait().unwrap();
            let _ = tx.send(first);
        });
        let first = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("finished within 20 s, without panicking");
        assert_eq!(first, Some(()), "the first poll saw the arrival");
    }
}
