//! `Timer` (one-shot and interval), `timeout()` and its `TimedOut` error.
//!
//! A timer must never fire early: it compares its deadline with the clock
//! itself, so an early wake of its waker only re-registers it.
//!
//! Under `--cfg loom` the clock is the stand-in reactor's virtual clock
//! (`loom_reactor.rs`) and a timer registers there; nothing else changes.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_lite::Stream;

use crate::clock;
#[cfg(loom)]
use crate::loom_reactor::VirtualTimer;
use crate::parker::ensure_driver;
use crate::reactor::{Reactor, wake_caught};
use crate::sync::lock;
use crate::sync::spawn_thread;
use crate::timer_queue::TimerId;

/// Fires at a deadline (once) or at every period (an interval). A
/// `Future<Output = Instant>` and a `Stream<Item = Instant>`; each yields
/// the deadline it fired for. It never fires before its deadline.
///
/// If the reactor cannot be created (the process is out of descriptors
/// when the first timer or socket is used), a timer never panics: it waits
/// on a sleeper thread of its own instead and still fires on time.
///
/// # Blocking the loop
///
/// Inside a task of a `Parker`-driven loop (such as `bureau::block_on`),
/// `.await` the timer; never wait for it with a blocking call such as
/// `futures_lite::future::block_on(timer)`. That thread has a [`Parker`],
/// so no helper thread starts to drive the reactor, and while it blocks
/// outside its `Parker` it does not drive the reactor either: the call
/// hangs (unless another thread happens to drive). Blocking waits are for
/// threads that run no event loop, as in this example:
///
/// [`Parker`]: crate::Parker
///
/// ```
/// use std::time::{Duration, Instant};
/// use bureau_reactor::Timer;
/// let start = Instant::now();
/// futures_lite::future::block_on(Timer::after(Duration::from_millis(10)));
/// assert!(start.elapsed() >= Duration::from_millis(10));
/// ```
#[derive(Debug)]
pub struct Timer {
    /// Next deadline; `None` when it will never fire (again).
    when: Option<Instant>,
    /// Time between firings; `Duration::MAX` for a one-shot timer.
    period: Duration,
    /// Where the timer is registered to be woken at `when`.
    registration: Option<Registration>,
}

/// A pending timer's registration.
#[derive(Debug)]
enum Registration {
    /// In the reactor's timer queue, under this id, with this waker.
    Reactor(TimerId, Waker),
    /// The reactor could not be created: a thread of its own sleeps until
    /// the deadline and wakes the waker kept here.
    Sleeper(Arc<Mutex<Waker>>),
    /// Under loom: on the stand-in reactor's virtual clock.
    #[cfg(loom)]
    Virtual(VirtualTimer),
}

/// The clock timers read: the real one.
#[cfg(not(loom))]
#[inline(always)]
fn now() -> Instant {
    Instant::now()
}

/// The clock timers read: under loom, the virtual one, which moves only
/// when the loop would wait for a timer.
#[cfg(loom)]
fn now() -> Instant {
    crate::loom_reactor::now()
}

impl Timer {
    /// A timer that never fires.
    ///
    /// ```
    /// assert!(!bureau_reactor::Timer::never().will_fire());
    /// ```
    pub fn never() -> Timer {
        Timer {
            when: None,
            period: Duration::MAX,
            registration: None,
        }
    }

    /// Fires once, `duration` from now (never, if that overflows `Instant`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = bureau_reactor::Timer::after(Duration::from_millis(1));
    /// assert!(t.will_fire());
    /// ```
    pub fn after(duration: Duration) -> Timer {
        let mut t = Timer::never();
        t.set_after(duration);
        t
    }

    /// Fires once at `instant`.
    ///
    /// ```
    /// use std::time::Instant;
    /// let fired = futures_lite::future::block_on(bureau_reactor::Timer::at(Instant::now()));
    /// assert!(fired <= Instant::now());
    /// ```
    pub fn at(instant: Instant) -> Timer {
        let mut t = Timer::never();
        t.set_at(instant);
        t
    }

    /// Fires every `period`, first `period` from now.
    ///
    /// ```
    /// use futures_lite::StreamExt;
    /// use std::time::Duration;
    /// let mut t = bureau_reactor::Timer::interval(Duration::from_millis(1));
    /// futures_lite::future::block_on(async { t.next().await; t.next().await });
    /// ```
    pub fn interval(period: Duration) -> Timer {
        let mut t = Timer::never();
        t.set_interval(period);
        t
    }

