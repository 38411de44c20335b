//! Loom models of the executor's cross-thread wakeup path: a wake from another
//! thread is never lost, and a sleeping loop always wakes up for it.
//!
//! Each model runs the real `LocalExecutor::block_on`, run queue and sleep
//! protocol on loom's atomics; the model only supplies tasks, the threads that
//! wake them, and (model 4) a stand-in for the reactor's poller. loom reports
//! a loop asleep on queued work as a deadlock. This file must never copy the
//! executor's code: a model that checks a copy proves nothing.
//!
//! async-task keeps each task's state in atomics loom cannot see. So the
//! tasks here read their flags with read-modify-writes, which see the latest
//! value whatever async-task's hidden synchronisation did, and the threads
//! set them with swaps (loom 0.7 can build impossible histories when a plain
//! store races a read-modify-write of the same atomic: tokio-rs/loom#254).
//! The models check what we own: the schedule function, the queues, the
//! sleep protocol and the park/unpark handshake.
//!
//! Teeth: built with `--cfg bureau_loom_broken="..."`, the executor carries a
//! deliberate bug, and `loom_catches_the_broken_variant` asserts that loom
//! fails every model; `loom_catches_a_poller_that_forgets_early_notifies`
//! does the same for a broken stand-in poller in any build.
#![cfg(loom)]

use bureau_executor::{LocalExecutor, Park, ThreadParker, Unpark};
use futures_lite::future;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use std::cell::Cell;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

/// The preemption bound of every model unless `LOOM_MAX_PREEMPTIONS` says
/// otherwise. Every broken variant is caught with 3; 5 runs all the models
/// in about 30 s on two cores, and each extra preemption costs about 3x.
const PREEMPTIONS: usize = 5;

/// Explores every interleaving of `model` within the preemption bound.
fn check(model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound.get_or_insert(PREEMPTIONS);
    builder.check(model);
}

/// A task that is ready once every flag in `ready` is set, counting its polls
/// in `polls`; its first poll hands its waker to `on_first_poll`.
async fn wait_for(
    ready: Vec<Arc<AtomicBool>>,
    polls: Rc<Cell<usize>>,
    on_first_poll: impl FnOnce(&Waker),
) {
    let mut on_first_poll = Some(on_first_poll);
    future::poll_fn(|cx| {
        polls.set(polls.get() + 1);
        if ready
            .iter()
            .all(|flag| flag.fetch_or(false, Ordering::AcqRel))
        {
            return Poll::Ready(());
        }
        if let Some(on_first_poll) = on_first_poll.take() {
            on_first_poll(cx.waker());
        }
        Poll::Pending
    })
    .await
}

/// A new flag, not set.
fn flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

/// Spawns a thread that sets `flag` and then wakes `waker`.
///
/// No model joins its threads (loom runs each to its end anyway): loom's
/// `unpark` would end a `join` early, and a late wake of the loop's thread
/// is allowed.
fn set_and_wake(flag: &Arc<AtomicBool>, waker: &Waker) {
    let (flag, waker) = (flag.clone(), waker.clone());
    thread::spawn(move || {
        flag.swap(true, Ordering::AcqRel);
        waker.wake();
    });
}

/// Model 1: the loop finds no work and parks in the real `ThreadParker`
/// while another thread wakes its task; the task runs, polled once to start
/// and once for the wake.
#[test]
fn park_then_remote_wake() {
    check(|| {
        let ex = LocalExecutor::new();
        let (ready, polls) = (flag(), Rc::new(Cell::new(0)));
        let task = ex.spawn(wait_for(vec![ready.clone()], polls.clone(), move |waker| {
            set_and_wake(&ready, waker)
        }));
        ex.block_on(&mut ThreadParker::new(), task);
        assert_eq!(polls.get(), 2);
    });
}

