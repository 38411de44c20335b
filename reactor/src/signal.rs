//! Unix signals on the event loop: [`Signals`], a stream of the signals
//! that arrive, and [`ctrl_c`], a future that completes at the next
//! `SIGINT`.
//!
//! ```
//! use bureau_reactor::signal::{Signal, Signals};
//! use futures_lite::StreamExt;
//! use rustix::process::{getpid, kill_process, Signal as RawSignal};
//!
//! let mut signals = Signals::new([Signal::Usr1, Signal::Term])?;
//! kill_process(getpid(), RawSignal::USR1)?;
//! assert_eq!(futures_lite::future::block_on(signals.next()), Some(Signal::Usr1));
//! # std::io::Result::Ok(())
//! ```
//!
//! # What a listener changes
//!
//! While a [`Signals`] (or a [`ctrl_c`] future) listens for a signal, the
//! signal's default action does not happen: a listened-for `SIGTERM` does
//! not end the process. Once nothing listens for it any more, the process
//! does with it what it did before bureau listened: the default action
//! (`SIGTERM` ends the process again), or nothing if it was ignored (Rust
//! programs ignore `SIGPIPE`), or whatever another handler installed before
//! bureau's does. bureau does not see a library that hooks the same signal
//! through `signal-hook-registry` after bureau did (tokio's `signal`, say):
//! while no `Signals` listens, a signal whose default ends the process ends
//! it before that library's action runs.
//!
//! # How a signal reaches the loop
//!
//! No thread waits for signals. The handler, installed through
//! `signal-hook-registry` when a signal is first listened for, records the
//! arrival in an atomic flag and writes to an eventfd that the reactor
//! watches; the reactor's next turn (the loop's, asleep in `epoll` or not)
//! counts the arrival and wakes the listeners.
//!
//! Ground rules, kept by every function in this file:
//! - The handler (`on_signal`) does only async-signal-safe work: atomics
//!   in `SLOTS`, a `write` to `EVENTFD` and, when nothing listens,
//!   `sigaction`/`pthread_sigmask`/`raise` to act out the default action.
//!   It never allocates, takes a lock, wakes a waker or panics.
//! - The handler sets a signal's `pending` flag before it writes to the
//!   eventfd; `deliver` reads the eventfd before it takes the flags. So an
//!   arrival is taken by this delivery, or its write comes after the read
//!   and makes a new edge for the next turn: never lost.
//! - A handler, once installed for a signal, stays for the rest of the
//!   process (signal-hook-registry keeps its own installed in any case);
//!   whether anything listens decides what it does. `EVENTFD` is never
//!   closed.
//! - Arrivals are counted, and wakers taken, under the `LISTENERS` lock;
//!   nothing is woken while it is held.

use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use futures_lite::Stream;
use rustix::event::{EventfdFlags, eventfd};

use crate::parker::ensure_driver;
use crate::reactor::{Reactor, wake_caught};
use crate::sync::{lock, refuse_under_loom};

/// A signal that a program may listen for.
///
/// `SIGKILL` and `SIGSTOP` (which cannot be caught) and the fault signals
/// `SIGSEGV`, `SIGBUS`, `SIGILL` and `SIGFPE` (which a program cannot go on
/// from) have no variant, so they cannot be listened for.
///
/// ```
/// use bureau_reactor::signal::Signal;
/// assert_eq!(Signal::from_raw(Signal::Term.as_raw()), Some(Signal::Term));
/// assert_eq!(Signal::from_raw(9), None); // SIGKILL
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// `SIGHUP`: the terminal hung up; daemons take it as "reload".
    Hup,
    /// `SIGINT`: interrupt from the keyboard (ctrl-c).
    Int,
    /// `SIGQUIT`: quit from the keyboard (ctrl-\\).
    Quit,
    /// `SIGUSR1`: for the program's own use.
    Usr1,
    /// `SIGUSR2`: for the program's own use.
    Usr2,
    /// `SIGPIPE`: a write to a pipe or socket that nobody reads. Rust
    /// programs ignore it unless something listens.
    Pipe,
    /// `SIGALRM`: the timer of `alarm(2)` ran out.
    Alrm,
    /// `SIGTERM`: asked to terminate (what `kill` and service managers send).
    Term,
    /// `SIGCHLD`: a child process stopped or ended. Ignored by default.
    Child,
    /// `SIGWINCH`: the terminal's window changed size. Ignored by default.
    Winch,
}

