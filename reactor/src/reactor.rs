//! The process-wide reactor: one `polling::Poller`, the table of registered
//! sources, and one "turn" that waits in the kernel and wakes whatever
//! became ready. The timers it fires are `timers.rs`'s: the turn calls it
//! before and after its wait.
//!
//! `polling` owns the epoll instance and the timerfd of timed waits. Three
//! things go to that epoll descriptor directly, because `polling` cannot
//! express them, or not cheaply: registrations also ask for `EPOLLRDHUP`; a
//! wait with no timeout (or a zero one) is one `epoll_pwait` instead of
//! `Poller::wait`'s five system calls; and the driver is interrupted through
//! an eventfd of our own, registered edge-triggered, so a wake is one
//! `write` and needs no reset. When a direct wait reports `polling`'s own
//! key (its timerfd, still armed by an earlier timed wait), `Poller::wait`
//! gets a non-blocking turn to disarm it. The signal handlers' eventfd
//! (`signal.rs`) is registered the same way, and a turn that sees it hands
//! the arrivals to `signal::deliver`.
//!
//! It must never poll a future or know about tasks: it only wakes `Waker`s.
//! Who may wait in the poller, and when, is decided in `parker.rs`.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::Waker;
use std::time::{Duration, Instant};

use polling::{Events, Poller};
use rustix::event::{EventfdFlags, Timespec, epoll, eventfd};

use crate::source::{READ, Source, WRITE};
use crate::sync::lock;
use crate::timers::Timers;

/// Counts of the reactor's syscalls and turns since the process started,
/// for tests, for judging the cost model, and for `bureau::stats()`.
///
/// ```
/// let before = bureau_reactor::stats();
/// assert!(bureau_reactor::stats().waits >= before.waits);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Blocking waits in the poller: calls to `Poller::wait` (each costs
    /// several syscalls on Linux) and untimed `epoll_pwait`s.
    pub waits: u64,
    /// Wakes sent to interrupt a waiting driver (one eventfd write each).
    pub notifies: u64,
    /// Registrations (`Poller::add`): one per `Async` over its lifetime.
    pub registrations: u64,
    /// Calls to `Poller::modify`. The reactor registers sockets once,
    /// edge-triggered, so this stays zero; every `epoll_ctl` goes through
    /// one counted wrapper, so a modify would show here.
    pub modifies: u64,
    /// Deregistrations (`Poller::delete`): one per dropped `Async`.
    pub deregistrations: u64,
    /// Turns of the reactor, blocking or not.
    pub turns: u64,
    /// Wakes of tasks waiting for I/O (or a signal) that turns made.
    pub events: u64,
    /// Timers fired.
    pub timers_fired: u64,
    /// Timers set and neither fired nor cancelled yet.
    pub timers_pending: usize,
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
        turns: c.turns.load(Ordering::Relaxed),
        events: c.events.load(Ordering::Relaxed),
        timers_fired: c.timers_fired.load(Ordering::Relaxed),
        timers_pending: r.timers.len(),
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
    turns: AtomicU64,
    events: AtomicU64,
    timers_fired: AtomicU64,
}

static REACTOR: OnceLock<Reactor> = OnceLock::new();

/// The reactor shared by every thread of the process.
pub(crate) struct Reactor {
    poller: Poller,
    /// Interrupts a wait: an eventfd registered edge-triggered under
    /// [`WAKE_KEY`]. Every write makes a new edge, so it is never read.
    waker: OwnedFd,
    /// Registered sources by key.
    sources: Mutex<Slab>,
    /// Pending timers and what the driver currently waits for.
    pub(crate) timers: Timers,
    /// Held by the thread that drives the reactor (the one allowed to wait in
    /// the poller); the event and waker buffers come with it.
    driver: Mutex<Driver>,
    counters: Counters,
}

/// What the driver reuses from turn to turn, so a turn allocates nothing.
pub(crate) struct Driver {
    /// The poller's event buffer, for `Poller::wait` (timed waits).
    events: Events,
    /// The buffer of the untimed and zero-timeout waits, which call
    /// `epoll_pwait` on the poller's descriptor directly.
    raw: RawEvents,
    /// The wakers of ready sources a turn collects (empty between turns).
    wakers: Vec<Waker>,
    /// The wakers of expired timers a turn collects, woken first and as
    /// urgent wakes (empty between turns).
    timer_wakers: Vec<Waker>,
}

/// The raw wait's event buffer.
struct RawEvents(Vec<epoll::Event>);

// SAFETY: an `epoll::Event` is plain data (flags and the `u64` key the
// reactor registered); its pointer variant is never used. `polling` says
// the same of its own buffer.
unsafe impl Send for RawEvents {}

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

