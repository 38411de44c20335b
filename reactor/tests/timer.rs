//! Timer behaviour at the reactor level: never early, in order, the
//! one-shot/interval methods, `timeout`, and a million pending timers.

mod common;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bureau_reactor::{Parker, TimedOut, Timer, Unparker, timeout};
use common::{block_on, bounded};
use futures_lite::StreamExt;
use futures_lite::future::{poll_fn, poll_once};

#[test]
fn after_never_fires_early() {
    bounded(10, || {
        for ms in [0u64, 1, 3, 10, 25] {
            let start = Instant::now();
            let fired = block_on(Timer::after(Duration::from_millis(ms)));
            assert!(start.elapsed() >= Duration::from_millis(ms));
            assert!(fired >= start + Duration::from_millis(ms));
        }
    });
}

#[test]
fn at_returns_its_deadline() {
    bounded(10, || {
        let when = Instant::now() + Duration::from_millis(5);
        assert_eq!(block_on(Timer::at(when)), when);
        assert!(Instant::now() >= when);
    });
}

#[test]
fn a_deadline_already_passed_is_ready_at_the_first_poll() {
    bounded(10, || {
        for _ in 0..1_000 {
            let now = Instant::now();
            let polled = futures_lite::future::block_on(poll_once(Timer::at(now)));
            assert_eq!(polled, Some(now), "no turn of the reactor needed");
            let polled = futures_lite::future::block_on(poll_once(Timer::after(Duration::ZERO)));
            assert!(polled.is_some(), "Timer::after(0) is ready at once");
        }
    });
}

#[test]
fn fires_within_a_millisecond_when_idle() {
    bounded(20, || {
        let mut best = Duration::MAX;
        let mut all = Vec::new();
        for _ in 0..20 {
            let when = Instant::now() + Duration::from_millis(3);
            block_on(Timer::at(when));
            let late = when.elapsed();
            all.push(late);
            best = best.min(late);
        }
        all.sort();
        eprintln!(
            "timer lateness: best {best:?}, median {:?}",
            all[all.len() / 2]
        );
        assert!(best < Duration::from_millis(1), "best lateness {best:?}");
    });
}

#[test]
fn one_shot_fires_once_and_never_is_never() {
    bounded(10, || {
        let mut t = Timer::after(Duration::from_millis(1));
        assert!(t.will_fire());
        block_on(&mut t);
        assert!(!t.will_fire());
        // A fired one-shot stays pending.
        assert_eq!(block_on(poll_once(&mut t)), None);
        assert!(!Timer::never().will_fire());
        let r = block_on(timeout(Duration::from_millis(5), Timer::never()));
        assert_eq!(r, Err(TimedOut));
        let r = block_on(timeout(Duration::from_millis(5), &mut t));
        assert_eq!(r, Err(TimedOut));
    });
}

#[test]
fn interval_fires_every_period_in_order() {
    bounded(10, || {
        let start = Instant::now();
        let period = Duration::from_millis(4);
        let mut t = Timer::interval(period);
        let ticks: Vec<Instant> = block_on(async { (&mut t).take(5).collect().await });
        for (i, tick) in ticks.iter().enumerate() {
            assert_eq!(*tick, ticks[0] + period * i as u32);
        }
        assert!(ticks[0] >= start + period);
        assert!(Instant::now() >= start + period * 5);
        assert!(t.will_fire());
    });
}

#[test]
fn interval_at_starts_at_start() {
    bounded(10, || {
        let start = Instant::now() + Duration::from_millis(3);
        let mut t = Timer::interval_at(start, Duration::from_millis(2));
        assert_eq!(block_on(t.next()), Some(start));
        assert_eq!(block_on(t.next()), Some(start + Duration::from_millis(2)));
    });
}

#[test]
fn set_methods_replace_the_deadline() {
    bounded(10, || {
        let mut t = Timer::after(Duration::from_secs(3600));
        // Register the far deadline, then move it close.
        assert_eq!(block_on(poll_once(&mut t)), None);
        t.set_after(Duration::from_millis(2));
        let start = Instant::now();
        block_on(&mut t);
        assert!(start.elapsed() >= Duration::from_millis(2));
        assert!(start.elapsed() < Duration::from_secs(5));

        let when = Instant::now() + Duration::from_millis(2);
        t.set_at(when);
        assert_eq!(block_on(&mut t), when);

        t.set_interval(Duration::from_millis(1));
        block_on(t.next());
        block_on(t.next());
        assert!(t.will_fire());

        let start = Instant::now();
        t.set_interval_at(start, Duration::from_millis(1));
        assert_eq!(block_on(t.next()), Some(start));
    });
}