    /// Fires at `start`, then every `period` after it.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let start = Instant::now();
    /// let mut t = bureau_reactor::Timer::interval_at(start, Duration::from_secs(1));
    /// assert_eq!(futures_lite::future::block_on(&mut t), start);
    /// ```
    pub fn interval_at(start: Instant, period: Duration) -> Timer {
        let mut t = Timer::never();
        t.set_interval_at(start, period);
        t
    }

    /// Whether the timer will fire again: false for [`Timer::never`] and for
    /// a one-shot timer that has fired.
    ///
    /// ```
    /// use std::time::Instant;
    /// let mut t = bureau_reactor::Timer::at(Instant::now());
    /// futures_lite::future::block_on(&mut t);
    /// assert!(!t.will_fire());
    /// ```
    pub fn will_fire(&self) -> bool {
        self.when.is_some()
    }

    /// Makes this a one-shot timer firing `duration` from now.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut t = bureau_reactor::Timer::never();
    /// t.set_after(Duration::from_millis(1));
    /// assert!(t.will_fire());
    /// ```
    pub fn set_after(&mut self, duration: Duration) {
        match now().checked_add(duration) {
            Some(at) => self.set_at(at),
            None => self.reset(None, Duration::MAX),
        }
    }

    /// Makes this a one-shot timer firing at `instant`.
    ///
    /// ```
    /// use std::time::Instant;
    /// let mut t = bureau_reactor::Timer::never();
    /// t.set_at(Instant::now());
    /// futures_lite::future::block_on(t);
    /// ```
    pub fn set_at(&mut self, instant: Instant) {
        self.reset(Some(instant), Duration::MAX);
    }

    /// Makes this an interval timer firing every `period`, first `period`
    /// from now.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut t = bureau_reactor::Timer::never();
    /// t.set_interval(Duration::from_secs(1));
    /// assert!(t.will_fire());
    /// ```
    pub fn set_interval(&mut self, period: Duration) {
        match now().checked_add(period) {
            Some(start) => self.set_interval_at(start, period),
            None => self.reset(None, period),
        }
    }

    /// Makes this an interval timer firing at `start`, then every `period`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let mut t = bureau_reactor::Timer::never();
    /// t.set_interval_at(Instant::now(), Duration::from_secs(1));
    /// assert!(t.will_fire());
    /// ```
    pub fn set_interval_at(&mut self, start: Instant, period: Duration) {
        self.reset(Some(start), period);
    }

    /// Sets the next deadline and the period. A task awaiting the timer is
    /// woken for the new deadline as it would have been for the old one,
    /// without polling the timer again: a registration in the reactor is
    /// moved to the new deadline with the same waker. With no deadline, the
    /// registration is cancelled and the task is never woken.
    fn reset(&mut self, when: Option<Instant>, period: Duration) {
        self.when = when;
        self.period = period;
        let Some(when) = when else {
            self.deregister();
            return;
        };
        match self.registration.take() {
            // A registration in the reactor means the reactor exists.
            Some(Registration::Reactor(id, theirs)) => {
                self.registration = Reactor::existing().map(|r| {
                    let (id, theirs) = r.timers.reinsert(id, theirs, when, || r.notify());
                    Registration::Reactor(id, theirs)
                });
            }
            // The sleeper sleeps until the old deadline: the task is woken
            // now, and its next poll registers the timer for the new one.
            Some(Registration::Sleeper(waiter)) => {
                let waker = lock(&waiter).clone();
                wake_caught(waker);
            }
            #[cfg(loom)]
            Some(Registration::Virtual(timer)) => {
                self.registration = timer
                    .cancel()
                    .map(|w| Registration::Virtual(crate::loom_reactor::insert_timer(when, &w)));
            }
            None => {}
        }
    }