/// The number of [`Signal`] variants.
const COUNT: usize = 10;

/// Every [`Signal`], at the index of [`Signal::index`].
const ALL: [Signal; COUNT] = [
    Signal::Hup,
    Signal::Int,
    Signal::Quit,
    Signal::Usr1,
    Signal::Usr2,
    Signal::Pipe,
    Signal::Alrm,
    Signal::Term,
    Signal::Child,
    Signal::Winch,
];

impl Signal {
    /// The signal's number, as `kill(2)` takes it.
    ///
    /// ```
    /// use bureau_reactor::signal::Signal;
    /// assert_eq!(Signal::Int.as_raw(), 2);
    /// assert_eq!(Signal::Term.as_raw(), 15);
    /// ```
    pub fn as_raw(self) -> i32 {
        match self {
            Signal::Hup => libc::SIGHUP,
            Signal::Int => libc::SIGINT,
            Signal::Quit => libc::SIGQUIT,
            Signal::Usr1 => libc::SIGUSR1,
            Signal::Usr2 => libc::SIGUSR2,
            Signal::Pipe => libc::SIGPIPE,
            Signal::Alrm => libc::SIGALRM,
            Signal::Term => libc::SIGTERM,
            Signal::Child => libc::SIGCHLD,
            Signal::Winch => libc::SIGWINCH,
        }
    }

    /// The signal numbered `raw`; `None` if there is no such signal, or it
    /// is one that cannot be listened for (`SIGKILL`, `SIGSTOP`, the fault
    /// signals) or that has no variant.
    ///
    /// ```
    /// use bureau_reactor::signal::Signal;
    /// assert_eq!(Signal::from_raw(15), Some(Signal::Term));
    /// assert_eq!(Signal::from_raw(11), None); // SIGSEGV
    /// assert_eq!(Signal::from_raw(0), None);
    /// assert_eq!(Signal::from_raw(-1), None);
    /// ```
    pub fn from_raw(raw: i32) -> Option<Signal> {
        ALL.into_iter().find(|s| s.as_raw() == raw)
    }

    /// The signal's place in [`ALL`] and [`SLOTS`]: below [`COUNT`].
    fn index(self) -> usize {
        self as usize
    }

    /// The signal's bit in a [`Signals`]' set.
    fn bit(self) -> u16 {
        1 << self.index()
    }

    /// Whether the default action is to do nothing.
    fn ignored_by_default(self) -> bool {
        matches!(self, Signal::Child | Signal::Winch)
    }
}

impl fmt::Display for Signal {
    /// The C name, such as `SIGTERM`.
    ///
    /// ```
    /// use bureau_reactor::signal::Signal;
    /// assert_eq!(Signal::Term.to_string(), "SIGTERM");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Hup => "SIGHUP",
            Signal::Int => "SIGINT",
            Signal::Quit => "SIGQUIT",
            Signal::Usr1 => "SIGUSR1",
            Signal::Usr2 => "SIGUSR2",
            Signal::Pipe => "SIGPIPE",
            Signal::Alrm => "SIGALRM",
            Signal::Term => "SIGTERM",
            Signal::Child => "SIGCHLD",
            Signal::Winch => "SIGWINCH",
        })
    }
}