/// A task's waker: marks the task woken and unparks the loop.
struct TaskWaker {
    woken: AtomicBool,
    unparker: Unparker,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.unparker.unpark();
    }
}

/// Runs `tasks` on this thread as an executor does: each is polled once,
/// then only when its own waker was woken, and the thread parks in the
/// reactor in between; returns when all have finished.
fn run_tasks(mut tasks: Vec<Pin<Box<dyn Future<Output = ()>>>>) {
    let mut parker = Parker::new();
    let wakers: Vec<Arc<TaskWaker>> = tasks
        .iter()
        .map(|_| {
            Arc::new(TaskWaker {
                woken: AtomicBool::new(true),
                unparker: parker.unparker(),
            })
        })
        .collect();
    let mut done = vec![false; tasks.len()];
    while done.contains(&false) {
        for (i, task) in tasks.iter_mut().enumerate() {
            if !done[i] && wakers[i].woken.swap(false, Ordering::SeqCst) {
                let waker = Waker::from(wakers[i].clone());
                done[i] = task
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_ready();
            }
        }
        if done.contains(&false) {
            parker.park(None);
        }
    }
}

/// One task awaits a timer first set with `first`; another, once `delay`
/// has passed, moves it with `set` (which returns the new deadline). The
/// first task is never polled unless woken, as under an executor. Returns
/// the new deadline, the deadline the timer fired for, and when the
/// awaiting task saw it fire.
fn move_an_awaited_timer(
    first: Timer,
    delay: Duration,
    set: impl FnOnce(&mut Timer) -> Instant + 'static,
) -> (Instant, Instant, Instant) {
    let timer = Rc::new(RefCell::new(first));
    let fired = Rc::new(Cell::new(None));
    let moved = Rc::new(Cell::new(None));
    let waiter = {
        let (timer, fired) = (timer.clone(), fired.clone());
        async move {
            let at = poll_fn(|cx| Pin::new(&mut *timer.borrow_mut()).poll(cx)).await;
            fired.set(Some((at, Instant::now())));
        }
    };
    let setter = {
        let moved = moved.clone();
        async move {
            Timer::after(delay).await;
            moved.set(Some(set(&mut timer.borrow_mut())));
        }
    };
    run_tasks(vec![Box::pin(waiter), Box::pin(setter)]);
    let (at, seen) = fired.get().expect("the waiter finished");
    (moved.get().expect("the setter finished"), at, seen)
}

#[test]
fn set_after_on_an_awaited_timer_wakes_its_task_at_the_new_deadline() {
    bounded(5, || {
        // The old deadline is far beyond the bound: only a wake for the
        // new one lets the test finish.
        let (new, at, seen) = move_an_awaited_timer(
            Timer::after(Duration::from_secs(3600)),
            Duration::from_millis(100),
            |t| {
                let set = Instant::now();
                t.set_after(Duration::from_millis(100));
                set + Duration::from_millis(100)
            },
        );
        assert!(
            at >= new,
            "fired for {at:?}, before the new deadline {new:?}"
        );
        assert!(seen >= at, "seen before its deadline");
    });
}

#[test]
fn every_set_method_moves_an_awaited_timer_earlier_or_later() {
    bounded(10, || {
        let ms = Duration::from_millis;
        type Set = fn(&mut Timer, Instant);
        let methods: [(&str, Set); 4] = [
            ("set_after", |t, when| t.set_after(when - Instant::now())),
            ("set_at", |t, when| t.set_at(when)),
            ("set_interval", |t, when| {
                t.set_interval(when - Instant::now())
            }),
            ("set_interval_at", |t, when| {
                t.set_interval_at(when, Duration::from_secs(3600))
            }),
        ];
        for (name, method) in methods {
            // Earlier than a far deadline; later than a near one, which
            // passes while the timer waits for the new one.
            for (first, to) in [(ms(3_600_000), ms(50)), (ms(20), ms(150))] {
                let (new, at, seen) =
                    move_an_awaited_timer(Timer::after(first), Duration::ZERO, move |t| {
                        let when = Instant::now() + to;
                        method(t, when);
                        when
                    });
                assert!(
                    at >= new,
                    "{name} to {to:?}: fired for {at:?}, before {new:?}"
                );
                assert!(seen >= at, "{name}: seen before its deadline");
            }
        }
    });
}

