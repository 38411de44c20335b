//! The run queue's urgent lane: a task woken by an urgent wake (an expired
//! timer's, in a bureau loop) runs before the tasks queued ahead of it, and
//! urgent tasks keep their order among themselves.

use bureau_executor::LocalExecutor;
use std::cell::RefCell;
use std::rc::Rc;
use std::task::{Poll, Waker};

/// A task that parks its waker in `slot` on its first poll, and records
/// `name` in `order` once woken.
fn waiting(
    ex: &LocalExecutor,
    name: char,
    slot: &Rc<RefCell<Option<Waker>>>,
    order: &Rc<RefCell<Vec<char>>>,
) {
    let (slot, order) = (slot.clone(), order.clone());
    let mut first = true;
    ex.spawn(futures_lite::future::poll_fn(move |cx| {
        if std::mem::take(&mut first) {
            *slot.borrow_mut() = Some(cx.waker().clone());
            return Poll::Pending;
        }
        order.borrow_mut().push(name);
        Poll::Ready(())
    }))
    .detach();
}

#[test]
fn a_task_woken_urgently_runs_before_the_tasks_queued_ahead_of_it() {
    let ex = LocalExecutor::new();
    let order = Rc::new(RefCell::new(Vec::new()));
    let (u1, u2) = (Rc::default(), Rc::default());
    waiting(&ex, 'U', &u1, &order);
    waiting(&ex, 'V', &u2, &order);
    while ex.try_tick() {}
    for name in ['a', 'b'] {
        let order = order.clone();
        ex.spawn(async move { order.borrow_mut().push(name) })
            .detach();
    }
    let wakers = [u1.take(), u2.take()].into_iter().flatten();
    bureau_coop::wake_urgent(wakers, Waker::wake);
    while ex.try_tick() {}
    assert_eq!(*order.borrow(), ['U', 'V', 'a', 'b']);
}

#[test]
fn an_ordinary_wake_queues_at_the_back() {
    let ex = LocalExecutor::new();
    let order = Rc::new(RefCell::new(Vec::new()));
    let slot = Rc::default();
    waiting(&ex, 'U', &slot, &order);
    while ex.try_tick() {}
    let order2 = order.clone();
    ex.spawn(async move { order2.borrow_mut().push('a') })
        .detach();
    if let Some(w) = slot.take() {
        w.wake();
    }
    while ex.try_tick() {}
    assert_eq!(*order.borrow(), ['a', 'U']);
}
