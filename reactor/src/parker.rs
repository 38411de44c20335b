//! Parking a thread that runs an event loop, and deciding which thread drives
//! the reactor: at most one thread waits in the poller; the others sleep in
//! `std::thread::park`, and a leaving driver hands the role to one of them.
//! Also the helper thread that drives the reactor for futures polled outside
//! any `Parker`-driven loop.
//!
//! This module must never lose a wakeup: an unpark that races with a park
//! makes the park return, and a driver that leaves always passes the role on.
//! Its cross-thread state comes from `sync.rs`, so that under `--cfg loom`
//! the models in `reactor/tests/loom_parker.rs` check this very code, driving
//! the stand-in reactor of `loom_reactor.rs`.

use std::cell::Cell;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

// Under loom the parker drives a stand-in with the same methods; a normal
// build uses the real reactor, unchanged.
#[cfg(loom)]
use crate::loom_reactor::{Driver, Reactor};
#[cfg(not(loom))]
use crate::reactor::{Driver, Reactor};
use crate::sync::Arc;
use crate::sync::thread::{self, Thread};
use crate::sync::{AtomicBool, AtomicU8, AtomicUsize, Mutex, Ordering, fence, thread_local};
use crate::sync::{lock_modelled, spawn_thread};

// The parker's states. Only the parker's own thread moves it out of
// `UNPARKED` or into an `ASLEEP_*` state; unparkers only swap in `UNPARKED`.
// So when its thread is about to sleep, the state is `RUNNING` or
// `UNPARKED`, and nothing else.

/// Running, no unpark pending.
const RUNNING: u8 = 0;
/// Asleep in `std::thread::park`; wake with `Thread::unpark`.
const ASLEEP_ON_THREAD: u8 = 1;
/// Asleep in the poller; wake with the reactor's notify (an eventfd write).
const ASLEEP_IN_POLLER: u8 = 2;
/// Unparked; the next (or current) park returns.
const UNPARKED: u8 = 3;

/// The state shared by a [`Parker`] and its [`Unparker`]s.
struct Inner {
    state: AtomicU8,
    thread: Thread,
    /// Set (under the candidates lock) when a leaving driver chose this
    /// thread to drive next; it must drive or pass the role on.
    handed: AtomicBool,
}

/// Threads parked while another thread drives: would-be drivers.
#[cfg(not(loom))]
static CANDIDATES: Mutex<Vec<Arc<Inner>>> = Mutex::new(Vec::new());

/// `CANDIDATES.len()`, written under its lock, so that a leaving driver
/// with nobody to hand over to takes no lock.
#[cfg(not(loom))]
static CANDIDATE_COUNT: AtomicUsize = AtomicUsize::new(0);

// The same two under loom, whose primitives cannot be built in a `const`
// and must be new in each execution.
#[cfg(loom)]
loom::lazy_static! {
    static ref CANDIDATES: Mutex<Vec<Arc<Inner>>> = Mutex::new(Vec::new());
    static ref CANDIDATE_COUNT: AtomicUsize = AtomicUsize::new(0);
}

#[cfg(not(loom))]
thread_local! {
    /// How many `Parker`s live on this thread: non-zero means this thread
    /// parks through the reactor, so its futures need no helper thread.
    static PARKERS: Cell<usize> = const { Cell::new(0) };
}

// The same under loom, whose `thread_local!` takes no `const` initialiser.
#[cfg(loom)]
thread_local! {
    static PARKERS: Cell<usize> = Cell::new(0);
}

/// Whether the helper thread is running (or starting). Not on the modelled
/// path (the helper is a real thread), so std's even under loom.
static HELPER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Puts an event-loop thread to sleep and, while it sleeps, lets it drive the
/// reactor. One per thread that runs an event loop; creating it marks the
/// thread as one that drives the reactor, so futures polled on it never start
/// the helper thread.
///
/// ```
/// use std::time::Duration;
/// let mut parker = bureau_reactor::Parker::new();
/// parker.unparker().unpark();
/// parker.park(None); // returns at once: the unpark came first
/// parker.park(Some(Duration::ZERO)); // a non-blocking turn of the reactor
/// ```
pub struct Parker {
    inner: Arc<Inner>,
    /// `!Send`: the parker belongs to the thread it marks.
    _not_send: PhantomData<*const ()>,
}