    /// Removes this timer's entry from the reactor, if it has one. (A
    /// sleeper thread just wakes a waker nobody waits on any more.)
    fn deregister(&mut self) {
        match self.registration.take() {
            Some(Registration::Reactor(id, waker)) => {
                if let Some(r) = Reactor::existing() {
                    r.timers.remove(id, waker);
                }
            }
            #[cfg(loom)]
            Some(Registration::Virtual(timer)) => drop(timer.cancel()),
            _ => {}
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.deregister();
    }
}

impl Stream for Timer {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        let this = self.get_mut();
        let Some(when) = this.when else {
            return Poll::Pending;
        };
        // Usually the reactor's turn took the entry out when it woke us, by
        // its own reading of the clock: then this poll needs no clock, no
        // lock and no removal. The fine clock costs as much as the rest of
        // a poll.
        let taken = match &this.registration {
            Some(Registration::Reactor(..)) => {
                Reactor::existing().is_some_and(|r| r.timers.expired(when))
            }
            #[cfg(loom)]
            Some(Registration::Virtual(timer)) => timer.fired(),
            _ => false,
        };
        // A deadline well ahead is known to be pending without the fine
        // clock either (`clock`). Only for a timer not registered yet: a
        // registered one may have been fired by the driver, and a wrong
        // "certainly before" would then leave it waiting for a wake that
        // already happened.
        // (The coarse clock is real time: never under loom's virtual clock.)
        let surely_pending =
            !cfg!(loom) && this.registration.is_none() && clock::certainly_before(when);
        if taken || (!surely_pending && now() >= when) {
            // Before anything changes: a timer told by the budget to wait
            // is left as it was, and fires at the task's next poll.
            futures_lite::ready!(bureau_coop::poll_budgeted(cx, |_| Poll::Ready(())));
            if taken {
                this.registration = None;
            } else {
                this.deregister();
            }
            this.when = when.checked_add(this.period);
            return Poll::Ready(Some(when));
        }
        ensure_driver();
        match &mut this.registration {
            Some(Registration::Reactor(id, w)) => {
                if !w.will_wake(cx.waker()) {
                    if let Some(r) = Reactor::existing() {
                        if !r.timers.update(*id, cx.waker()) {
                            // The driver fired the timer since the clock was
                            // read above, and woke the old waker: wake this
                            // one, whose poll then sees the deadline passed.
                            cx.waker().wake_by_ref();
                        }
                    }
                    w.clone_from(cx.waker());
                }
            }
            Some(Registration::Sleeper(w)) => {
                lock(w).clone_from(cx.waker());
                // The sleeper may have woken the old waker since the clock
                // was read above: it does so only once `when` has passed.
                if Instant::now() >= when {
                    cx.waker().wake_by_ref();
                }
            }
            #[cfg(loom)]
            Some(Registration::Virtual(timer)) => {
                if !timer.update(cx.waker()) {
                    // Fired since the clock was read above: the old waker
                    // was woken, so wake this one.
                    cx.waker().wake_by_ref();
                }
            }
            None => this.registration = register(when, cx.waker()),
        }
        Poll::Pending
    }
}

/// Registers a timer due at `when`: in the reactor's queue; or, if the
/// reactor cannot be created (say, the process is out of descriptors), on a
/// sleeper thread of its own, so the timer still fires on time. `None` if
/// not even a thread could be started: the next poll tries again.
#[cfg(not(loom))]
fn register(when: Instant, waker: &Waker) -> Option<Registration> {
    if let Ok(r) = Reactor::try_get() {
        let (id, ours) = r.timers.insert(when, waker, || r.notify());
        return Some(Registration::Reactor(id, ours));
    }
    sleep_on_thread(when, waker)
}

/// Registers a timer due at `when` on the virtual clock (under loom).
#[cfg(loom)]
fn register(when: Instant, waker: &Waker) -> Option<Registration> {
    let timer = crate::loom_reactor::insert_timer(when, waker);
    Some(Registration::Virtual(timer))
}

/// Starts a sleeper thread that wakes `waker` (or the waker a later poll
/// puts in its place) once `when` has passed; `None` if no thread could be
/// started.
fn sleep_on_thread(when: Instant, waker: &Waker) -> Option<Registration> {
    let shared = Arc::new(Mutex::new(waker.clone()));
    let theirs = shared.clone();
    let spawned = spawn_thread(
        "bureau-timer",
        Box::new(move || {
            // `sleep` never returns early, and the timer checks the clock.
            std::thread::sleep(when.saturating_duration_since(Instant::now()));
            // A panicking waker is reported by the panic hook; caught, it
            // ends this thread quietly, like a wake that returned.
            wake_caught(lock(&theirs).clone());
        }),
    );
    spawned.ok().map(|()| Registration::Sleeper(shared))
}

impl Future for Timer {
    type Output = Instant;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Instant> {
        match self.poll_next(cx) {
            Poll::Ready(Some(when)) => Poll::Ready(when),
            _ => Poll::Pending,
        }
    }
}

/// The error of [`timeout`]: the future did not finish in time.
///
/// ```
/// let e: std::io::Error = bureau_reactor::TimedOut.into();
/// assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut;

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operation timed out")
    }
}

impl std::error::Error for TimedOut {}

