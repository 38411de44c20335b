//! `LocalExecutor<'a>` runs futures that borrow for `'a`: tasks borrow from
//! the stack around the executor, and every such future is dropped by the
//! time the executor is, whatever state its task is in and whoever still
//! holds its waker or its `Task`. Each test then uses the borrowed value
//! by move or `&mut`, which compiles only if the executor's borrow ended.

use bureau_executor::{LocalExecutor, Task, ThreadParker};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Records `name` in `log` when dropped.
struct OnDrop<'a> {
    log: &'a RefCell<Vec<String>>,
    name: &'static str,
}

impl Drop for OnDrop<'_> {
    fn drop(&mut self) {
        self.log.borrow_mut().push(format!("{} dropped", self.name));
    }
}

/// Pending forever; hands its waker out on the first poll.
struct Parked<'a>(&'a RefCell<Option<Waker>>);

impl Future for Parked<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.0.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn tasks_push_into_a_stack_vec_under_block_on() {
    let mut seen = RefCell::new(Vec::new());
    {
        let ex = LocalExecutor::new();
        let seen = &seen;
        let tasks: Vec<Task<usize>> = (0..4)
            .map(|i| {
                ex.spawn(async move {
                    bureau_executor::yield_now().await;
                    seen.borrow_mut().push(i);
                    seen.borrow().len()
                })
            })
            .collect();
        let lens = ex.block_on(&mut ThreadParker::new(), async {
            let mut lens = Vec::new();
            for task in tasks {
                lens.push(task.await);
            }
            lens
        });
        assert_eq!(lens, [1, 2, 3, 4]);
    }
    // A `&mut` borrow: the executor's shared borrow has ended.
    seen.get_mut().push(99);
    assert_eq!(seen.into_inner(), [0, 1, 2, 3, 99]);
}

#[test]
fn tasks_push_into_a_stack_vec_under_try_tick() {
    let seen = RefCell::new(Vec::new());
    let ex = LocalExecutor::new();
    for i in 0..3 {
        let seen = &seen;
        ex.spawn(async move { seen.borrow_mut().push(i) }).detach();
    }
    while ex.try_tick() {}
    assert!(ex.is_empty());
    drop(ex);
    assert_eq!(seen.into_inner(), [0, 1, 2]);
}

#[test]
fn dropping_the_executor_drops_every_borrowing_future_it_holds() {
    let log = RefCell::new(Vec::new());
    let waker = RefCell::new(None);
    let finished_output;
    {
        let ex = LocalExecutor::new();
        let (log, waker) = (&log, &waker);
        // Finishes at once.
        ex.spawn(async move {
            let _guard = OnDrop { log, name: "first" };
        })
        .detach();
        // Polled once, then idle with its waker handed out.
        ex.spawn(async move {
            let _guard = OnDrop { log, name: "idle" };
            Parked(waker).await;
        })
        .detach();
        // Its handle outlives the executor.
        let orphan = ex.spawn(async move {
            let _guard = OnDrop {
                log,
                name: "orphan",
            };
            futures_lite::future::pending::<()>().await;
        });
        // Finished, with an output that borrows for `'a`.
        let done: Task<&RefCell<Vec<String>>> = ex.spawn(async move { log });
        // Runs all four once.
        for _ in 0..4 {
            assert!(ex.try_tick());
        }
        log.borrow_mut().clear();
        // Never polled: queued when the executor goes, with a guard moved in.
        let guard = OnDrop {
            log,
            name: "queued",
        };
        ex.spawn(async move {
            let _guard = guard;
        })
        .detach();
        drop(ex);
        let mut dropped = log.borrow().clone();
        dropped.sort();
        assert_eq!(
            dropped,
            ["idle dropped", "orphan dropped", "queued dropped"]
        );
        // Neither a waker nor a `Task` outliving the executor reaches a
        // future again.
        waker.borrow_mut().take().unwrap().wake();
        drop(orphan);
        finished_output = futures_lite::future::block_on(done).borrow().len();
    }
    assert_eq!(finished_output, 3);
    assert_eq!(log.into_inner().len(), 3);
}

#[test]
fn a_wake_from_another_thread_after_the_executor_is_gone_touches_no_future() {
    let log = RefCell::new(Vec::new());
    let waker = RefCell::new(None);
    {
        let ex = LocalExecutor::new();
        let (log, waker) = (&log, &waker);
        ex.spawn(async move {
            let _guard = OnDrop { log, name: "task" };
            Parked(waker).await;
        })
        .detach();
        assert!(ex.try_tick());
        drop(ex);
    }
    let waker = waker.into_inner().unwrap();
    std::thread::spawn(move || {
        waker.wake_by_ref();
        drop(waker);
    })
    .join()
    .unwrap();
    assert_eq!(log.into_inner(), ["task dropped"]);
}

#[test]
fn run_and_tick_drive_borrowing_tasks_too() {
    let mut total = 0;
    {
        let total = RefCell::new(&mut total);
        let ex = LocalExecutor::new();
        let add = |n| {
            let total = &total;
            ex.spawn(async move { **total.borrow_mut() += n })
        };
        let (a, b) = (add(2), add(3));
        futures_lite::future::block_on(ex.tick());
        futures_lite::future::block_on(ex.run(b));
        futures_lite::future::block_on(ex.run(a));
    }
    total += 1;
    assert_eq!(total, 6);
}