#[test]
fn timeout_passes_the_output_through() {
    bounded(10, || {
        let r = block_on(timeout(Duration::from_secs(5), async { 7 }));
        assert_eq!(r, Ok(7));
        let e: std::io::Error = TimedOut.into();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        let _: &dyn std::error::Error = &TimedOut;
    });
}

#[test]
fn timer_under_futures_lite_block_on_uses_the_helper() {
    bounded(10, || {
        let start = Instant::now();
        futures_lite::future::block_on(Timer::after(Duration::from_millis(5)));
        assert!(start.elapsed() >= Duration::from_millis(5));
    });
}

#[test]
fn timer_made_on_one_thread_fires_on_another() {
    bounded(10, || {
        let t = Timer::after(Duration::from_millis(5));
        let when = std::thread::spawn(move || block_on(t)).join().unwrap();
        assert!(Instant::now() >= when);
    });
}

#[test]
fn a_hundred_thousand_timers_fire_in_deadline_order_none_early() {
    bounded(60, || {
        let n = 100_000u32;
        // Far enough out that registering them all (slow in debug builds)
        // ends before the first deadline.
        let base = Instant::now() + Duration::from_secs(1);
        // Deadlines spread over 200 ms, inserted in a scrambled order.
        let mut timers: Vec<(Instant, Timer)> = (0..n)
            .map(|i| {
                let j = (i as u64 * 7919) % n as u64;
                let when = base + Duration::from_micros(j * 2);
                (when, Timer::at(when))
            })
            .collect();
        let fired = block_on(FireOrder {
            timers: &mut timers,
            order: Vec::new(),
            pending: n as usize,
            woken: Arc::default(),
            wakers: Vec::new(),
        });
        let mut last = None;
        for (when, at) in fired {
            assert!(at >= when, "fired early");
            if let Some(prev) = last {
                assert!(when >= prev, "out of deadline order");
            }
            last = Some(when);
        }
    });
}

/// Polls each timer with its own waker, then only the timers whose wakers
/// the reactor woke, in wake order; records (deadline, when seen) as they
/// complete.
struct FireOrder<'a> {
    timers: &'a mut Vec<(Instant, Timer)>,
    order: Vec<(Instant, Instant)>,
    pending: usize,
    woken: Arc<Mutex<Vec<usize>>>,
    wakers: Vec<Waker>,
}

/// Logs which timer's waker was woken, then wakes the test's future.
struct Logged {
    index: usize,
    log: Arc<Mutex<Vec<usize>>>,
    outer: Waker,
}

impl Wake for Logged {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.index);
        self.outer.wake_by_ref();
    }
}

impl std::future::Future for FireOrder<'_> {
    type Output = Vec<(Instant, Instant)>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let to_poll: Vec<usize> = if this.wakers.is_empty() {
            this.wakers = (0..this.timers.len())
                .map(|index| {
                    Waker::from(Arc::new(Logged {
                        index,
                        log: this.woken.clone(),
                        outer: cx.waker().clone(),
                    }))
                })
                .collect();
            (0..this.timers.len()).collect()
        } else {
            std::mem::take(&mut *this.woken.lock().unwrap())
        };
        for i in to_poll {
            let (when, t) = &mut this.timers[i];
            let mut tcx = Context::from_waker(&this.wakers[i]);
            if Pin::new(t).poll(&mut tcx).is_ready() {
                this.order.push((*when, Instant::now()));
                this.pending -= 1;
            }
        }
        if this.pending == 0 {
            Poll::Ready(std::mem::take(&mut this.order))
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn a_million_pending_timers_fit_and_cancel() {
    bounded(120, || {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let far = Instant::now() + Duration::from_secs(3600);
        let start = Instant::now();
        let mut timers: Vec<Timer> = (0..1_000_000u64)
            .map(|i| Timer::at(far + Duration::from_nanos(i)))
            .collect();
        for t in &mut timers {
            assert!(Pin::new(t).poll(&mut cx).is_pending());
        }
        let inserted = start.elapsed();
        drop(timers);
        eprintln!(
            "1,000,000 timers: inserted in {inserted:?}, all in {:?}",
            start.elapsed()
        );
        // The queue is empty again: a short timer still fires promptly.
        let start = Instant::now();
        block_on(Timer::after(Duration::from_millis(1)));
        assert!(start.elapsed() < Duration::from_secs(1));
    });
}
