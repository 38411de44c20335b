//! The run queue's urgent lane: a task woken by an urgent wake during a park
//! (an expired timer's, when the parker is bureau's reactor) runs before the
//! tasks queued ahead of it, and urgent tasks keep their order among
//! themselves; the same wake outside a park, or an ordinary wake, queues at
//! the back.

use bureau_executor::{LocalExecutor, Park, ThreadParker};
use std::cell::RefCell;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

type Order = Rc<RefCell<Vec<char>>>;
type Slot = Rc<RefCell<Option<Waker>>>;

/// Spawns a task that parks its waker in a slot on its first poll, and
/// records `name` in `order` once woken; returns the slot.
fn waiting(ex: &LocalExecutor, name: char, order: &Order) -> Slot {
    let slot: Slot = Rc::default();
    let (theirs, order) = (slot.clone(), order.clone());
    let mut first = true;
    ex.spawn(futures_lite::future::poll_fn(move |cx| {
        if std::mem::take(&mut first) {
            *theirs.borrow_mut() = Some(cx.waker().clone());
            return Poll::Pending;
        }
        order.borrow_mut().push(name);
        Poll::Ready(())
    }))
    .detach();
    slot
}

/// Spawns a task that records `name` in `order`.
fn recording(ex: &LocalExecutor, name: char, order: &Order) {
    let order = order.clone();
    ex.spawn(async move { order.borrow_mut().push(name) })
        .detach();
}

/// A parker that, at its first park, wakes the given slots' wakers as one
/// urgent wake, as the reactor's turn wakes expired timers.
struct UrgentParker {
    slots: Vec<Slot>,
    inner: ThreadParker,
}

impl Park for UrgentParker {
    type Unparker = <ThreadParker as Park>::Unparker;

    fn unparker(&self) -> Self::Unparker {
        self.inner.unparker()
    }

    fn park(&mut self, _timeout: Option<Duration>) {
        let wakers = self.slots.drain(..).filter_map(|s| s.take());
        bureau_coop::wake_urgent(wakers, Waker::wake);
    }
}

#[test]
fn a_task_woken_urgently_in_a_park_runs_before_the_tasks_queued_ahead_of_it() {
    let ex = LocalExecutor::new();
    let order = Order::default();
    let slots = vec![waiting(&ex, 'U', &order), waiting(&ex, 'V', &order)];
    while ex.try_tick() {}
    let mut parker = UrgentParker {
        slots,
        inner: ThreadParker::new(),
    };
    ex.block_on(&mut parker, async {
        // 64 tasks queued before the park, which comes after 64 polls.
        for _ in 0..64 {
            recording(&ex, 'a', &order);
        }
        recording(&ex, 'b', &order);
        while order.borrow().len() < 67 {
            futures_lite::future::yield_now().await;
        }
    });
    let order = order.borrow();
    let at = |c| order.iter().position(|&x| x == c).unwrap();
    assert!(at('U') < at('V'), "urgent tasks out of order: {order:?}");
    assert!(
        at('V') < at('b'),
        "an urgent task ran after the queue: {order:?}"
    );
}

#[test]
fn an_urgent_wake_outside_a_park_or_an_ordinary_one_queues_at_the_back() {
    let ex = LocalExecutor::new();
    let order = Order::default();
    let urgent = waiting(&ex, 'U', &order);
    let ordinary = waiting(&ex, 'V', &order);
    while ex.try_tick() {}
    recording(&ex, 'a', &order);
    bureau_coop::wake_urgent(urgent.take(), Waker::wake);
    if let Some(w) = ordinary.take() {
        w.wake();
    }
    while ex.try_tick() {}
    assert_eq!(*order.borrow(), ['a', 'U', 'V']);
}