/// What the handler reads and writes for one signal: atomics only.
struct Slot {
    /// Live listeners (`Signals`) of this signal. While it is zero the
    /// handler does what the process did before bureau's handler went in.
    listeners: AtomicUsize,
    /// Set by the handler at an arrival; taken by [`collect`].
    pending: AtomicBool,
    /// What the process did with the signal before bureau's handler was
    /// installed (one of the `BEFORE_` values); written once, before it.
    before: AtomicU8,
}

/// The signal had its default action.
const BEFORE_DEFAULT: u8 = 0;
/// The signal was ignored.
const BEFORE_IGNORED: u8 = 1;
/// Another handler was installed; signal-hook-registry calls it at every
/// arrival, so bureau's handler leaves the signal to it.
const BEFORE_HANDLED: u8 = 2;

impl Slot {
    const fn new() -> Slot {
        Slot {
            listeners: AtomicUsize::new(0),
            pending: AtomicBool::new(false),
            before: AtomicU8::new(BEFORE_DEFAULT),
        }
    }
}

/// One [`Slot`] per [`Signal`], by [`Signal::index`].
static SLOTS: [Slot; COUNT] = [const { Slot::new() }; COUNT];

/// The eventfd that the handlers write to and the reactor watches
/// (non-blocking, close-on-exec); created with the first handler, never
/// closed.
static EVENTFD: OnceLock<OwnedFd> = OnceLock::new();

/// Which signals have bureau's handler. Its lock serialises installing
/// them (and creating [`EVENTFD`]).
static INSTALLED: Mutex<[bool; COUNT]> = Mutex::new([false; COUNT]);

/// Arrivals as the loop has seen them, and the listeners waiting for them.
static LISTENERS: Mutex<Listeners> = Mutex::new(Listeners {
    arrivals: [0; COUNT],
    entries: Vec::new(),
    free: Vec::new(),
});

/// The state behind [`LISTENERS`].
struct Listeners {
    /// Arrivals of each signal delivered so far (several arrivals that one
    /// delivery takes count as one).
    arrivals: [u64; COUNT],
    /// Every live `Signals`, by its key.
    entries: Vec<Option<Entry>>,
    /// Keys free for reuse.
    free: Vec<usize>,
}

/// One `Signals` as the deliveries see it.
struct Entry {
    /// The signals it listens for, by [`Signal::bit`].
    set: u16,
    /// The waker of its last `Pending` poll; taken by the delivery that
    /// brings one of its signals.
    waker: Option<Waker>,
}

/// Called by the reactor's turn when the eventfd had an edge: counts what
/// arrived and moves the wakers of its listeners into `out`.
pub(crate) fn deliver(out: &mut Vec<Waker>) {
    if let Some(fd) = EVENTFD.get() {
        // Resets the counter (`EAGAIN` if nothing was written since the
        // last read), so a handler's write never finds it full. It comes
        // before the flags are taken: see the module's ground rules.
        let mut count = [0u8; 8];
        let _ = rustix::io::read(fd, &mut count);
    }
    collect(&mut lock(&LISTENERS), out);
}

/// Takes the pending flags: counts each signal that arrived and moves the
/// wakers of the listeners waiting for it into `out`.
fn collect(listeners: &mut Listeners, out: &mut Vec<Waker>) {
    for signal in ALL {
        let i = signal.index();
        if !SLOTS[i].pending.swap(false, Ordering::SeqCst) {
            continue;
        }
        listeners.arrivals[i] += 1;
        let waiting = listeners.entries.iter_mut().flatten();
        out.extend(
            waiting
                .filter(|e| e.set & signal.bit() != 0)
                .filter_map(|e| e.waker.take()),
        );
    }
}

