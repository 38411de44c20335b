//! The process-wide reactor: one `polling::Poller`, the table of registered
//! sources, the timer queue, and one "turn" that waits in the kernel and
//! wakes whatever became ready.
//!
//! It must never poll a future or know about tasks: it only wakes `Waker`s.
//! Who may wait in the poller, and when, is decided in `parker.rs`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::Waker;
use std::time::{Duration, Instant};

use polling::{Event, Events, PollMode, Poller};
use rustix::event::{PollFd, PollFlags, Timespec, poll};

use crate::source::{READ, Source, WRITE, lock};
use crate::timer_queue::{TimerId, TimerQueue};

/// Counts of the reactor's syscalls since the process started, for tests and
/// for judging the cost model.
///
/// ```
/// let before = bureau_reactor::stats();
/// assert!(bureau_reactor::stats().waits >= before.waits);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Calls to `Poller::wait` (each costs several syscalls on Linux).
    pub waits: u64,
    /// Calls to `Poller::notify` made to interrupt a waiting driver.
    pub notifies: u64,
    /// Registrations (`Poller::add`): one per `Async` over its lifetime.
    pub registrations: u64,
    /// Calls to `Poller::modify`. The reactor registers sockets once,
    /// edge-triggered, so this stays zero; every `epoll_ctl` goes through
    /// one counted wrapper, so a modify would show here.
    pub modifies: u64,
    /// Deregistrations (`Poller::delete`): one per dropped `Async`.
    pub deregistrations: u64,
}

/// Returns the reactor's syscall counters (see [`Stats`]).
///
/// ```
/// let s = bureau_reactor::stats();
/// assert_eq!(s.modifies, 0);
/// ```
pub fn stats() -> Stats {
    let Some(r) = REACTOR.get() else {
        return Stats::default();
    };
    let c = &r.counters;
    Stats {
        waits: c.waits.load(Ordering::Relaxed),
        notifies: c.notifies.load(Ordering::Relaxed),
        registrations: c.registrations.load(Ordering::Relaxed),
        modifies: c.modifies.load(Ordering::Relaxed),
        deregistrations: c.deregistrations.load(Ordering::Relaxed),
    }
}

/// An `epoll_ctl` operation, for [`Reactor::ctl`].
enum Ctl {
    /// Register, edge-triggered, for both directions.
    Add,
    /// Change a registration. Sockets are registered once, so nothing in the
    /// reactor modifies one; the variant exists so that a modify, if ever
    /// added, is counted like the others (see `Stats::modifies`).
    #[cfg_attr(not(test), expect(dead_code, reason = "counted if ever used"))]
    Modify,
    /// Deregister.
    Delete,
}

/// The counters behind [`Stats`].
#[derive(Default)]
struct Counters {
    waits: AtomicU64,
    notifies: AtomicU64,
    registrations: AtomicU64,
    modifies: AtomicU64,
    deregistrations: AtomicU64,
}

static REACTOR: OnceLock<Reactor> = OnceLock::new();

/// The reactor shared by every thread of the process.
pub(crate) struct Reactor {
    poller: Poller,
    /// Registered sources by key.
    sources: Mutex<Slab>,
    /// Pending timers and what the driver currently waits for.
    timers: Mutex<Timers>,
    /// Held by the thread that drives the reactor (the one allowed to wait in
    /// the poller); the event and waker buffers come with it.
    driver: Mutex<Driver>,
    counters: Counters,
    /// When the reactor was created: the origin of `expired_through`.
    base: Instant,
    /// Every timer due at or before `base` + this many nanoseconds has been
    /// taken out of the queue (written under the timers lock), so a timer
    /// that fired for such a deadline has nothing left to remove.
    expired_through: AtomicU64,
}

/// What the driver reuses from turn to turn, so a turn allocates nothing.
pub(crate) struct Driver {
    /// The poller's event buffer.
    events: Events,
    /// The wakers a turn collects (empty between turns).
    wakers: Vec<Waker>,
}

/// Sources by slot, with a free list so slots stay few. A source's key (what
/// the poller reports) is its slot plus the slot's generation in the high
/// bits, so an event the kernel reported for a slot's previous source (in a
/// turn that was already under way when that source left) is recognised as
/// stale and dropped, not given to the slot's new source.
#[derive(Default)]
struct Slab {
    entries: Vec<Option<Arc<Source>>>,
    /// The generation of each slot, bumped when the slot is freed.
    generations: Vec<usize>,
    free: Vec<usize>,
}

/// The bits of a key that hold the slot; the others hold the generation.
const SLOT_BITS: u32 = usize::BITS / 2;
/// Mask of the slot bits of a key.
const SLOT_MASK: usize = (1 << SLOT_BITS) - 1;