impl Reactor {
    /// The reactor, created on first use; the error if the kernel refuses
    /// its poller (say, the process is out of descriptors).
    pub(crate) fn try_get() -> io::Result<&'static Reactor> {
        if let Some(r) = REACTOR.get() {
            return Ok(r);
        }
        let poller = Poller::new()?;
        let waker = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        let data = epoll::EventData::new_u64(WAKE_KEY);
        let edge = epoll::EventFlags::IN | epoll::EventFlags::ET;
        epoll::add(&poller, &waker, data, edge)?;
        // If another thread won the race, these are simply dropped.
        Ok(REACTOR.get_or_init(|| Reactor {
            poller,
            waker,
            sources: Mutex::new(Slab::default()),
            timers: Timers::new(),
            driver: Mutex::new(Driver {
                events: Events::new(),
                raw: RawEvents(Vec::with_capacity(RAW_EVENTS)),
                wakers: Vec::new(),
                timer_wakers: Vec::new(),
            }),
            counters: Counters::default(),
        }))
    }

    /// The reactor if it was created: always, for whoever holds something
    /// it registered (an `Async`, a timer registration, a parker asleep in
    /// the poller). Never creates it, so it never fails or panics.
    pub(crate) fn existing() -> Option<&'static Reactor> {
        REACTOR.get()
    }

    /// Registers `fd` once, edge-triggered, for both directions;
    /// `byte_stream` as in [`Source::byte_stream`].
    ///
    /// The `epoll_ctl` happens outside the `sources` lock, which the driver
    /// needs on every turn. The source is in the table before the kernel
    /// knows the descriptor, so no event of it is dropped.
    pub(crate) fn insert_io(
        &self,
        fd: BorrowedFd<'_>,
        byte_stream: bool,
    ) -> io::Result<Arc<Source>> {
        let source = {
            let mut slab = lock(&self.sources);
            let key = slab.alloc();
            let source = Arc::new(Source::new(key, byte_stream));
            slab.entries[key & SLOT_MASK] = Some(source.clone());
            source
        };
        // The caller (`Async`) owns the descriptor and calls `remove_io`
        // before the descriptor is closed or given away, so the kernel never
        // reports a closed descriptor's number under this key.
        if let Err(e) = self.ctl(Ctl::Add, fd, source.key) {
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
        let deleted = self.ctl(Ctl::Delete, fd, source.key);
        lock(&self.sources).release(source.key, deleted.is_ok());
        deleted
    }

    /// Watches the signal handlers' eventfd (see `signal.rs`), which lives
    /// for the rest of the process: edge-triggered, so every write of a
    /// handler makes a new edge, and a turn that sees one calls
    /// [`crate::signal::deliver`].
    pub(crate) fn watch_signals(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let data = epoll::EventData::new_u64(SIGNAL_KEY);
        let edge = epoll::EventFlags::IN | epoll::EventFlags::ET;
        Ok(epoll::add(&self.poller, fd, data, edge)?)
    }

    /// Every `epoll_ctl` of the reactor goes through here, so that
    /// [`Stats`] counts each of them.
    ///
    /// Sources are registered on the poller's epoll instance directly, for
    /// [`INTEREST`]: `polling` cannot ask for `EPOLLRDHUP`. Its key is
    /// reported as is, and `polling` only reserves `usize::MAX`, which a
    /// slab key never reaches.
    fn ctl(&self, op: Ctl, fd: BorrowedFd<'_>, key: usize) -> io::Result<()> {
        let c = &self.counters;
        let data = epoll::EventData::new_u64(key as u64);
        match op {
            Ctl::Add => {
                c.registrations.fetch_add(1, Ordering::Relaxed);
                Ok(epoll::add(&self.poller, fd, data, INTEREST)?)
            }
            Ctl::Modify => {
                c.modifies.fetch_add(1, Ordering::Relaxed);
                Ok(epoll::modify(&self.poller, fd, data, INTEREST)?)
            }
            Ctl::Delete => {
                c.deregistrations.fetch_add(1, Ordering::Relaxed);
                self.poller.delete(fd)
            }
        }
    }

    /// Interrupts the current (or next) wait in the poller.
    pub(crate) fn notify(&self) {
        self.counters.notifies.fetch_add(1, Ordering::Relaxed);
        let one = 1u64.to_ne_bytes();
        // `EAGAIN` only if the counter is about to overflow, after 2^64 - 2
        // wakes: reset it and write again. Any other failure leaves the
        // driver to its timeout; there is nobody to report it to.
        if rustix::io::write(&self.waker, &one) == Err(rustix::io::Errno::AGAIN) {
            let mut count = [0u8; 8];
            let _ = rustix::io::read(&self.waker, &mut count);
            let _ = rustix::io::write(&self.waker, &one);
        }
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
    /// a timer is already due), then wakes the wakers of every expired timer
    /// (as urgent wakes, see `bureau_coop`) and of every ready source.
    /// `after_wait` runs between the wait and the wakes.
    ///
    /// A waker that panics does not end the turn: each wake is called in
    /// `catch_unwind` (the panic hook has printed the panic), so the other
    /// wakers are still woken and the driver still lets go of its role.
    pub(crate) fn turn(
        &self,
        driver: &mut Driver,
        timeout: Option<Duration>,
        after_wait: impl FnOnce(),
    ) {
        let Driver {
            events,
            raw,
            wakers,
            timer_wakers,
        } = driver;
        let start = Instant::now();
        let deadline = timeout.and_then(|t| start.checked_add(t));
        let deadline = self.timers.before_wait(start, deadline, timer_wakers);
        events.clear();
        let raw = &mut raw.0;
        raw.clear();
        let timeout = deadline.map(|d| d.saturating_duration_since(start));
        // `Poller::wait` costs five system calls whatever it returns (it
        // arms its timerfd, re-arms it and its notifier with two
        // `epoll_ctl`s and reads the notifier). Only a wait with a finite
        // timeout needs the timerfd's precision; every other wait (the
        // untimed one of an idle loop, the non-blocking turn) is one
        // `epoll_pwait` on the poller's own descriptor.
        let raw_wait = matches!(timeout, None | Some(Duration::ZERO));
        if raw_wait {
            // A non-blocking turn is one system call: not counted as a wait.
            if timeout.is_none() {
                self.counters.waits.fetch_add(1, Ordering::Relaxed);
            }
            let zero = Timespec::default();
            let t = timeout.map(|_| &zero);
            // An error (EINTR) leaves the buffer empty; the callers' loops
            // come back, so it is not fatal.
            let _ = epoll::wait(&self.poller, rustix::buffer::spare_capacity(raw), t);
            // `polling`'s timerfd (and notifier, which nothing here uses)
            // report under its reserved key, registered oneshot: only
            // `Poller::wait` disarms and re-arms them, so let it, without
            // blocking.
            if raw.iter().any(|e| e.data.u64() == NOTIFY_KEY) {
                let _ = self.poller.wait(events, Some(Duration::ZERO));
            }
        } else {
            self.counters.waits.fetch_add(1, Ordering::Relaxed);
            // An error here (EINTR is retried inside polling) leaves the
            // events empty; the callers' loops come back, so it is not fatal.
            let _ = self.poller.wait(events, timeout);
        }
        self.timers.after_wait(Instant::now(), timer_wakers);
        after_wait();
        let mut signalled = false;
        if !raw.is_empty() {
            signalled |= self.dispatch(
                raw.iter()
                    .filter(|e| e.data.u64() != NOTIFY_KEY)
                    .map(|e| raw_event(e.flags, e.data.u64() as usize)),
                wakers,
            );
        }
        if !events.is_empty() {
            signalled |= self.dispatch(
                events
                    .iter()
                    .map(|e| (e.key, e.readable, e.writable, false)),
                wakers,
            );
        }
        if signalled {
            crate::signal::deliver(wakers);
        }
        let c = &self.counters;
        c.turns.fetch_add(1, Ordering::Relaxed);
        if !timer_wakers.is_empty() {
            c.timers_fired
                .fetch_add(timer_wakers.len() as u64, Ordering::Relaxed);
        }
        if !wakers.is_empty() {
            c.events.fetch_add(wakers.len() as u64, Ordering::Relaxed);
        }
        // Drained, so the buffers (and their capacity) are kept for next
        // turn; but not the room a burst of timers made.
        bureau_coop::wake_urgent(timer_wakers.drain(..), wake_caught);
        wakers.drain(..).for_each(wake_caught);
        timer_wakers.shrink_to(KEPT_WAKERS);
    }

    /// Records the events `(key, readable, writable)` in their sources and
    /// moves the wakers to wake into `out`; events of a source that left
    /// meanwhile are dropped (see [`Slab`]). Returns whether the signal
    /// handlers' eventfd was among them (its arrivals are delivered after
    /// the `sources` lock is let go: `signal.rs` takes its own lock).
    fn dispatch(
        &self,
        events: impl Iterator<Item = (usize, bool, bool, bool)>,
        out: &mut Vec<Waker>,
    ) -> bool {
        let mut signalled = false;
        let slab = lock(&self.sources);
        for (key, readable, writable, drainable) in events {
            // The waker's edge has done its work by ending the wait.
            if key as u64 == WAKE_KEY {
                continue;
            }
            if key as u64 == SIGNAL_KEY {
                signalled = true;
                continue;
            }
            let Some(source) = slab.get(key) else {
                continue;
            };
            if readable {
                source.set_ready(READ, drainable, out);
            }
            if writable {
                source.set_ready(WRITE, false, out);
            }
        }
        signalled
    }
}

/// Wakes `waker`; a panic in the wake is caught, so it does not stop the
/// caller (the panic hook has printed it already).
pub(crate) fn wake_caught(waker: Waker) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
}

