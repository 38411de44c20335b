//! Loom models of the reactor's `Parker`: an unpark from another thread is
//! never lost, the role of driving the reactor is handed over when its driver
//! leaves, and a non-blocking park never blocks.
//!
//! Each model runs the real `Parker`/`Unparker` (its state machine, the
//! would-be-driver list and the hand-over) on loom's primitives, against the
//! crate's stand-in reactor (`bureau_reactor::loom_reactor`), whose poller
//! has `polling::Poller`'s wait/notify semantics and whose "kernel"
//! (`io_ready`) reports a readiness event to whichever thread drives. loom
//! reports a thread asleep with nobody left to wake it as a deadlock. This
//! file must never copy the parker's code: a model that checks a copy proves
//! nothing.
//!
//! Timeouts: loom has no clock, so the models park with `None` or
//! `Some(Duration::ZERO)` only (a positive timeout would spin).
//!
//! Teeth: built with `--cfg bureau_loom_broken="parker_..."`, the parker
//! carries a deliberate bug, and `loom_catches_the_broken_variant` asserts
//! that loom fails the model meant to catch it.
#![cfg(loom)]

use bureau_reactor::{Parker, Unparker, loom_reactor};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use std::task::{Wake, Waker};
use std::time::Duration;

/// The preemption bound of the small models (one parker) unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise: each runs in under a second.
const SMALL: usize = 6;

/// The preemption bound of the two-parker model: about 20 s with 4 on two
/// cores (3: 1 s; 5: 2.5 min). Every broken variant is caught with 3.
const TWO_PARKERS: usize = 4;

/// Explores every interleaving of `model` within `preemptions`.
fn check(preemptions: usize, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound.get_or_insert(preemptions);
    builder.check(model);
}

/// Counts the model's threads that have finished, each after dropping its
/// `Parker`. The main thread waits for them all before it returns, because
/// loom drops its lazy statics (the would-be-driver list, the stand-in
/// reactor) as soon as the model's closure returns. It waits on a condition
/// variable in a loop rather than `join`s, because loom's `unpark` (a late
/// hand-over, say) ends any blocking wait of its target early; and it does
/// not spin, so that a thread left asleep shows as a deadlock.
#[derive(Clone, Default)]
struct Finished(Arc<(Mutex<usize>, Condvar)>);

impl Finished {
    /// Spawns a thread running `f`, counted when `f` has returned.
    fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        let this = self.clone();
        thread::spawn(move || {
            f();
            *this.0.0.lock().unwrap() += 1;
            this.0.1.notify_all();
        });
    }

    /// Waits until `n` threads have finished.
    fn wait(&self, n: usize) {
        let mut count = self.0.0.lock().unwrap();
        while *count < n {
            count = self.0.1.wait(count).unwrap();
        }
    }
}

/// A new flag, not set.
fn flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

/// Whether `flag` is set (a read-modify-write, so it reads the newest value:
/// a stale read would only add spurious parks, which the loops absorb, but
/// would make loom explore them too).
fn is_set(flag: &AtomicBool) -> bool {
    flag.fetch_or(false, Ordering::AcqRel)
}

/// Parks on `parker` until `flag` is set; spurious returns are allowed.
fn park_until(parker: &mut Parker, flag: &AtomicBool) {
    while !is_set(flag) {
        parker.park(None);
    }
}

/// What a task's waker does here: sets its flag, then unparks its thread.
struct SetAndUnpark(Arc<AtomicBool>, Unparker);

impl Wake for SetAndUnpark {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.swap(true, Ordering::AcqRel);
        self.1.unpark();
    }
}

/// A waker that sets `flag` and unparks `unparker`.
fn waker(flag: &Arc<AtomicBool>, unparker: Unparker) -> Waker {
    Waker::from(std::sync::Arc::new(SetAndUnpark(flag.clone(), unparker)))
}

