//! One registered file descriptor: the readiness the kernel last reported for
//! each direction (guarded by a tick) and the wakers waiting on it.
//!
//! This module must never make a syscall: it only records what the reactor
//! learnt from `Poller::wait` and hands wakers back to be woken.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use crate::sync::lock;

/// Index of the read direction in [`Source::dirs`].
pub(crate) const READ: usize = 0;
/// Index of the write direction in [`Source::dirs`].
pub(crate) const WRITE: usize = 1;

/// The low bit of a direction's state: the kernel said "ready" and nobody has
/// seen `WouldBlock` since. The other bits count edges (the tick).
const READY: u64 = 1;
/// Set with `READY` by an edge whose epoll event said the peer had not shut
/// down (no `EPOLLRDHUP`, `EPOLLHUP` or `EPOLLERR`): then a short read
/// proves the buffer ran out, and a FIN arriving later brings an edge of
/// its own, so the readiness may be cleared without a read that fails with
/// `WouldBlock`. Edges that went through `Poller::wait`, which hides
/// `EPOLLRDHUP`, never set it.
const DRAINABLE: u64 = 2;
/// What one edge adds to the state.
const TICK: u64 = 4;

/// A file descriptor registered with the reactor for its whole lifetime.
///
/// There is one per socket, so it is kept small (see the size test below):
/// what only listeners need lives in `listener.rs`, and a direction's
/// waiters allocate nothing until a readiness future waits.
pub(crate) struct Source {
    /// For listeners: whether `listener.rs` holds a spare descriptor for
    /// this source in its table (changed only under that table's lock), so
    /// that deregistering any other source need not look there. It sits in
    /// what would otherwise be padding.
    pub(crate) has_spare: AtomicBool,
    /// Whether this is a TCP or Unix stream socket, where a read returns as
    /// many bytes as are buffered, up to the buffer's size: only then does
    /// a short read prove the kernel's buffer empty (a datagram, a
    /// `SOCK_SEQPACKET` message or a terminal line ends a read early). Also
    /// in padding.
    pub(crate) byte_stream: bool,
    /// The key the poller reports events under.
    pub(crate) key: usize,
    /// Read and write state, indexed by [`READ`] and [`WRITE`].
    dirs: [Direction; 2],
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
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

/// The tasks waiting on one direction. The `poll_*` waker is inline; the
/// readiness futures' slots are allocated when the first of them waits, so
/// a socket read and written only through `poll_read`/`poll_write` (the
/// common case) allocates nothing here.
#[derive(Default)]
struct Waiters {
    /// The waker of `poll_read`/`poll_write`-style calls (one per direction).
    poll_waker: Option<Waker>,
    /// The slots of `readable()`/`read_with`-style futures (any number).
    futures: Option<Box<Slots>>,
}

/// Wakers of readiness futures, by slot, and the free slots.
#[derive(Default)]
struct Slots {
    /// Each slot's waker; `None` once woken (or while free).
    wakers: Vec<Option<Waker>>,
    /// Free slots in `wakers`.
    free: Vec<usize>,
}

impl Source {
    /// A source that starts out ready in both directions: the first operation
    /// is tried, and a `WouldBlock` then waits for the kernel's first edge.
    pub(crate) fn new(key: usize, byte_stream: bool) -> Source {
        let dir = || Direction {
            state: AtomicU64::new(READY),
            reported: AtomicU64::new(READY),
            wakers: Mutex::new(Waiters::default()),
        };
        Source {
            has_spare: AtomicBool::new(false),
            byte_stream,
            key,
            dirs: [dir(), dir()],
        }
    }