/// Wakes the thread of a [`Parker`]; `Clone + Send + Sync`.
///
/// ```
/// let parker = bureau_reactor::Parker::new();
/// let unparker = parker.unparker();
/// std::thread::spawn(move || unparker.unpark()).join().unwrap();
/// ```
#[derive(Clone)]
pub struct Unparker {
    inner: Arc<Inner>,
}

impl Parker {
    /// A parker for the current thread.
    ///
    /// ```
    /// let parker = bureau_reactor::Parker::new();
    /// # drop(parker);
    /// ```
    pub fn new() -> Parker {
        PARKERS.with(|p| p.set(p.get() + 1));
        Parker {
            inner: Arc::new(Inner {
                state: AtomicU8::new(RUNNING),
                thread: thread::current(),
                handed: AtomicBool::new(false),
            }),
            _not_send: PhantomData,
        }
    }

    /// A handle that wakes this parker from any thread.
    ///
    /// ```
    /// let parker = bureau_reactor::Parker::new();
    /// let u = parker.unparker();
    /// u.clone().unpark();
    /// ```
    pub fn unparker(&self) -> Unparker {
        Unparker {
            inner: self.inner.clone(),
        }
    }

    /// Sleeps until unparked or until `timeout` passes (`None`: no limit;
    /// `Some(Duration::ZERO)`: a non-blocking turn of the reactor, or, if
    /// another thread drives it, an immediate return), driving the reactor
    /// meanwhile if no other thread does. An unpark that came before this
    /// call makes it return at once. Spurious returns are allowed.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let mut parker = bureau_reactor::Parker::new();
    /// let start = Instant::now();
    /// parker.park(Some(Duration::from_millis(5)));
    /// assert!(start.elapsed() < Duration::from_secs(5));
    /// ```
    pub fn park(&mut self, timeout: Option<Duration>) {
        park(&self.inner, timeout);
    }
}

impl Default for Parker {
    fn default() -> Parker {
        Parker::new()
    }
}

impl Drop for Parker {
    fn drop(&mut self) {
        PARKERS.with(|p| p.set(p.get() - 1));
        leave(&self.inner);
    }
}

impl std::fmt::Debug for Parker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parker").finish_non_exhaustive()
    }
}

impl Unparker {
    /// Wakes the parker: its current park returns, or its next one does
    /// not sleep. Costs a syscall only if the parker is asleep.
    ///
    /// ```
    /// let mut parker = bureau_reactor::Parker::new();
    /// parker.unparker().unpark();
    /// parker.park(None);
    /// ```
    pub fn unpark(&self) {
        match self.inner.state.swap(UNPARKED, Ordering::AcqRel) {
            ASLEEP_ON_THREAD => self.inner.thread.unpark(),
            ASLEEP_IN_POLLER => {
                // The parker slept in the poller, so the reactor exists.
                if let Some(r) = Reactor::existing() {
                    r.notify();
                }
            }
            RUNNING | UNPARKED => {}
            other => unreachable!("bureau: parker in state {other}"),
        }
    }
}

impl std::fmt::Debug for Unparker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unparker").finish_non_exhaustive()
    }
}

/// The body of [`Parker::park`].
fn park(inner: &Arc<Inner>, timeout: Option<Duration>) {
    if take_unpark(inner) {
        return;
    }
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let Ok(reactor) = Reactor::try_get() else {
        // No poller (out of descriptors?): still sleep and wake correctly;
        // no timer or socket can have been registered anyway.
        sleep_on_thread(inner, deadline);
        return;
    };
    // Try the driver lock first, as a non-candidate: the usual case (one
    // event loop) drives at once, touching no candidate list.
    if let Some(mut driver) = reactor.try_drive() {
        drive(reactor, &mut driver, inner, deadline);
        release(driver);
        return;
    }
    // Another thread drives: a non-blocking turn has nothing to wait for.
    if timeout == Some(Duration::ZERO) {
        return;
    }
    loop {
        // Join the would-be drivers, then try again: a driver that let go
        // before our `join` is seen by this second try; one that lets go
        // after it sees us in `hand_off` (the fences order the two).
        join(inner);
        fence(Ordering::SeqCst);
        if let Some(mut driver) = reactor.try_drive() {
            withdraw(inner);
            drive(reactor, &mut driver, inner, deadline);
            release(driver);
            return;
        }
        if sleep_on_thread(inner, deadline) {
            leave(inner);
            return;
        }
    }
}

