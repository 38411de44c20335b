//! The promises of API.md's "Running" and "Tasks" sections: block_on, spawn,
//! yield_now, LocalExecutor, and what a Task does when awaited, dropped,
//! cancelled, detached or panicking.

use bureau::{LocalExecutor, Task, block_on, spawn, yield_now};
use bureau_executor::{Park, ThreadParker, Unpark};
use futures_lite::future;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Poll, Waker};
use std::time::Duration;

#[test]
fn block_on_returns_the_output() {
    bounded(10, || {
        assert_eq!(block_on(async { 1 + 1 }), 2);
    });
}

#[test]
fn spawned_tasks_run_while_block_on_waits() {
    bounded(10, || {
        let out = block_on(async {
            let (tx, rx) = async_oneshot();
            spawn(async move { tx.set(5) }).detach();
            rx.await
        });
        assert_eq!(out, 5);
    });
}

/// A single-threaded one-shot channel made of an `Rc`: enough to prove that a
/// detached task runs while `block_on` waits on something else.
fn async_oneshot() -> (Sender, impl Future<Output = u32>) {
    let slot: Rc<Slot> = Rc::default();
    let rx = {
        let slot = slot.clone();
        future::poll_fn(move |cx| match slot.0.get() {
            Some(v) => Poll::Ready(v),
            None => {
                *slot.1.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    };
    (Sender(slot), rx)
}

type Slot = (Cell<Option<u32>>, RefCell<Option<Waker>>);

struct Sender(Rc<Slot>);

impl Sender {
    fn set(self, v: u32) {
        self.0.0.set(Some(v));
        if let Some(w) = self.0.1.borrow_mut().take() {
            w.wake();
        }
    }
}

#[test]
fn a_million_tasks_spawned_and_awaited() {
    let total = bounded(60, || {
        block_on(async {
            let tasks: Vec<Task<u64>> =
                (0..1_000_000u64).map(|i| spawn(async move { i })).collect();
            let mut total = 0;
            for task in tasks {
                total += task.await;
            }
            total
        })
    });
    assert_eq!(total, 999_999 * 1_000_000 / 2);
}

#[test]
fn not_send_futures_run() {
    bounded(10, || {
        let out = block_on(async {
            let shared = Rc::new(RefCell::new(Vec::new()));
            let tasks: Vec<_> = (0..3)
                .map(|i| {
                    let shared = shared.clone();
                    spawn(async move {
                        yield_now().await;
                        shared.borrow_mut().push(i);
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
            shared.take()
        });
        assert_eq!(out, vec![0, 1, 2]);
    });
}

#[test]
fn a_waker_called_from_another_thread_wakes_a_sleeping_loop() {
    bounded(10, || {
        block_on(async {
            for round in 0..1_000 {
                let mut sent = false;
                future::poll_fn(|cx| {
                    if sent {
                        return Poll::Ready(());
                    }
                    sent = true;
                    let waker = cx.waker().clone();
                    std::thread::spawn(move || {
                        if round % 2 == 0 {
                            std::thread::yield_now();
                        }
                        waker.wake();
                    });
                    Poll::Pending
                })
                .await;
            }
        })
    });
}

#[test]
fn wakes_from_another_thread_reach_spawned_tasks() {
    let woken = bounded(10, || {
        block_on(async {
            let count = Rc::new(Cell::new(0));
            let tasks: Vec<_> = (0..100)
                .map(|_| {
                    let count = count.clone();
                    spawn(async move {
                        let (tx, rx) = mpsc::channel::<()>();
                        let mut waiting = false;
                        future::poll_fn(|cx| {
                            if waiting && rx.try_recv().is_ok() {
                                return Poll::Ready(());
                            }
                            if !waiting {
                                waiting = true;
                                let waker = cx.waker().clone();
                                let tx = tx.clone();
                                std::thread::spawn(move || {
                                    let _ = tx.send(());
                                    waker.wake();
                                });
                            }
                            Poll::Pending
                        })
                        .await;
                        count.set(count.get() + 1);
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
            count.get()
        })
    });
    assert_eq!(woken, 100);
}

#[test]
fn dropping_a_task_cancels_it() {
    bounded(10, || {
        block_on(async {
            let started = Rc::new(Cell::new(false));
            let ran = Rc::new(Cell::new(false));
            let dropped = Rc::new(Cell::new(false));
            let guard = DropFlag(dropped.clone());
            let (release, released) = async_oneshot();
            let task = spawn({
                let started = started.clone();
                let ran = ran.clone();
                async move {
                    let _guard = guard;
                    started.set(true);
                    released.await;
                    ran.set(true);
                }
            });
            while !started.get() {
                yield_now().await;
            }
            drop(task);
            release.set(1);
            for _ in 0..3 {
                yield_now().await;
            }
            assert!(!ran.get(), "a dropped task went on running");
            assert!(dropped.get(), "a dropped task's future was not dropped");
        });
    });
}

struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn cancel_returns_the_output_only_if_finished() {
    bounded(10, || {
        block_on(async {
            let pending = spawn(future::pending::<u8>());
            assert_eq!(pending.cancel().await, None);
            let done = spawn(async { 9u8 });
            yield_now().await;
            assert!(done.is_finished());
            assert_eq!(done.cancel().await, Some(9));
        });
    });
}

#[test]
fn detached_tasks_run_to_completion() {
    bounded(10, || {
        let ran = block_on(async {
            let ran = Rc::new(Cell::new(0));
            for _ in 0..10 {
                let ran = ran.clone();
                spawn(async move {
                    yield_now().await;
                    ran.set(ran.get() + 1);
                })
                .detach();
            }
            while ran.get() < 10 {
                yield_now().await;
            }
            ran.get()
        });
        assert_eq!(ran, 10);
    });
}

#[test]
fn is_finished_tracks_completion() {
    bounded(10, || {
        block_on(async {
            let task = spawn(async {
                yield_now().await;
            });
            assert!(!task.is_finished());
            while !task.is_finished() {
                yield_now().await;
            }
            task.await;
        });
    });
}

#[test]
fn a_task_that_yields_forever_does_not_starve_others() {
    bounded(10, || {
        block_on(async {
            spawn(async {
                loop {
                    yield_now().await;
                }
            })
            .detach();
            let others: Vec<_> = (0..10)
                .map(|i| {
                    spawn(async move {
                        for _ in 0..100 {
                            yield_now().await;
                        }
                        i
                    })
                })
                .collect();
            for (i, task) in others.into_iter().enumerate() {
                assert_eq!(task.await, i);
            }
        })
    });
}

/// A parker that counts its turns and the unparks it receives.
struct CountingParker {
    inner: ThreadParker,
    turns: Rc<RefCell<Vec<usize>>>,
    polls: Rc<Cell<usize>>,
    unparks: Arc<AtomicUsize>,
}

struct CountingUnparker {
    inner: <ThreadParker as Park>::Unparker,
    unparks: Arc<AtomicUsize>,
}

impl Unpark for CountingUnparker {
    fn unpark(&self) {
        self.unparks.fetch_add(1, Ordering::SeqCst);
        self.inner.unpark();
    }
}

impl Park for CountingParker {
    type Unparker = CountingUnparker;

    fn unparker(&self) -> CountingUnparker {
        CountingUnparker {
            inner: self.inner.unparker(),
            unparks: self.unparks.clone(),
        }
    }

    fn park(&mut self, timeout: Option<Duration>) {
        self.turns.borrow_mut().push(self.polls.get());
        self.inner.park(timeout);
    }
}

fn counting_parker() -> CountingParker {
    CountingParker {
        inner: ThreadParker::new(),
        turns: Rc::default(),
        polls: Rc::default(),
        unparks: Arc::default(),
    }
}

#[test]
fn the_parker_gets_a_turn_at_least_every_64_polls() {
    bounded(10, || {
        let ex = LocalExecutor::new();
        let mut parker = counting_parker();
        let polls = parker.polls.clone();
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let polls = polls.clone();
                ex.spawn(async move {
                    for _ in 0..100 {
                        polls.set(polls.get() + 1);
                        yield_now().await;
                    }
                })
            })
            .collect();
        ex.block_on(&mut parker, async {
            for task in tasks {
                task.await;
            }
        });
        let turns = parker.turns.borrow();
        let mut last = 0;
        for &at in turns.iter().chain(std::iter::once(&polls.get())) {
            assert!(at - last <= 64, "{} polls without a parker turn", at - last);
            last = at;
        }
        assert!(turns.len() >= 1000 / 64);
    });
}

#[test]
fn wakes_while_the_loop_is_busy_cost_no_unpark() {
    bounded(10, || {
        let ex = LocalExecutor::new();
        let mut parker = counting_parker();
        let unparks = parker.unparks.clone();
        let waker_slot: Arc<Mutex<Option<Waker>>> = Arc::default();
        let released = Rc::new(Cell::new(false));
        let sleeper = ex.spawn({
            let waker_slot = waker_slot.clone();
            let released = released.clone();
            future::poll_fn(move |cx| {
                if released.get() {
                    return Poll::Ready(());
                }
                *waker_slot.lock().unwrap() = Some(cx.waker().clone());
                Poll::Pending
            })
        });
        let busy = ex.spawn({
            let released = released.clone();
            async move {
                yield_now().await; // let the sleeper register its waker
                // The loop is busy running this task while another thread wakes
                // the sleeper a thousand times.
                let waker = waker_slot
                    .lock()
                    .unwrap()
                    .clone()
                    .expect("sleeper ran first");
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        waker.wake_by_ref();
                    }
                })
                .join()
                .unwrap();
                released.set(true);
            }
        });
        ex.block_on(&mut parker, async {
            busy.await;
            sleeper.await;
        });
        assert_eq!(unparks.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn local_executor_try_tick_runs_exactly_one_task() {
    bounded(10, || {
        let ex = LocalExecutor::new();
        let count = Rc::new(Cell::new(0));
        for _ in 0..3 {
            let count = count.clone();
            ex.spawn(async move { count.set(count.get() + 1) }).detach();
        }
        assert!(!ex.is_empty());
        assert!(ex.try_tick());
        assert_eq!(count.get(), 1);
        assert!(ex.try_tick());
        assert!(ex.try_tick());
        assert_eq!(count.get(), 3);
        assert!(!ex.try_tick());
        assert!(ex.is_empty());
    });
}

#[test]
fn local_executor_tick_waits_for_a_task_and_runs_one() {
    bounded(10, || {
        let ex = LocalExecutor::new();
        let count = Rc::new(Cell::new(0));
        for _ in 0..2 {
            let count = count.clone();
            ex.spawn(async move { count.set(count.get() + 1) }).detach();
        }
        future::block_on(ex.tick());
        assert_eq!(count.get(), 1);
        future::block_on(ex.tick());
        assert_eq!(count.get(), 2);
    });
}

#[test]
fn local_executor_tick_is_woken_from_another_thread() {
    bounded(10, || {
        let ex = LocalExecutor::new();
        let waker_slot: Arc<Mutex<Option<Waker>>> = Arc::default();
        let done = Rc::new(Cell::new(false));
        let task = ex.spawn({
            let waker_slot = waker_slot.clone();
            let done = done.clone();
            let mut first = true;
            future::poll_fn(move |cx| {
                if first {
                    first = false;
                    *waker_slot.lock().unwrap() = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                done.set(true);
                Poll::Ready(())
            })
        });
        assert!(ex.try_tick());
        let waker = waker_slot.lock().unwrap().take().unwrap();
        std::thread::spawn(move || waker.wake());
        future::block_on(ex.tick());
        assert!(done.get());
        assert!(task.is_finished());
    });
}

#[test]
fn local_executor_run_drives_tasks_inside_another_executor() {
    let out = bounded(10, || {
        block_on(async {
            let inner = LocalExecutor::new();
            let tasks: Vec<_> = (0..100)
                .map(|i| {
                    inner.spawn(async move {
                        yield_now().await;
                        i
                    })
                })
                .collect();
            inner
                .run(async {
                    let mut sum = 0;
                    for task in tasks {
                        sum += task.await;
                    }
                    sum
                })
                .await
        })
    });
    assert_eq!(out, 4950);
}

#[test]
fn a_sleeping_run_is_woken_by_a_wake_from_its_own_thread() {
    let out = bounded(10, || {
        block_on(async {
            let inner = LocalExecutor::new();
            let (tx, rx) = async_oneshot();
            let waiting = inner.spawn(rx);
            // Runs on the outer executor, on the same thread, once `run`
            // below has found nothing to do and gone to sleep.
            spawn(async move {
                yield_now().await;
                tx.set(9);
            })
            .detach();
            inner.run(waiting).await
        })
    });
    assert_eq!(out, 9);
}

#[test]
fn dropping_an_executor_drops_its_unfinished_tasks() {
    bounded(10, || {
        let dropped = Rc::new(Cell::new(0));
        let ex = LocalExecutor::new();
        for _ in 0..5 {
            let guard = Counted(dropped.clone());
            ex.spawn(async move {
                let _guard = guard;
                future::pending::<()>().await;
            })
            .detach();
        }
        while ex.try_tick() {}
        assert_eq!(dropped.get(), 0);
        drop(ex);
        assert_eq!(dropped.get(), 5);
    });
}

struct Counted(Rc<Cell<usize>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn tasks_spawned_in_one_block_on_go_on_in_the_next() {
    bounded(10, || {
        let task = block_on(future::poll_fn(|_| Poll::Ready(spawn(async { 3 }))));
        assert_eq!(block_on(task), 3);
    });
}

#[test]
#[should_panic(expected = "bureau::spawn was called outside bureau::block_on")]
fn spawn_outside_block_on_panics_with_a_clear_message() {
    let _task = spawn(async {});
}

#[test]
#[should_panic(expected = "bureau::block_on was called inside another bureau::block_on")]
fn nested_block_on_panics_with_a_clear_message() {
    block_on(async { block_on(async {}) });
}

#[test]
fn block_on_works_again_after_a_nested_call_panicked() {
    let nested = std::panic::catch_unwind(|| block_on(async { block_on(async {}) }));
    assert!(nested.is_err());
    assert_eq!(block_on(async { 1 }), 1);
}

#[test]
fn a_task_panic_resurfaces_where_it_is_awaited() {
    bounded(10, || {
        let caught = block_on(async {
            let task = spawn(async { panic!("boom in a task") });
            std::panic::AssertUnwindSafe(task).catch_unwind().await
        });
        let payload = caught.expect_err("the panic did not resurface");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom in a task"));
    });
}

use futures_lite::FutureExt as _;

mod common;
use common::{bounded, output_within};

const DETACHED_PANIC_CHILD: &str = "BUREAU_TEST_DETACHED_PANIC_CHILD";

#[test]
fn a_detached_task_panic_is_printed_and_the_loop_goes_on() {
    if std::env::var_os(DETACHED_PANIC_CHILD).is_some() {
        let out = block_on(async {
            spawn(async { panic!("detached boom") }).detach();
            let others: Vec<_> = (0..10)
                .map(|i| {
                    spawn(async move {
                        yield_now().await;
                        i
                    })
                })
                .collect();
            let mut sum = 0;
            for task in others {
                sum += task.await;
            }
            sum
        });
        assert_eq!(out, 45);
        println!("LOOP WENT ON");
        return;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args([
            "--exact",
            "a_detached_task_panic_is_printed_and_the_loop_goes_on",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DETACHED_PANIC_CHILD, "1");
    let output = output_within(10, child);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "child failed: {stderr}");
    assert!(
        stderr.contains("detached boom"),
        "panic not printed: {stderr}"
    );
    assert!(stdout.contains("LOOP WENT ON"), "{stdout}");
}

#[test]
fn a_main_future_that_keeps_waking_itself_does_not_stop_timers() {
    // The block_on future counts toward the 64 polls after which the reactor
    // gets its turn: otherwise this timer would never fire.
    bounded(10, || {
        block_on(async {
            let timer = spawn(bureau::Timer::after(Duration::from_millis(10)));
            while !timer.is_finished() {
                yield_now().await;
            }
        })
    });
}

#[test]
fn polls_of_the_block_on_future_count_toward_the_parker_turn() {
    bounded(10, || {
        let ex = LocalExecutor::new();
        let mut parker = counting_parker();
        let polls = parker.polls.clone();
        let task = ex.spawn({
            let polls = polls.clone();
            async move {
                for _ in 0..500 {
                    polls.set(polls.get() + 1);
                    yield_now().await;
                }
            }
        });
        ex.block_on(&mut parker, async {
            while !task.is_finished() {
                polls.set(polls.get() + 1);
                yield_now().await;
            }
        });
        let turns = parker.turns.borrow();
        let mut last = 0;
        for &at in turns.iter().chain(std::iter::once(&polls.get())) {
            assert!(at - last <= 64, "{} polls without a parker turn", at - last);
            last = at;
        }
    });
}