    /// `Some(state)`, the direction's whole state word (tick and flags, to
    /// give back to [`Self::clear_readiness`] or [`Self::drainable`]), if
    /// `dir` is ready; `None` if it waits for an edge.
    pub(crate) fn ready_state(&self, dir: usize) -> Option<u64> {
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

    /// Forgets the readiness of `dir`, unless an edge arrived after `state`
    /// was read (then the newer readiness stands and nothing is lost).
    pub(crate) fn clear_readiness(&self, dir: usize, state: u64) {
        let _ = self.dirs[dir].state.compare_exchange(
            state,
            state & !READY,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// Whether the edge of `state` allows clearing the readiness after a
    /// short read (see [`DRAINABLE`]).
    pub(crate) fn drainable(state: u64) -> bool {
        state & DRAINABLE != 0
    }

    /// Records an edge in `dir` and moves its wakers into `out`;
    /// `drainable`: the event showed no shutdown (see [`DRAINABLE`]).
    pub(crate) fn set_ready(&self, dir: usize, drainable: bool, out: &mut Vec<Waker>) {
        let d = &self.dirs[dir];
        let mark = if drainable { READY | DRAINABLE } else { READY };
        d.state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                Some((s.wrapping_add(TICK) & !DRAINABLE) | mark)
            })
            .ok();
        let mut w = lock(&d.wakers);
        out.extend(w.poll_waker.take());
        if let Some(slots) = &mut w.futures {
            out.extend(slots.wakers.iter_mut().filter_map(Option::take));
        }
    }

    /// Poll-style wait for readiness in `dir`, using the direction's single
    /// `poll_*` waker slot.
    pub(crate) fn poll_ready(&self, dir: usize, cx: &mut Context<'_>) -> Poll<()> {
        if self.ready_state(dir).is_some() {
            return Poll::Ready(());
        }
        let mut w = lock(&self.dirs[dir].wakers);
        // Checked again under the lock: `set_ready` marks the state before it
        // takes this lock, so either we see the mark or it sees our waker.
        if self.ready_state(dir).is_some() {
            return Poll::Ready(());
        }
        match &mut w.poll_waker {
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
        if self.ready_state(dir).is_some() {
            return Poll::Ready(());
        }
        let mut w = lock(&self.dirs[dir].wakers);
        if self.ready_state(dir).is_some() {
            return Poll::Ready(());
        }
        let slots = w.futures.get_or_insert_default();
        let waker = Some(cx.waker().clone());
        match *slot {
            Some(i) => slots.wakers[i] = waker,
            None => {
                let i = match slots.free.pop() {
                    Some(i) => {
                        slots.wakers[i] = waker;
                        i
                    }
                    None => {
                        slots.wakers.push(waker);
                        slots.wakers.len() - 1
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
        // A slot exists only once `poll_ready_slot` allocated the slots.
        if let Some(slots) = &mut w.futures {
            slots.wakers[slot] = None;
            slots.free.push(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One `Source` per socket: at 10,000 connections every byte here is
    /// 10 KB of RSS, so what only some sources need lives elsewhere.
    #[test]
    fn a_source_stays_small() {
        let size = std::mem::size_of::<Source>();
        println!("size_of::<Source>() = {size}");
        assert!(size <= 128, "Source grew to {size} bytes");
    }

    /// Readiness futures get slots of their own (reused once freed) beside
    /// the single `poll_*` waker, and an edge wakes all of them.
    #[test]
    fn every_waiter_of_a_direction_is_woken() {
        use std::sync::Arc;
        use std::task::Wake;

        struct Count(std::sync::atomic::AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let count = Arc::new(Count(0.into()));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let source = Source::new(0, false);
        source.clear_readiness(READ, source.ready_state(READ).unwrap());
        assert!(source.poll_ready(READ, &mut cx).is_pending());
        let (mut a, mut b, mut c) = (None, None, None);
        assert!(source.poll_ready_slot(READ, &mut a, &mut cx).is_pending());
        assert!(source.poll_ready_slot(READ, &mut b, &mut cx).is_pending());
        assert_eq!((a, b), (Some(0), Some(1)));
        source.drop_slot(READ, 0);
        assert!(source.poll_ready_slot(READ, &mut c, &mut cx).is_pending());
        assert_eq!(c, Some(0), "a freed slot is reused");
        let mut out = Vec::new();
        source.set_ready(READ, false, &mut out);
        assert_eq!(out.len(), 3, "the poll_* waker and both futures");
        out.drain(..).for_each(Waker::wake);
        assert_eq!(count.0.load(Ordering::Relaxed), 3);
        source.set_ready(WRITE, false, &mut out);
        assert!(out.is_empty(), "nobody waits on the write direction");
    }
}