/// Gives up the driver role: releases the driver lock, then wakes a
/// would-be driver (in that order, or the one woken could find the lock
/// still held, go back to sleep, and be left there).
fn release<D>(driver: D) {
    if broken::HAND_OFF_BEFORE_RELEASE {
        return broken::hand_off_then_release(driver);
    }
    drop(driver);
    hand_off();
}

/// One turn of the reactor by the thread that holds the driver lock: waits
/// in the poller until `deadline`, or not at all if an unpark is pending.
fn drive(reactor: &Reactor, driver: &mut Driver, inner: &Inner, deadline: Option<Instant>) {
    let wait = if enter_poller(inner) {
        time_left(deadline)
    } else {
        Some(Duration::ZERO)
    };
    // Back to RUNNING before waking anyone, so wakes of our own tasks cost
    // no notify.
    reactor.turn(driver, wait, || leave_poller(inner));
    if broken::RUNNING_AFTER_WAKES {
        broken::leave_poller(inner);
    }
}

/// Marks this thread asleep in the poller, so that an unpark notifies the
/// reactor; returns `false`, leaving the state `UNPARKED`, if an unpark
/// came since [`take_unpark`] (then the turn must not block).
fn enter_poller(inner: &Inner) -> bool {
    if broken::DRIVE_OVERWRITES_UNPARK {
        return broken::enter_poller(inner);
    }
    match inner.state.compare_exchange(
        RUNNING,
        ASLEEP_IN_POLLER,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => true,
        Err(state) => {
            debug_assert_eq!(state, UNPARKED, "bureau: parker asleep twice");
            false
        }
    }
}