impl Slab {
    /// Takes a free slot; returns the key for it.
    fn alloc(&mut self) -> usize {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.entries.push(None);
                self.generations.push(0);
                self.entries.len() - 1
            }
        };
        slot | (self.generations[slot] << SLOT_BITS)
    }

    /// Empties the slot of `key`; frees it for reuse, under a new
    /// generation, if `reuse`.
    fn release(&mut self, key: usize, reuse: bool) {
        let slot = key & SLOT_MASK;
        self.entries[slot] = None;
        if reuse {
            let g = &mut self.generations[slot];
            *g = g.wrapping_add(1) & (usize::MAX >> SLOT_BITS);
            self.free.push(slot);
        }
    }

    /// The source registered under `key`, if it is still that key's.
    fn get(&self, key: usize) -> Option<&Arc<Source>> {
        let source = self.entries.get(key & SLOT_MASK)?.as_ref()?;
        (source.key == key).then_some(source)
    }
}

/// The pending timers, and whether the driver waits for one.
#[derive(Default)]
struct Timers {
    queue: TimerQueue,
    /// Whether the driver is inside `Poller::wait`, and until when at most.
    /// A timer inserted with an earlier deadline must interrupt it.
    waiting: Option<Option<Instant>>,
}

impl Reactor {
    /// The reactor, created on first use; the error if the kernel refuses
    /// its poller (say, the process is out of descriptors).
    pub(crate) fn try_get() -> io::Result<&'static Reactor> {
        if let Some(r) = REACTOR.get() {
            return Ok(r);
        }
        let poller = Poller::new()?;
        // If another thread won the race, this poller is simply dropped.
        Ok(REACTOR.get_or_init(|| Reactor {
            poller,
            sources: Mutex::new(Slab::default()),
            timers: Mutex::new(Timers::default()),
            driver: Mutex::new(Driver {
                events: Events::new(),
                wakers: Vec::new(),
            }),
            counters: Counters::default(),
            base: Instant::now(),
            expired_through: AtomicU64::new(0),
        }))
    }

    /// The reactor if it was created: always, for whoever holds something
    /// it registered (an `Async`, a timer registration, a parker asleep in
    /// the poller). Never creates it, so it never fails or panics.
    pub(crate) fn existing() -> Option<&'static Reactor> {
        REACTOR.get()
    }

    /// Registers `fd` once, edge-triggered, for both directions.
    ///
    /// The `epoll_ctl` happens outside the `sources` lock, which the driver
    /// needs on every turn. The source is in the table before the kernel
    /// knows the descriptor, so no event of it is dropped.
    pub(crate) fn insert_io(&self, fd: BorrowedFd<'_>) -> io::Result<Arc<Source>> {
        let source = {
            let mut slab = lock(&self.sources);
            let key = slab.alloc();
            let source = Arc::new(Source::new(fd.as_raw_fd(), key));
            slab.entries[key & SLOT_MASK] = Some(source.clone());
            source
        };
        // The caller (`Async`) owns the descriptor and calls `remove_io`
        // before the descriptor is closed or given away.
        // SAFETY: so the descriptor stays open while it is registered.
        if let Err(e) = unsafe { self.ctl(Ctl::Add, fd, source.key) } {
            lock(&self.sources).release(source.key, true);
            return Err(e);
        }
        Ok(source)
    }

    /// Deregisters a source; its key may then be reused.
    ///
    /// The kernel forgets the descriptor first, outside the `sources` lock,
    /// and only then is the key freed: a key is never handed to a new
    /// source while the kernel may still report the old descriptor under
    /// it. If the kernel refuses the delete, the key is not reused at all.
    pub(crate) fn remove_io(&self, source: &Source, fd: BorrowedFd<'_>) -> io::Result<()> {
        // SAFETY: deleting has no safety requirement.
        let deleted = unsafe { self.ctl(Ctl::Delete, fd, source.key) };
        lock(&self.sources).release(source.key, deleted.is_ok());
        deleted
    }

    /// Every `epoll_ctl` of the reactor goes through here, so that
    /// [`Stats`] counts each of them.
    ///
    /// # Safety
    ///
    /// For [`Ctl::Add`]: `fd` must be deleted (`Ctl::Delete`) before it is
    /// closed, as `Poller::add_with_mode` requires.
    unsafe fn ctl(&self, op: Ctl, fd: BorrowedFd<'_>, key: usize) -> io::Result<()> {
        let c = &self.counters;
        let interest = Event::all(key);
        match op {
            Ctl::Add => {
                c.registrations.fetch_add(1, Ordering::Relaxed);
                // SAFETY: our caller promises to delete `fd` before closing it.
                unsafe { self.poller.add_with_mode(&fd, interest, PollMode::Edge) }
            }
            Ctl::Modify => {
                c.modifies.fetch_add(1, Ordering::Relaxed);
                self.poller.modify_with_mode(fd, interest, PollMode::Edge)
            }
            Ctl::Delete => {
                c.deregistrations.fetch_add(1, Ordering::Relaxed);
                self.poller.delete(fd)
            }
        }
    }

    /// Adds a timer and returns its id. Interrupts the driver if it waits
    /// for a later deadline than `when`.
    pub(crate) fn insert_timer(&self, when: Instant, waker: &Waker) -> TimerId {
        let mut t = lock(&self.timers);
        let id = t.queue.insert(when, waker);
        let interrupt = match t.waiting {
            Some(until) => until.is_none_or(|until| when < until),
            None => false,
        };
        if interrupt {
            // Set so that a second early timer does not notify again.
            t.waiting = Some(Some(when));
            drop(t);
            self.notify();
        }
        id
    }

    /// Replaces the waker of a pending timer.
    pub(crate) fn update_timer(&self, id: TimerId, waker: &Waker) {
        lock(&self.timers).queue.update(id, waker);
    }

    /// Cancels a timer (it may already have fired). Its waker is dropped
    /// after the lock is released.
    pub(crate) fn remove_timer(&self, id: TimerId) {
        let waker = lock(&self.timers).queue.cancel(id);
        drop(waker);
    }

    /// Interrupts the current (or next) `Poller::wait`.
    pub(crate) fn notify(&self) {
        self.counters.notifies.fetch_add(1, Ordering::Relaxed);
        // A failed eventfd write leaves the driver to its timeout; there is
        // nobody to report it to.
        let _ = self.poller.notify();
    }

    /// Tries to become the driver.
    pub(crate) fn try_drive(&self) -> Option<MutexGuard<'_, Driver>> {
        match self.driver.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// One turn of the reactor, by the driver: waits in the poller for at
    /// most `timeout` (shortened to the next timer deadline, and to zero if
    /// a timer is already due), then wakes the wakers of every ready source
    /// and expired timer. `after_wait` runs between the wait and the wakes.
    pub(crate) fn turn(
        &self,
        driver: &mut Driver,
        timeout: Option<Duration>,
        after_wait: impl FnOnce(),
    ) {
        let Driver { events, wakers } = driver;
        let start = Instant::now();
        let mut deadline = timeout.and_then(|t| start.checked_add(t));
        {
            let mut t = lock(&self.timers);
            self.take_expired(&mut t, start, wakers);
            if !wakers.is_empty() {
                deadline = Some(start);
            }
            if let Some(next) = t.queue.next_deadline() {
                deadline = Some(deadline.map_or(next, |d| d.min(next)));
            }
            t.waiting = Some(deadline);
        }
        events.clear();
        let timeout = deadline.map(|d| d.saturating_duration_since(start));
        // A `Poller::wait` costs five system calls whatever it returns; a
        // turn that must not block first asks, in one, whether the epoll
        // instance has anything to report at all.
        if timeout != Some(Duration::ZERO) || self.poller_has_events() {
            self.counters.waits.fetch_add(1, Ordering::Relaxed);
            // An error here (EINTR is retried inside polling) leaves the
            // events empty; the callers' loops come back, so it is not fatal.
            let _ = self.poller.wait(events, timeout);
        }
        let now = Instant::now();
        {
            let mut t = lock(&self.timers);
            t.waiting = None;
            self.take_expired(&mut t, now, wakers);
        }
        after_wait();
        if !events.is_empty() {
            self.dispatch(
                events.iter().map(|e| (e.key, e.readable, e.writable)),
                wakers,
            );
        }
        // Drained, so the buffer (and its capacity) is kept for next turn.
        for w in wakers.drain(..) {
            w.wake();
        }
    }

    /// Whether a wait on the poller would report anything now: the epoll
    /// file descriptor is readable exactly when some registered source (or
    /// the poller's own notifier or timer) has an event ready. An error
    /// answers yes, so that the caller waits and sees it.
    fn poller_has_events(&self) -> bool {
        let mut fds = [PollFd::new(&self.poller, PollFlags::IN)];
        !matches!(poll(&mut fds, Some(&Timespec::default())), Ok(0))
    }

    /// Records the events `(key, readable, writable)` in their sources and
    /// moves the wakers to wake into `out`; events of a source that left
    /// meanwhile are dropped (see [`Slab`]).
    fn dispatch(&self, events: impl Iterator<Item = (usize, bool, bool)>, out: &mut Vec<Waker>) {
        let slab = lock(&self.sources);
        for (key, readable, writable) in events {
            let Some(source) = slab.get(key) else {
                continue;
            };
            if readable {
                source.set_ready(READ, out);
            }
            if writable {
                source.set_ready(WRITE, out);
            }
        }
    }

    /// Moves the wakers of every timer due at `now` into `out`, and records
    /// that the queue holds nothing due by `now` any more.
    fn take_expired(&self, t: &mut Timers, now: Instant, out: &mut Vec<Waker>) {
        // Only a timer this took out will ask `timer_expired`, so a turn
        // that took none (the usual I/O turn) has nothing to record.
        if t.queue.take_expired(now, out) {
            let through = nanos(now.saturating_duration_since(self.base));
            self.expired_through.fetch_max(through, Ordering::Release);
        }
    }

    /// Whether a timer registered for `when` was surely taken out of the
    /// queue already (by the turn that woke it), so cancelling it needs no
    /// lock. `false` means "maybe not": then cancel it.
    ///
    /// (A timer inserted just after a turn passed its deadline is due at
    /// once; if it is cancelled by this test while still queued, the next
    /// turn removes it and wakes its waker once, spuriously.)
    pub(crate) fn timer_expired(&self, when: Instant) -> bool {
        when.checked_duration_since(self.base)
            .is_some_and(|d| nanos(d) <= self.expired_through.load(Ordering::Acquire))
    }
}