/// The key of [`Reactor::waker`]. Slab keys never reach it (it would take
/// 2^32 - 2 sources at once).
const WAKE_KEY: u64 = usize::MAX as u64 - 1;

/// The key of the signal handlers' eventfd (see [`Reactor::watch_signals`]).
/// Slab keys never reach it, as for [`WAKE_KEY`].
const SIGNAL_KEY: u64 = usize::MAX as u64 - 2;

/// The key `polling` reports its notifier and timerfd under (reserved:
/// `Poller::add` refuses it).
const NOTIFY_KEY: u64 = usize::MAX as u64;

/// What every source is registered for: what `polling` registers for
/// `Event::all` in edge mode (both directions, hang-ups and errors), plus
/// `EPOLLRDHUP`, so that a read edge tells whether the peer has shut down
/// (see `source::DRAINABLE`).
const INTEREST: epoll::EventFlags = epoll::EventFlags::IN
    .union(epoll::EventFlags::OUT)
    .union(epoll::EventFlags::HUP)
    .union(epoll::EventFlags::ERR)
    .union(epoll::EventFlags::PRI)
    .union(epoll::EventFlags::RDHUP)
    .union(epoll::EventFlags::ET);

/// Room for this many expired timers' wakers that a turn keeps from one
/// turn to the next (16 bytes each): a burst of a million timers firing at
/// once does not leave 16 MB behind.
const KEPT_WAKERS: usize = 4096;