/// How long a turn may wait to return by `deadline` (`None`: no limit).
fn time_left(deadline: Option<Instant>) -> Option<Duration> {
    if broken::WAIT_IGNORES_DEADLINE {
        return None;
    }
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

/// Marks this thread running again after its wait in the poller (and
/// consumes any unpark that ended it).
fn leave_poller(inner: &Inner) {
    if broken::RUNNING_AFTER_WAKES {
        return;
    }
    inner.state.store(RUNNING, Ordering::Release);
}

/// Sleeps in `std::thread::park` until unparked or `deadline`; returns
/// whether the park is over (unparked or timed out) rather than spurious or
/// a hand-over of the driver role.
fn sleep_on_thread(inner: &Inner, deadline: Option<Instant>) -> bool {
    if let Err(state) = inner.state.compare_exchange(
        RUNNING,
        ASLEEP_ON_THREAD,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        debug_assert_eq!(state, UNPARKED, "bureau: parker asleep twice");
        inner.state.store(RUNNING, Ordering::Release);
        return true;
    }
    match deadline {
        None => bureau_coop::opaque::external(thread::park),
        Some(d) => thread::park_timeout(d.saturating_duration_since(Instant::now())),
    }
    let was = inner.state.swap(RUNNING, Ordering::AcqRel);
    debug_assert!(
        was == ASLEEP_ON_THREAD || was == UNPARKED,
        "bureau: parker in state {was} after sleeping on its thread"
    );
    was == UNPARKED || deadline.is_some_and(|d| Instant::now() >= d)
}

/// Consumes a pending unpark, if any.
fn take_unpark(inner: &Inner) -> bool {
    inner
        .state
        .compare_exchange(UNPARKED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// Adds this thread to the would-be drivers (before it tries the driver
/// lock again, so that a driver leaving after a failed try sees it).
fn join(inner: &Arc<Inner>) {
    let mut c = lock_modelled(&CANDIDATES);
    inner.handed.store(false, Ordering::Relaxed);
    if !c.iter().any(|x| Arc::ptr_eq(x, inner)) {
        c.push(inner.clone());
        CANDIDATE_COUNT.store(c.len(), Ordering::SeqCst);
    }
}

/// Removes this thread from the would-be drivers; returns whether it had
/// been chosen to drive.
fn withdraw(inner: &Arc<Inner>) -> bool {
    let mut c = lock_modelled(&CANDIDATES);
    c.retain(|x| !Arc::ptr_eq(x, inner));
    CANDIDATE_COUNT.store(c.len(), Ordering::SeqCst);
    inner.handed.swap(false, Ordering::Relaxed)
}

/// Withdraws a thread that is not going to drive; if it had been chosen to,
/// passes the role on.
fn leave(inner: &Arc<Inner>) {
    if withdraw(inner) {
        hand_off();
    }
}

/// Called by a driver that stopped driving (after it released the driver
/// lock): wakes one would-be driver, if there is any.
fn hand_off() {
    // Pairs with the fence in `park` after `join`: either that thread's
    // second `try_drive` sees the driver lock free, or we see its count.
    fence(Ordering::SeqCst);
    if CANDIDATE_COUNT.load(Ordering::SeqCst) == 0 {
        return;
    }
    let next = {
        let mut c = lock_modelled(&CANDIDATES);
        let next = c.pop();
        CANDIDATE_COUNT.store(c.len(), Ordering::SeqCst);
        if let Some(n) = &next {
            n.handed.store(true, Ordering::Relaxed);
        }
        next
    };
    if let Some(n) = next {
        n.thread.unpark();
    }
}

/// Called when an I/O or timer future is about to wait: if this thread does
/// not park through a [`Parker`], makes sure the helper thread drives the
/// reactor so the future still completes.
pub(crate) fn ensure_driver() {
    // Under loom, no helper: it would be a real thread outside the model.
    // A timer awaited outside `bureau::block_on` then never fires, which
    // loom reports as a deadlock.
    if cfg!(loom) {
        return;
    }
    if PARKERS.with(Cell::get) > 0 || HELPER.load(Ordering::Acquire) {
        return;
    }
    if HELPER.swap(true, Ordering::AcqRel) {
        return;
    }
    let spawned = spawn_thread(
        "bureau-reactor",
        Box::new(|| {
            let mut parker = Parker::new();
            loop {
                parker.park(None);
            }
        }),
    );
    if spawned.is_err() {
        // Let a later wait try again rather than hang for good.
        HELPER.store(false, Ordering::Release);
    }
}

/// The deliberately broken variants that the loom models must catch
/// (`reactor/tests/loom_parker.rs`, run by `.ci/run`), one per
/// `bureau_loom_broken` value. Each flag is `false` in a normal build, so
/// the sound code above calls none of these.
mod broken {
    use super::{ASLEEP_IN_POLLER, Inner, RUNNING, hand_off};
    use crate::sync::Ordering;

    /// `parker_hand_off_before_release`.
    pub(super) const HAND_OFF_BEFORE_RELEASE: bool =
        cfg!(bureau_loom_broken = "parker_hand_off_before_release");
    /// `parker_drive_overwrites_notified`.
    pub(super) const DRIVE_OVERWRITES_UNPARK: bool =
        cfg!(bureau_loom_broken = "parker_drive_overwrites_notified");
    /// `parker_wait_ignores_deadline`: a non-blocking turn waits for good.
    pub(super) const WAIT_IGNORES_DEADLINE: bool =
        cfg!(bureau_loom_broken = "parker_wait_ignores_deadline");
    /// `parker_empty_after_wakes`: the driver marks itself running only
    /// after the turn's wakes, so its own wakes find it in the poller and
    /// notify it.
    pub(super) const RUNNING_AFTER_WAKES: bool =
        cfg!(bureau_loom_broken = "parker_empty_after_wakes");

    /// `release` in the wrong order: the thread woken to drive may find the
    /// driver lock still held, go back to sleep, and be left there.
    pub(super) fn hand_off_then_release<D>(driver: D) {
        hand_off();
        drop(driver);
    }

    /// `enter_poller` by a store: an unpark since `take_unpark` is lost.
    pub(super) fn enter_poller(inner: &Inner) -> bool {
        inner.state.store(ASLEEP_IN_POLLER, Ordering::Release);
        true
    }

    /// `leave_poller` after the turn's wakes.
    pub(super) fn leave_poller(inner: &Inner) {
        inner.state.store(RUNNING, Ordering::Release);
    }
}