/// bureau's action for `signal`, run inside the process's signal handler
/// (signal-hook-registry's) on whatever thread the kernel chose.
///
/// Async-signal-safe: it touches only the atomics of a static [`Slot`]
/// (lock-free on every target bureau builds for), calls `write(2)` on an
/// eventfd that is never closed, and makes [`act_out_default`]'s calls,
/// all on POSIX's list of async-signal-safe functions; it allocates
/// nothing, takes no lock and cannot panic (no indexing, no arithmetic
/// that overflows). signal-hook-registry saves and restores `errno`
/// around it.
fn on_signal(signal: Signal, eventfd: &'static OwnedFd) {
    let Some(slot) = SLOTS.get(signal.index()) else {
        return;
    };
    if slot.listeners.load(Ordering::SeqCst) > 0 {
        slot.pending.store(true, Ordering::SeqCst);
        // Fails only with `EAGAIN`, if the counter is full: then writes
        // are waiting to be read, and the read's delivery takes the flag.
        let _ = rustix::io::write(eventfd, &1u64.to_ne_bytes());
    } else if slot.before.load(Ordering::SeqCst) == BEFORE_DEFAULT && !signal.ignored_by_default() {
        act_out_default(signal.as_raw());
    }
}

/// Does what the kernel would have done with `raw` had no handler been
/// installed: puts its default action back, unblocks it in this thread
/// (the kernel blocks a signal while its handler runs) and raises it again,
/// which ends the process (with a core dump for `SIGQUIT`). If the process
/// lives on all the same (a tracer swallowed the signal), bureau's handler
/// is put back. Called from the signal handler: async-signal-safe.
fn act_out_default(raw: libc::c_int) {
    // SAFETY: all zeroes is a valid `sigaction`: no flags, an empty mask, `SIG_DFL` (0).
    let mut default: libc::sigaction = unsafe { std::mem::zeroed() };
    default.sa_sigaction = libc::SIG_DFL;
    // SAFETY: as above.
    let mut ours: libc::sigaction = unsafe { std::mem::zeroed() };
    // `raw` is one of `Signal`'s numbers, which may be given an action;
    // both pointers are to live, initialised structs on this stack, which
    // `sigaction` reads and writes during the call only.
    // SAFETY: a valid signal number and valid pointers, as said above.
    if unsafe { libc::sigaction(raw, &default, &mut ours) } != 0 {
        return;
    }
    // SAFETY: all zeroes is valid `sigset_t` storage; `sigemptyset` sets it up first.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // `set` is a live `sigset_t` on this stack and `raw` a valid signal
    // number; `pthread_sigmask` only reads `set`, and a null old set is
    // allowed. `raise` takes a plain number. These calls change only this
    // thread's mask and the process's action for `raw`, which is what they
    // are here for.
    // SAFETY: valid pointers and a valid signal number, as said above.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, raw);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(raw);
    }
    // Another thread acting out the same signal at once may have put
    // `SIG_DFL` in first: then it puts the handler back, not this one.
    if ours.sa_sigaction == libc::SIG_DFL {
        return;
    }
    // `ours` is what `sigaction` gave back above: the handler that
    // signal-hook-registry installed, which lives as long as the process.
    // SAFETY: a valid action to put back, and a null old action (allowed).
    unsafe { libc::sigaction(raw, &ours, std::ptr::null_mut()) };
}

