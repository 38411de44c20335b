//! The process-wide reactor: one `polling::Poller`, the table of registered
//! sources, the timer queue, and one "turn" that waits in the kernel and
//! wakes whatever became ready.
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
    /// Interrupts a wait: an eventfd registered edge-triggered under
    /// [`WAKE_KEY`]. Every write makes a new edge, so it is never read.
    waker: OwnedFd,
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

/// The pending timers, and whether the driver waits for one.
#[derive(Default)]
struct Timers {
    queue: TimerQueue,
    /// Whether the driver waits in the poller, and until when at most.
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
        let waker = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        let data = epoll::EventData::new_u64(WAKE_KEY);
        let edge = epoll::EventFlags::IN | epoll::EventFlags::ET;
        epoll::add(&poller, &waker, data, edge)?;
        // If another thread won the race, these are simply dropped.
        Ok(REACTOR.get_or_init(|| Reactor {
            poller,
            waker,
            sources: Mutex::new(Slab::default()),
            timers: Mutex::new(Timers::default()),
            driver: Mutex::new(Driver {
                events: Events::new(),
                raw: RawEvents(Vec::with_capacity(RAW_EVENTS)),
                wakers: Vec::new(),
                timer_wakers: Vec::new(),
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

    /// Adds a timer; returns its id and the timer's own copy of `waker`.
    /// Interrupts the driver if it waits for a later deadline than `when`.
    pub(crate) fn insert_timer(&self, when: Instant, waker: &Waker) -> (TimerId, Waker) {
        let mut t = lock(&self.timers);
        let (id, theirs) = t.queue.insert(when, waker);
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
        (id, theirs)
    }

    /// Replaces the waker of a pending timer. Returns `false` if the timer
    /// has fired (or was cancelled) already: then its old waker was woken,
    /// not `waker`.
    pub(crate) fn update_timer(&self, id: TimerId, waker: &Waker) -> bool {
        let old = lock(&self.timers).queue.update(id, waker);
        old.is_some()
    }

    /// Moves a timer to a new deadline and keeps its waker: cancels `id` (it
    /// may already have fired) and inserts the timer again for `when`, as
    /// [`Reactor::insert_timer`] does.
    pub(crate) fn reinsert_timer(
        &self,
        id: TimerId,
        theirs: Waker,
        when: Instant,
    ) -> (TimerId, Waker) {
        // Cancelled first, so both copies become the queue's spare and the
        // insert takes them back instead of cloning the waker twice.
        let waker = theirs.clone();
        self.remove_timer(id, theirs);
        self.insert_timer(when, &waker)
    }

    /// Cancels a timer (it may already have fired), given back the timer's
    /// copy of its waker. The wakers the queue hands back are dropped after
    /// the lock is released.
    pub(crate) fn remove_timer(&self, id: TimerId, theirs: Waker) {
        let wakers = lock(&self.timers).queue.cancel(id, theirs);
        drop(wakers);
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
        let mut deadline = timeout.and_then(|t| start.checked_add(t));
        // Dropped after the lock is released, before the wait.
        let spare;
        {
            let mut t = lock(&self.timers);
            spare = t.queue.take_spare();
            self.take_expired(&mut t, start, timer_wakers);
            if !timer_wakers.is_empty() {
                deadline = Some(start);
            }
            if let Some(next) = t.queue.next_deadline() {
                deadline = Some(deadline.map_or(next, |d| d.min(next)));
            }
            t.waiting = Some(deadline);
        }
        drop(spare);
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
        let now = Instant::now();
        {
            let mut t = lock(&self.timers);
            t.waiting = None;
            self.take_expired(&mut t, now, timer_wakers);
        }
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
        let source = r.insert_io(a.as_fd(), false).unwrap();
        r.ctl(Ctl::Modify, a.as_fd(), source.key).unwrap();
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
        let (id, _) = r.insert_timer(when, Waker::noop());
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
        assert!(!lock(&r.timers).queue.is_pending(id), "still queued");
        assert!(r.timer_expired(when - Duration::from_millis(1)));
    }

    #[test]
    fn a_cancelled_timers_waker_is_dropped_by_the_next_turn() {
        struct Count;
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {}
        }
        let r = Reactor::try_get().unwrap();
        let count = Arc::new(Count);
        let waker = Waker::from(count.clone());
        let (id, theirs) = r.insert_timer(Instant::now() + Duration::from_secs(60), &waker);
        r.remove_timer(id, theirs);
        drop(waker);
        let start = Instant::now();
        loop {
            assert!(start.elapsed() < Duration::from_secs(10), "no turn");
            if let Some(mut d) = r.try_drive() {
                r.turn(&mut d, Some(Duration::ZERO), || {});
                break;
            }
            std::thread::yield_now();
        }
        assert_eq!(Arc::strong_count(&count), 1, "a copy of the waker is kept");
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
