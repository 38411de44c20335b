//! One registered file descriptor: the readiness the kernel last reported for
//! each direction (guarded by a tick) and the wakers waiting on it.
//!
//! This module must never make a syscall: it only records what the reactor
//! learnt from `Poller::wait` and hands wakers back to be woken.

use std::fs::File;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// Index of the read direction in [`Source::dirs`].
pub(crate) const READ: usize = 0;
/// Index of the write direction in [`Source::dirs`].
pub(crate) const WRITE: usize = 1;

/// The low bit of a direction's state: the kernel said "ready" and nobody has
/// seen `WouldBlock` since. The other bits count edges (the tick).
const READY: u64 = 1;
/// What one edge adds to the state.
const TICK: u64 = 2;

/// A file descriptor registered with the reactor for its whole lifetime.
pub(crate) struct Source {
    /// The raw descriptor, kept to deregister it.
    pub(crate) fd: RawFd,
    /// The key the poller reports events under.
    pub(crate) key: usize,
    /// Read and write state, indexed by [`READ`] and [`WRITE`].
    dirs: [Direction; 2],
    /// For listeners: a descriptor held in reserve, given up to shed the
    /// backlog when the process runs out of descriptors.
    pub(crate) spare: Mutex<Option<File>>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("fd", &self.fd)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Readiness and waiters of one direction of a source.
struct Direction {
    /// `READY` bit plus an edge counter; see [`READY`] and [`TICK`].
    state: AtomicU64,
    /// The state (tick and `READY` bit) at which a readiness future
    /// (`readable()`, `poll_readable`...) last completed. If the state is
    /// still that, the future has no newer edge to go by and must ask the
    /// kernel; a fresh source starts here so its first readiness is asked.
    reported: AtomicU64,
    /// Who waits for the next edge.
    wakers: Mutex<Waiters>,
}

/// The tasks waiting on one direction.
#[derive(Default)]
struct Waiters {
    /// The waker of `poll_read`/`poll_write`-style calls (one per direction).
    poller: Option<Waker>,
    /// Wakers of `readable()`/`writable()` futures, by slot.
    futures: Vec<Option<Waker>>,
    /// Free slots in `futures`.
    free: Vec<usize>,
}

impl Source {
    /// A source that starts out ready in both directions: the first operation
    /// is tried, and a `WouldBlock` then waits for the kernel's first edge.
    pub(crate) fn new(fd: RawFd, key: usize) -> Source {
        let dir = || Direction {
            state: AtomicU64::new(READY),
            reported: AtomicU64::new(READY),
            wakers: Mutex::new(Waiters::default()),
        };
        Source {
            fd,
            key,
            dirs: [dir(), dir()],
            spare: Mutex::new(None),
        }
    }

    /// `Some(tick)` if `dir` is ready, `None` if it waits for an edge.
    pub(crate) fn ready_tick(&self, dir: usize) -> Option<u64> {
        let state = self.dirs[dir].state.load(Ordering::Acquire);
        (state & READY != 0).then_some(state)
    }

    /// For a readiness future: `None` if `dir` waits for an edge, else
    /// `Some((tick, fresh))`, `fresh` telling whether an edge arrived since a
    /// readiness future last completed (see [`Self::set_reported`]).
    pub(crate) fn ready_edge(&self, dir: usize) -> Option<(u64, bool)> {
        let d = &self.dirs[dir];
        let state = d.state.load(Ordering::Acquire);
        (state & READY != 0).then(|| (state, state != d.reported.load(Ordering::Relaxed)))
    }

    /// Records that a readiness future completed at `state`.
    pub(crate) fn set_reported(&self, dir: usize, state: u64) {
        self.dirs[dir].reported.store(state, Ordering::Relaxed);
    }

    /// Forgets the readiness of `dir`, unless an edge arrived after `tick`
    /// was read (then the newer readiness stands and nothing is lost).
    pub(crate) fn clear_readiness(&self, dir: usize, tick: u64) {
        let _ = self.dirs[dir].state.compare_exchange(
            tick,
            tick & !READY,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// Records an edge in `dir` and moves its wakers into `out`.
    pub(crate) fn set_ready(&self, dir: usize, out: &mut Vec<Waker>) {
        let d = &self.dirs[dir];
        d.state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                Some(s.wrapping_add(TICK) | READY)
            })
            .ok();
        let mut w = lock(&d.wakers);
        out.extend(w.poller.take());
        for slot in w.futures.iter_mut() {
            out.extend(slot.take());
        }
    }

    /// Poll-style wait for readiness in `dir`, using the direction's single
    /// `poll_*` waker slot.
    pub(crate) fn poll_ready(&self, dir: usize, cx: &mut Context<'_>) -> Poll<()> {
        if self.ready_tick(dir).is_some() {
            return Poll::Ready(());
        }
        let mut w = lock(&self.dirs[dir].wakers);
        // Checked again under the lock: `set_ready` marks the state before it
        // takes this lock, so either we see the mark or it sees our waker.
        if self.ready_tick(dir).is_some() {
            return Poll::Ready(());
        }
        match &mut w.poller {
            Some(old) if old.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Future-style wait for readiness in `dir`: `slot` is the future's place
    /// in the waiter list (allocated on first use, freed by [`Self::drop_slot`]).
    pub(crate) fn poll_ready_slot(
        &self,
        dir: usize,
        slot: &mut Option<usize>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        if self.ready_tick(dir).is_some() {
            return Poll::Ready(());
        }
        let mut w = lock(&self.dirs[dir].wakers);
        if self.ready_tick(dir).is_some() {
            return Poll::Ready(());
        }
        let waker = Some(cx.waker().clone());
        match *slot {
            Some(i) => w.futures[i] = waker,
            None => {
                let i = match w.free.pop() {
                    Some(i) => {
                        w.futures[i] = waker;
                        i
                    }
                    None => {
                        w.futures.push(waker);
                        w.futures.len() - 1
                    }
                };
                *slot = Some(i);
            }
        }
        Poll::Pending
    }

    /// Releases a slot taken by [`Self::poll_ready_slot`].
    pub(crate) fn drop_slot(&self, dir: usize, slot: usize) {
        let mut w = lock(&self.dirs[dir].wakers);
        w.futures[slot] = None;
        w.free.push(slot);
    }
}

/// Locks `m`, ignoring poisoning: the data guarded here stays consistent
/// even if a waker panicked while it was held.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