/// A duration in nanoseconds, saturating (u64 holds 584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// Held by the tests that register sources (here and in other modules),
    /// so that the exact counts of `every_epoll_ctl_is_counted` are not moved
    /// by another test.
    pub(crate) static REGISTERING: Mutex<()> = Mutex::new(());

    #[test]
    fn every_epoll_ctl_is_counted() {
        let _alone = lock(&REGISTERING);
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let r = Reactor::try_get().unwrap();
        let before = stats();
        let source = r.insert_io(a.as_fd()).unwrap();
        // SAFETY: `a` is registered and deleted below before it is closed.
        unsafe { r.ctl(Ctl::Modify, a.as_fd(), source.key) }.unwrap();
        r.remove_io(&source, a.as_fd()).unwrap();
        let after = stats();
        assert_eq!(after.registrations - before.registrations, 1);
        assert_eq!(after.modifies - before.modifies, 1);
        assert_eq!(after.deregistrations - before.deregistrations, 1);
    }

    #[test]
    fn a_turn_records_that_it_took_a_timer_out() {
        let r = Reactor::try_get().unwrap();
        let when = Instant::now() + Duration::from_millis(2);
        let id = r.insert_timer(when, Waker::noop());
        assert!(!r.timer_expired(when));
        let start = Instant::now();
        while !r.timer_expired(when) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no turn fired it"
            );
            if let Some(mut d) = r.try_drive() {
                r.turn(&mut d, Some(Duration::from_millis(10)), || {});
            }
        }
        assert!(lock(&r.timers).queue.cancel(id).is_none(), "still queued");
        assert!(r.timer_expired(when - Duration::from_millis(1)));
    }

    #[test]
    fn an_event_for_a_departed_source_does_not_reach_its_slots_new_source() {
        let _alone = lock(&REGISTERING);
        let r = Reactor::try_get().unwrap();
        let (a, _a_peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let (b, _b_peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let old = r.insert_io(a.as_fd()).unwrap();
        let old_key = old.key;
        r.remove_io(&old, a.as_fd()).unwrap();
        // Take slots until one is the old source's (other tests' sources
        // may take it first), then deliver the old source's event.
        let mut held = Vec::new();
        let new = loop {
            let s = r.insert_io(b.as_fd()).unwrap();
            if s.key & SLOT_MASK == old_key & SLOT_MASK {
                break s;
            }
            r.remove_io(&s, b.as_fd()).unwrap();
            let (c, d) = std::os::unix::net::UnixStream::pair().unwrap();
            let s = r.insert_io(c.as_fd()).unwrap();
            held.push((s, c, d));
            assert!(held.len() < 10_000, "the old slot never came back");
        };
        assert_ne!(new.key, old_key);
        new.clear_readiness(READ, new.ready_tick(READ).unwrap());
        let mut wakers = Vec::new();
        r.dispatch([(old_key, true, false)].into_iter(), &mut wakers);
        assert!(
            new.ready_tick(READ).is_none(),
            "a stale event made it ready"
        );
        r.dispatch([(new.key, true, false)].into_iter(), &mut wakers);
        assert!(new.ready_tick(READ).is_some());
        r.remove_io(&new, b.as_fd()).unwrap();
        for (s, c, _d) in held {
            r.remove_io(&s, c.as_fd()).unwrap();
        }
    }
}