/// Model (a): the only parker drives, so it sleeps in the (stand-in) poller,
/// or is about to, or has not parked yet, when another thread unparks it.
/// Every interleaving ends with the park returned.
#[test]
fn remote_unpark_ends_the_park() {
    check(SMALL, || {
        let finished = Finished::default();
        let mut parker = Parker::new();
        let done = flag();
        let wake = waker(&done, parker.unparker());
        finished.spawn(move || wake.wake());
        park_until(&mut parker, &done);
        drop(parker);
        finished.wait(1);
    });
}

/// Model (b): two threads park at once; one drives, the other waits as a
/// would-be driver in `thread::park`. A third thread unparks the first,
/// then reports an I/O event for the second (which only a driver can
/// receive, so the first may be gone before it exists). Whichever drove, both parks end: a driver that returns and stops
/// parking hands the role over, and no thread is left asleep while an
/// unpark or an event is pending for it.
#[test]
fn the_driver_role_is_handed_over() {
    check(TWO_PARKERS, || {
        let finished = Finished::default();
        let mut first = Parker::new();
        let first_done = flag();
        let wake_first = waker(&first_done, first.unparker());
        let second_done = flag();
        finished.spawn({
            let (second_done, finished) = (second_done.clone(), finished.clone());
            move || {
                let mut second = Parker::new();
                let wake_second = waker(&second_done, second.unparker());
                finished.spawn(move || {
                    wake_first.wake();
                    loom_reactor::io_ready(wake_second);
                });
                park_until(&mut second, &second_done);
            }
        });
        park_until(&mut first, &first_done);
        // The first thread leaves: its parker is dropped.
        drop(first);
        finished.wait(2);
    });
}

/// Model (c): a non-blocking park (`Some(Duration::ZERO)`) never blocks,
/// whether it drives a non-blocking turn or finds another thread driving:
/// the main thread sleeps until the other's non-blocking park has returned.
#[test]
fn a_non_blocking_park_never_blocks() {
    check(SMALL, || {
        let finished = Finished::default();
        let mut parker = Parker::new();
        let done = flag();
        let wake = waker(&done, parker.unparker());
        finished.spawn(move || {
            let mut other = Parker::new();
            other.park(Some(Duration::ZERO));
            drop(other);
            wake.wake();
        });
        park_until(&mut parker, &done);
        drop(parker);
        finished.wait(1);
    });
}

/// Model (c'): the driver's own wakes cost no `Poller::notify`: the parker
/// is back to `RUNNING` before its turn wakes anything, so a waker that
/// unparks the driving thread itself finds it awake.
#[test]
fn the_drivers_own_wakes_cost_no_notify() {
    check(SMALL, || {
        let finished = Finished::default();
        let mut parker = Parker::new();
        let done = flag();
        let wake = waker(&done, parker.unparker());
        finished.spawn(move || loom_reactor::io_ready(wake));
        park_until(&mut parker, &done);
        drop(parker);
        finished.wait(1);
        assert_eq!(loom_reactor::notifies(), 0, "a wake of our own notified");
    });
}

/// The teeth: under `--cfg bureau_loom_broken="..."` loom must fail the
/// model that the variant breaks. Each runs in a child process so that the
/// failure is observed rather than fatal.
#[test]
fn loom_catches_the_broken_variant() {
    let model = if cfg!(bureau_loom_broken = "parker_drive_overwrites_notified") {
        "remote_unpark_ends_the_park"
    } else if cfg!(bureau_loom_broken = "parker_hand_off_before_release") {
        "the_driver_role_is_handed_over"
    } else if cfg!(bureau_loom_broken = "parker_wait_ignores_deadline") {
        "a_non_blocking_park_never_blocks"
    } else if cfg!(bureau_loom_broken = "parker_empty_after_wakes") {
        "the_drivers_own_wakes_cost_no_notify"
    } else {
        return;
    };
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "--test-threads=1", "--nocapture", model])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success()
            && (stderr.contains("deadlock") || stderr.contains("own notified")),
        "loom did not catch the broken variant in {model}:\n{stderr}"
    );
}