/// What the process does with `signal` now (before bureau's handler goes
/// in), as a `BEFORE_` value.
fn disposition(signal: Signal) -> io::Result<u8> {
    // SAFETY: all zeroes is a valid `sigaction` (see `act_out_default`).
    let mut now: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only reads the current one into `now` (on this stack).
    if unsafe { libc::sigaction(signal.as_raw(), std::ptr::null(), &mut now) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(match now.sa_sigaction {
        libc::SIG_DFL => BEFORE_DEFAULT,
        libc::SIG_IGN => BEFORE_IGNORED,
        _ => BEFORE_HANDLED,
    })
}

/// Makes sure bureau's handler is installed for `signal`, with the eventfd
/// created and watched by the reactor.
fn install(signal: Signal) -> io::Result<()> {
    let mut installed = lock(&INSTALLED);
    if installed[signal.index()] {
        return Ok(());
    }
    let eventfd = match EVENTFD.get() {
        Some(fd) => fd,
        None => {
            let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
            Reactor::try_get()?.watch_signals(fd.as_fd())?;
            // Set under the `INSTALLED` lock, so nobody set it meanwhile.
            EVENTFD.get_or_init(|| fd)
        }
    };
    // Before the handler exists, so it never reads a stale value.
    let before = disposition(signal)?;
    SLOTS[signal.index()].before.store(before, Ordering::SeqCst);
    // `register` requires an action that is async-signal-safe and does not
    // panic; `on_signal` is (see its comment), and the closure only moves a
    // `Signal` (a `Copy` enum) and a `&'static OwnedFd` into it. `signal` is
    // none of signal-hook-registry's forbidden signals (`Signal` has no
    // variant for them), so `register` does not panic.
    // SAFETY: an async-signal-safe action, as said above.
    unsafe { signal_hook_registry::register(signal.as_raw(), move || on_signal(signal, eventfd)) }?;
    installed[signal.index()] = true;
    Ok(())
}

/// A stream of the signals of a set, as they arrive.
///
/// It listens from the moment [`Signals::new`] returns: every arrival after
/// that comes out of the stream, though several arrivals of one signal
/// between two polls may come out as one item (POSIX merges them too).
/// Several `Signals` that listen for one signal each see every arrival.
/// While it lives, the default action of its signals does not happen (see
/// [the module](self)). The stream never ends.
///
/// ```
/// use bureau_reactor::signal::{Signal, Signals};
/// use futures_lite::StreamExt;
/// use rustix::process::{getpid, kill_process, Signal as RawSignal};
///
/// let mut first = Signals::new([Signal::Usr2])?;
/// let mut second = Signals::new([Signal::Usr2, Signal::Hup])?;
/// kill_process(getpid(), RawSignal::USR2)?;
/// futures_lite::future::block_on(async {
///     assert_eq!(first.next().await, Some(Signal::Usr2));
///     assert_eq!(second.next().await, Some(Signal::Usr2));
/// });
/// # std::io::Result::Ok(())
/// ```
///
/// Inside a task of a `Parker`-driven loop (such as `bureau::block_on`),
/// `.await` it, as any other of the reactor's futures (see
/// [`Async`](crate::Async)'s "Blocking the loop").
#[derive(Debug)]
pub struct Signals {
    /// Its entry in [`LISTENERS`].
    key: usize,
    /// The signals it listens for, by [`Signal::bit`].
    set: u16,
    /// For each signal, the arrivals counted when it last yielded that
    /// signal (or when it began to listen).
    seen: [u64; COUNT],
    /// Where the next look for an arrival starts, just after the signal it
    /// last yielded, so that a signal that keeps arriving does not hide
    /// the others.
    next: usize,
}

impl Signals {
    /// Listens for every signal of `signals` (repeats do not matter; an
    /// empty set makes a stream that never yields).
    ///
    /// The first listener of a signal installs bureau's handler for it, and
    /// the first of all creates an eventfd that the reactor watches: the
    /// error if the process is out of descriptors, or the kernel refuses
    /// the handler.
    ///
    /// ```
    /// use bureau_reactor::signal::{Signal, Signals};
    /// let signals = Signals::new([Signal::Term, Signal::Int])?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn new(signals: impl IntoIterator<Item = Signal>) -> io::Result<Signals> {
        let set = signals.into_iter().fold(0, |set, s| set | s.bit());
        refuse_under_loom("signals")?;
        for signal in members(set) {
            install(signal)?;
        }
        let mut wakers = Vec::new();
        let (key, seen) = {
            let mut listeners = lock(&LISTENERS);
            // Arrivals that came before are counted now, so they are not
            // taken for this stream's.
            collect(&mut listeners, &mut wakers);
            let entry = Entry { set, waker: None };
            let key = match listeners.free.pop() {
                Some(key) => {
                    listeners.entries[key] = Some(entry);
                    key
                }
                None => {
                    listeners.entries.push(Some(entry));
                    listeners.entries.len() - 1
                }
            };
            (key, listeners.arrivals)
        };
        // Counted after the snapshot of `arrivals`: an arrival from here
        // on is delivered after it, so this stream yields it, and one that
        // came before had the old behaviour (say, the default action).
        for signal in members(set) {
            SLOTS[signal.index()]
                .listeners
                .fetch_add(1, Ordering::SeqCst);
        }
        wakers.into_iter().for_each(wake_caught);
        Ok(Signals {
            key,
            set,
            seen,
            next: 0,
        })
    }
}