impl From<TimedOut> for io::Error {
    fn from(e: TimedOut) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, e)
    }
}

/// Runs `future` for at most `duration`: its output, or [`TimedOut`].
///
/// ```
/// use std::time::Duration;
/// use bureau_reactor::{timeout, TimedOut};
/// let r = futures_lite::future::block_on(timeout(Duration::from_millis(5), std::future::pending::<()>()));
/// assert_eq!(r, Err(TimedOut));
/// ```
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, TimedOut> {
    futures_lite::future::or(async { Ok(future.await) }, async {
        Timer::after(duration).await;
        Err(TimedOut)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Parker;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A waker that records that it was woken.
    struct Flag(AtomicBool);

    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// If the coarse clock lags more than `clock` assumes (a stalled tick,
    /// a preempted vCPU), a timer must still fire: late at worst.
    #[test]
    fn a_timer_fires_even_when_the_coarse_clock_lags_more_than_assumed() {
        clock::EXTRA_LAG.with(|l| l.set(Duration::from_secs(10)));
        // This thread drives the reactor itself, so no helper thread starts
        // and holds the driver while the reactor's own tests want it.
        let mut parker = Parker::new();
        let flag = Arc::new(Flag(AtomicBool::new(true)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut timer = Timer::after(Duration::from_millis(20));
        let start = Instant::now();
        loop {
            // Polled only when woken, as an executor would.
            if flag.0.swap(false, Ordering::SeqCst) && Pin::new(&mut timer).poll(&mut cx).is_ready()
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "a 20 ms timer had not fired after 3 s: lost"
            );
            parker.park(Some(Duration::from_millis(10)));
        }
    }

    /// Where the reactor could not be created, a timer waits on a sleeper
    /// thread that sleeps until the deadline it was registered for: moving
    /// the timer must wake its task, whose next poll registers it for the
    /// new deadline.
    #[test]
    fn moving_a_timer_that_waits_on_a_sleeper_thread_wakes_its_task() {
        let mut parker = Parker::new();
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let far = Instant::now() + Duration::from_secs(3600);
        let mut timer = Timer {
            when: Some(far),
            period: Duration::MAX,
            registration: sleep_on_thread(far, &waker),
        };
        assert!(matches!(timer.registration, Some(Registration::Sleeper(_))));
        let start = Instant::now();
        timer.set_after(Duration::from_millis(20));
        assert!(
            flag.0.load(Ordering::SeqCst),
            "the task was not woken to register the new deadline"
        );
        loop {
            if flag.0.swap(false, Ordering::SeqCst) && Pin::new(&mut timer).poll(&mut cx).is_ready()
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "a timer moved to 20 ms had not fired after 3 s: lost"
            );
            parker.park(Some(Duration::from_millis(10)));
        }
        assert!(start.elapsed() >= Duration::from_millis(20), "fired early");
    }

    /// The cooperative budget: a timer found expired in a poll whose budget
    /// is spent returns `Pending` and wakes its task, and is ready, for the
    /// same deadline, at the next poll; whether it was never registered or
    /// its registration was taken out by the reactor's turn.
    #[test]
    fn an_expired_timer_over_budget_is_ready_at_the_next_poll() {
        let mut parker = Parker::new();
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let unregistered = Timer::at(Instant::now());
        let mut registered = Timer::after(Duration::from_millis(5));
        assert!(Pin::new(&mut registered).poll_next(&mut cx).is_pending());
        let start = Instant::now();
        while !flag.0.swap(false, Ordering::SeqCst) {
            assert!(start.elapsed() < Duration::from_secs(3), "never fired");
            parker.park(Some(Duration::from_millis(10)));
        }
        for mut timer in [unregistered, registered] {
            let when = timer.when;
            let was_registered = timer.registration.is_some();
            let (polled, yielded) = bureau_coop::budgeted(|| {
                while bureau_coop::poll_budgeted(&mut cx, |_| Poll::Ready(())).is_ready() {}
                flag.0.store(false, Ordering::SeqCst);
                Pin::new(&mut timer).poll_next(&mut cx)
            });
            assert!(polled.is_pending() && yielded);
            assert!(flag.0.load(Ordering::SeqCst), "the task was not woken");
            assert_eq!(timer.when, when, "the deadline moved");
            assert_eq!(timer.registration.is_some(), was_registered);
            let polled = Pin::new(&mut timer).poll_next(&mut cx);
            assert_eq!(polled, Poll::Ready(when));
            assert!(!timer.will_fire());
        }
    }
}