/// Model 1 again, with one thread waking two tasks one after the other: the
/// second wake may land while the loop handles the first.
#[test]
fn park_then_two_remote_wakes() {
    check(|| {
        let ex = LocalExecutor::new();
        let ready = [flag(), flag()];
        let polls = [(); 2].map(|()| Rc::new(Cell::new(0)));
        // The first task hands its waker to the second, whose thread wakes
        // them both.
        let first_waker = Rc::new(Cell::new(None));
        let first = ex.spawn(wait_for(vec![ready[0].clone()], polls[0].clone(), {
            let first_waker = first_waker.clone();
            move |waker| first_waker.set(Some(waker.clone()))
        }));
        let second = ex.spawn(wait_for(vec![ready[1].clone()], polls[1].clone(), {
            let ready = ready.clone();
            move |second_waker| {
                let first_waker: Waker = first_waker.take().unwrap();
                let second_waker = second_waker.clone();
                thread::spawn(move || {
                    ready[0].swap(true, Ordering::AcqRel);
                    first_waker.wake();
                    ready[1].swap(true, Ordering::AcqRel);
                    second_waker.wake();
                });
            }
        }));
        ex.block_on(&mut ThreadParker::new(), async {
            first.await;
            second.await;
        });
        assert_eq!(polls.map(|polls| polls.get()), [2, 2]);
    });
}

/// Model 2: two threads wake the same task at once. It is polled once more
/// per wake at most (async-task merges wakes that find it already queued)
/// and at least once after both: no double poll, no lost wake.
#[test]
fn two_threads_wake_one_task() {
    check(|| {
        let ex = LocalExecutor::new();
        let (ready, polls) = ([flag(), flag()], Rc::new(Cell::new(0)));
        let task = ex.spawn(wait_for(ready.to_vec(), polls.clone(), move |waker| {
            for flag in &ready {
                set_and_wake(flag, waker);
            }
        }));
        ex.block_on(&mut ThreadParker::new(), task);
        assert!(
            (2..=3).contains(&polls.get()),
            "polled {} times",
            polls.get()
        );
    });
}

/// Model 1 once more, with the executor asleep twice over: `block_on`'s
/// future is `run` on the same executor, so the loop parks while that future
/// sleeps too. A remote wake must still end the park.
#[test]
fn park_under_a_sleeping_run_of_the_same_executor() {
    check(|| {
        let ex = LocalExecutor::new();
        let (ready, polls) = (flag(), Rc::new(Cell::new(0)));
        let task = ex.spawn(wait_for(vec![ready.clone()], polls.clone(), move |waker| {
            set_and_wake(&ready, waker)
        }));
        ex.block_on(&mut ThreadParker::new(), ex.run(task));
        assert_eq!(polls.get(), 2);
    });
}

/// `run` as a future of some other loop (here a minimal `block_on` on loom's
/// park): the executor sleeps through that loop's waker, and a remote wake
/// must reach it.
#[test]
fn run_as_a_future_of_another_loop() {
    check(|| {
        let ex = LocalExecutor::new();
        let (ready, polls) = (flag(), Rc::new(Cell::new(0)));
        let task = ex.spawn(wait_for(vec![ready.clone()], polls.clone(), move |waker| {
            set_and_wake(&ready, waker)
        }));
        let outer = Waker::from(std::sync::Arc::new(UnparkThread(thread::current())));
        let mut cx = std::task::Context::from_waker(&outer);
        let mut run = std::pin::pin!(ex.run(task));
        while run.as_mut().poll(&mut cx).is_pending() {
            thread::park();
        }
        assert_eq!(polls.get(), 2);
    });
}

/// The waker of the loop above.
struct UnparkThread(thread::Thread);

impl std::task::Wake for UnparkThread {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

/// Stands in for `polling::Poller` as a reactor's parker uses it: `notify`,
/// from any thread, makes the current `wait` return, or the next one if none
/// is in progress; readiness events also end a wait and are handed back.
struct Poller {
    state: Mutex<PollerState>,
    wakeup: Condvar,
    /// The broken variant for the teeth: a notify that finds no thread
    /// waiting is lost, as with a bare condition variable.
    forgets_early_notifies: bool,
}

#[derive(Default)]
struct PollerState {
    notified: bool,
    waiting: bool,
    /// The wakers of the sources that became ready.
    events: Vec<Waker>,
}

impl Poller {
    fn new(forgets_early_notifies: bool) -> Arc<Self> {
        Arc::new(Poller {
            state: Mutex::new(PollerState::default()),
            wakeup: Condvar::new(),
            forgets_early_notifies,
        })
    }

    fn notify(&self) {
        let mut state = self.state.lock().unwrap();
        if state.waiting || !self.forgets_early_notifies {
            state.notified = true;
        }
        self.wakeup.notify_one();
    }