/// Room for this many events per raw wait (as `polling::Events::new`).
const RAW_EVENTS: usize = 1024;

/// What `polling` would make of a raw epoll event: `(key, readable,
/// writable)`, with its own flag sets, and whether the read edge is
/// drainable (no shutdown or error seen; see `source::DRAINABLE`).
fn raw_event(flags: epoll::EventFlags, key: usize) -> (usize, bool, bool, bool) {
    use epoll::EventFlags as E;
    let readable = flags.intersects(E::IN | E::HUP | E::ERR | E::PRI | E::RDHUP);
    let writable = flags.intersects(E::OUT | E::HUP | E::ERR);
    let drainable = !flags.intersects(E::RDHUP | E::HUP | E::ERR);
    (key, readable, writable, drainable)
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
        let source = r.insert_io(a.as_fd(), false).unwrap();
        r.ctl(Ctl::Modify, a.as_fd(), source.key).unwrap();
        r.remove_io(&source, a.as_fd()).unwrap();
        let after = stats();
        assert_eq!(after.registrations - before.registrations, 1);
        assert_eq!(after.modifies - before.modifies, 1);
        assert_eq!(after.deregistrations - before.deregistrations, 1);
    }

    #[test]
    fn an_event_for_a_departed_source_does_not_reach_its_slots_new_source() {
        let _alone = lock(&REGISTERING);
        let r = Reactor::try_get().unwrap();
        let (a, _a_peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let (b, _b_peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let old = r.insert_io(a.as_fd(), false).unwrap();
        let old_key = old.key;
        r.remove_io(&old, a.as_fd()).unwrap();
        // Take slots until one is the old source's (other tests' sources
        // may take it first), then deliver the old source's event.
        let mut held = Vec::new();
        let new = loop {
            let s = r.insert_io(b.as_fd(), false).unwrap();
            if s.key & SLOT_MASK == old_key & SLOT_MASK {
                break s;
            }
            r.remove_io(&s, b.as_fd()).unwrap();
            let (c, d) = std::os::unix::net::UnixStream::pair().unwrap();
            let s = r.insert_io(c.as_fd(), false).unwrap();
            held.push((s, c, d));
            assert!(held.len() < 10_000, "the old slot never came back");
        };
        assert_ne!(new.key, old_key);
        new.clear_readiness(READ, new.ready_state(READ).unwrap());
        let mut wakers = Vec::new();
        r.dispatch([(old_key, true, false, false)].into_iter(), &mut wakers);
        assert!(
            new.ready_state(READ).is_none(),
            "a stale event made it ready"
        );
        r.dispatch([(new.key, true, false, false)].into_iter(), &mut wakers);
        assert!(new.ready_state(READ).is_some());
        r.remove_io(&new, b.as_fd()).unwrap();
        for (s, c, _d) in held {
            r.remove_io(&s, c.as_fd()).unwrap();
        }
    }
}