/// The signals of `set` (by [`Signal::bit`]), in [`ALL`]'s order.
fn members(set: u16) -> impl Iterator<Item = Signal> {
    ALL.into_iter().filter(move |s| set & s.bit() != 0)
}

impl Stream for Signals {
    type Item = Signal;

    /// Yields a signal of the set that arrived since this stream last
    /// yielded it; each ready item spends one operation of the task's
    /// cooperative budget (`bureau_coop`).
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Signal>> {
        let this = self.get_mut();
        let arrived = {
            let mut listeners = lock(&LISTENERS);
            let arrived = (0..COUNT)
                .map(|k| ALL[(this.next + k) % COUNT])
                .filter(|s| this.set & s.bit() != 0)
                .map(|s| (s, listeners.arrivals[s.index()]))
                .find(|&(s, count)| count != this.seen[s.index()]);
            // A live `Signals` always has its entry.
            if let (None, Some(Some(entry))) = (arrived, listeners.entries.get_mut(this.key)) {
                match &mut entry.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    waker => *waker = Some(cx.waker().clone()),
                }
            }
            arrived
        };
        let Some((signal, count)) = arrived else {
            ensure_driver();
            return Poll::Pending;
        };
        // A stream told by the budget to wait is left as it was.
        futures_lite::ready!(bureau_coop::poll_budgeted(cx, |_| Poll::Ready(())));
        this.seen[signal.index()] = count;
        this.next = (signal.index() + 1) % COUNT;
        Poll::Ready(Some(signal))
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for signal in members(self.set) {
            SLOTS[signal.index()]
                .listeners
                .fetch_sub(1, Ordering::SeqCst);
        }
        let entry = {
            let mut listeners = lock(&LISTENERS);
            listeners.free.push(self.key);
            listeners.entries[self.key].take()
        };
        // Its waker is dropped after the lock is let go.
        drop(entry);
    }
}