    /// What the kernel does when a source becomes ready.
    fn ready(&self, waker: Waker) {
        self.state.lock().unwrap().events.push(waker);
        self.wakeup.notify_one();
    }

    /// Waits for a notify or events (or not at all, given a zero timeout),
    /// and returns the events.
    fn wait(&self, timeout: Option<Duration>) -> Vec<Waker> {
        let mut state = self.state.lock().unwrap();
        state.waiting = true;
        while timeout.is_none() && !state.notified && state.events.is_empty() {
            state = self.wakeup.wait(state).unwrap();
        }
        state.waiting = false;
        state.notified = false;
        std::mem::take(&mut state.events)
    }
}

/// A reactor's parker around the stand-in poller: it waits in the poller
/// and wakes the tasks whose sources became ready, on the loop's thread.
struct ReactorParker(Arc<Poller>);

/// Its unparker: a `Poller::notify`.
struct Notify(Arc<Poller>);

impl Park for ReactorParker {
    type Unparker = Notify;

    fn unparker(&self) -> Notify {
        Notify(self.0.clone())
    }

    fn park(&mut self, timeout: Option<Duration>) {
        for waker in self.0.wait(timeout) {
            waker.wake();
        }
    }
}

impl Unpark for Notify {
    fn unpark(&self) {
        self.0.notify();
    }
}

/// Model 4: the loop sleeps in a poller. One task waits for a source that a
/// "kernel" thread makes ready (the wake happens during the park, on the
/// loop's own thread), another is woken from a thread (a `Poller::notify`
/// ends the park). Both run.
fn sleep_in_the_poller(forgets_early_notifies: bool) {
    check(move || {
        let ex = LocalExecutor::new();
        let poller = Poller::new(forgets_early_notifies);
        let (io_ready, woken) = (flag(), flag());
        let polls = [(); 2].map(|()| Rc::new(Cell::new(0)));
        let io = ex.spawn(wait_for(vec![io_ready.clone()], polls[0].clone(), {
            let poller = poller.clone();
            move |waker| {
                let waker = waker.clone();
                thread::spawn(move || {
                    io_ready.swap(true, Ordering::AcqRel);
                    poller.ready(waker);
                });
            }
        }));
        let remote = ex.spawn(wait_for(
            vec![woken.clone()],
            polls[1].clone(),
            move |waker| set_and_wake(&woken, waker),
        ));
        ex.block_on(&mut ReactorParker(poller), async {
            io.await;
            remote.await;
        });
        assert_eq!(polls.map(|polls| polls.get()), [2, 2]);
    });
}

#[test]
fn sleep_in_a_poller() {
    sleep_in_the_poller(false);
}

/// The model above with a poller that forgets a notify sent before its
/// wait; only `loom_catches_a_poller_that_forgets_early_notifies` runs it.
#[test]
#[ignore = "must fail: run by loom_catches_a_poller_that_forgets_early_notifies"]
fn sleep_in_a_forgetful_poller() {
    sleep_in_the_poller(true);
}

#[test]
fn loom_catches_a_poller_that_forgets_early_notifies() {
    assert_loom_fails(&["sleep_in_a_forgetful_poller", "--ignored"]);
}

/// Under a broken variant of the executor, loom must fail every model.
#[test]
#[cfg(any(
    bureau_loom_broken = "sleep_without_recheck",
    bureau_loom_broken = "notify_before_push",
    bureau_loom_broken = "relaxed_notify",
))]
fn loom_catches_the_broken_variant() {
    for model in [
        "park_then_remote_wake",
        "park_then_two_remote_wakes",
        "two_threads_wake_one_task",
        "park_under_a_sleeping_run_of_the_same_executor",
        "run_as_a_future_of_another_loop",
        "sleep_in_a_poller",
    ] {
        assert_loom_fails(&[model]);
    }
}

/// Runs one test of this binary in a child process and asserts that loom
/// reported a lost wakeup. A child, because the failing model unwinds
/// through async-task's abort-on-panic guards and aborts its process.
fn assert_loom_fails(test_and_flags: &[&str]) {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "--test-threads=1", "--nocapture"])
        .args(test_and_flags)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("deadlock"),
        "loom did not find the lost wakeup in {test_and_flags:?}:\n{stderr}"
    );
}