/// Completes at the next `SIGINT` (ctrl-c in a terminal), counting from
/// this call: it listens from the moment it returns, not from the first
/// poll. While it lives, `SIGINT` does not end the process.
///
/// The error is [`Signals::new`]'s.
///
/// ```
/// use rustix::process::{getpid, kill_process, Signal as RawSignal};
///
/// let ctrl_c = bureau_reactor::signal::ctrl_c();
/// kill_process(getpid(), RawSignal::INT)?;
/// futures_lite::future::block_on(ctrl_c)?;
/// # std::io::Result::Ok(())
/// ```
pub fn ctrl_c() -> impl Future<Output = io::Result<()>> + Send + Sync + Unpin + 'static {
    // The error, until it is handed out.
    let mut signals = Signals::new([Signal::Int]).map_err(Some);
    futures_lite::future::poll_fn(move |cx| match &mut signals {
        Ok(signals) => Pin::new(signals).poll_next(cx).map(|_| Ok(())),
        Err(e) => Poll::Ready(Err(e.take().unwrap_or_else(|| {
            io::Error::other("bureau: ctrl_c polled after it completed")
        }))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    /// Held by the tests that deliver: a delivery takes every signal's
    /// pending flag, another test's too. No test here sends a signal: they
    /// set the flags the handler would set.
    static DELIVERING: Mutex<()> = Mutex::new(());

    /// A waker that counts its wakes.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// What the handler does at an arrival of `signal` while it has
    /// listeners, less the eventfd write.
    fn arrive(signal: Signal) {
        SLOTS[signal.index()].pending.store(true, Ordering::SeqCst);
    }

    /// Polls `signals` once with `waker`.
    fn poll(signals: &mut Signals, waker: &Waker) -> Poll<Option<Signal>> {
        Pin::new(signals).poll_next(&mut Context::from_waker(waker))
    }

    #[test]
    fn a_listener_does_not_see_what_arrived_before_it_listened() {
        let _alone = lock(&DELIVERING);
        let mut before = Signals::new([Signal::Usr2]).unwrap();
        arrive(Signal::Usr2);
        let mut after = Signals::new([Signal::Usr2]).unwrap();
        deliver(&mut Vec::new());
        let noop = Waker::noop();
        assert_eq!(poll(&mut before, noop), Poll::Ready(Some(Signal::Usr2)));
        assert_eq!(poll(&mut after, noop), Poll::Pending);
        arrive(Signal::Usr2);
        deliver(&mut Vec::new());
        assert_eq!(poll(&mut before, noop), Poll::Ready(Some(Signal::Usr2)));
        assert_eq!(poll(&mut after, noop), Poll::Ready(Some(Signal::Usr2)));
    }

    #[test]
    fn a_delivery_wakes_every_listener_of_its_signal_and_no_other() {
        let _alone = lock(&DELIVERING);
        let counts: Vec<_> = (0..3)
            .map(|_| Arc::new(Count(AtomicUsize::new(0))))
            .collect();
        let wakers: Vec<_> = counts.iter().map(|c| Waker::from(c.clone())).collect();
        let mut alrm = Signals::new([Signal::Alrm]).unwrap();
        let mut both = Signals::new([Signal::Hup, Signal::Alrm]).unwrap();
        let mut hup = Signals::new([Signal::Hup]).unwrap();
        assert_eq!(poll(&mut alrm, &wakers[0]), Poll::Pending);
        assert_eq!(poll(&mut both, &wakers[1]), Poll::Pending);
        assert_eq!(poll(&mut hup, &wakers[2]), Poll::Pending);
        arrive(Signal::Alrm);
        // Several arrivals before a delivery come out as one.
        arrive(Signal::Alrm);
        let mut out = Vec::new();
        deliver(&mut out);
        out.into_iter().for_each(Waker::wake);
        let woken: Vec<_> = counts.iter().map(|c| c.0.load(Ordering::SeqCst)).collect();
        assert_eq!(woken, [1, 1, 0]);
        assert_eq!(poll(&mut alrm, &wakers[0]), Poll::Ready(Some(Signal::Alrm)));
        assert_eq!(poll(&mut alrm, &wakers[0]), Poll::Pending);
        assert_eq!(poll(&mut both, &wakers[1]), Poll::Ready(Some(Signal::Alrm)));
        assert_eq!(poll(&mut hup, &wakers[2]), Poll::Pending);
    }

    #[test]
    fn a_signal_that_keeps_arriving_does_not_hide_another() {
        let _alone = lock(&DELIVERING);
        let mut signals = Signals::new([Signal::Quit, Signal::Winch]).unwrap();
        let noop = Waker::noop();
        let mut seen = Vec::new();
        for _ in 0..2 {
            arrive(Signal::Quit);
            arrive(Signal::Winch);
            deliver(&mut Vec::new());
            let Poll::Ready(Some(first)) = poll(&mut signals, noop) else {
                panic!("nothing came out");
            };
            seen.push(first);
        }
        assert_eq!(seen, [Signal::Quit, Signal::Winch]);
    }

    #[test]
    fn all_lists_every_signal_at_its_index() {
        for (i, signal) in ALL.into_iter().enumerate() {
            assert_eq!(signal.index(), i);
            assert_eq!(Signal::from_raw(signal.as_raw()), Some(signal));
        }
        assert!(COUNT <= u16::BITS as usize);
    }
}
