//! The queue of pending timers: which waker to wake at which deadline.
//!
//! Most timers are cancelled before they fire (a request's timeout, a
//! `timeout()` whose future finished first), so inserting and cancelling must
//! be cheap, and cancelling must not search. Wakers live in a slab; the
//! deadlines in a binary min-heap whose cancelled entries stay behind until
//! they reach the top or until they are half the heap, when they are swept
//! out in one pass. Insert is O(log n) (O(1) when deadlines grow, as
//! `now + timeout` does), cancel is O(1) amortized, and nothing allocates
//! once the queue has grown to its working size.
//!
//! It only stores and orders wakers: it never reads the clock and never
//! wakes anything itself.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;
use std::time::Instant;

/// A pending timer's handle, returned by [`TimerQueue::insert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerId {
    /// The timer's slot in the slab.
    slot: usize,
    /// The insertion number, unique for the life of the queue: tells this
    /// timer from an earlier or later one that had the same slot.
    seq: u64,
}

/// A deadline in the heap. Ordered by deadline, then by insertion, so
/// timers with the same deadline fire in the order they were set.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Deadline {
    when: Instant,
    seq: u64,
    slot: usize,
}

/// A slot of the slab: the insertion number of the timer that holds it, and
/// that timer's waker (`None` when the slot is free).
struct Slot {
    seq: u64,
    waker: Option<Waker>,
}

/// The heap is swept of cancelled entries only once it holds at least this
/// many, so a queue of a few timers never sweeps.
const SWEEP_MIN: usize = 64;

/// Pending timers, ordered by deadline.
#[derive(Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<Deadline>>,
    slots: Vec<Slot>,
    /// Free slots, reused last-freed first.
    free: Vec<usize>,
    /// Entries in `heap` whose timer was cancelled.
    cancelled: usize,
    next_seq: u64,
}

impl TimerQueue {
    /// Adds a timer that wakes `waker` at `when`.
    pub(crate) fn insert(&mut self, when: Instant, waker: &Waker) -> TimerId {
        let seq = self.next_seq;
        self.next_seq += 1;
        let waker = Some(waker.clone());
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Slot { seq, waker };
                slot
            }
            None => {
                self.slots.push(Slot { seq, waker });
                self.slots.len() - 1
            }
        };
        self.heap.push(Reverse(Deadline { when, seq, slot }));
        TimerId { slot, seq }
    }

    /// The slot of `id` if that timer is still pending.
    fn pending(&mut self, id: TimerId) -> Option<&mut Slot> {
        let slot = self.slots.get_mut(id.slot)?;
        (slot.seq == id.seq && slot.waker.is_some()).then_some(slot)
    }

    /// Replaces the waker of a pending timer; does nothing if it has fired
    /// or was cancelled.
    pub(crate) fn update(&mut self, id: TimerId, waker: &Waker) {
        if let Some(Slot { waker: Some(w), .. }) = self.pending(id) {
            w.clone_from(waker);
        }
    }

    /// Cancels a timer; does nothing if it has fired or was cancelled. The
    /// waker is handed back so that the caller drops it outside any lock.
    pub(crate) fn cancel(&mut self, id: TimerId) -> Option<Waker> {
        let waker = self.pending(id)?.waker.take();
        self.free.push(id.slot);
        self.cancelled += 1;
        if self.heap.len() >= SWEEP_MIN && self.cancelled * 2 > self.heap.len() {
            let slots = &self.slots;
            self.heap.retain(|Reverse(d)| live(slots, d));
            self.cancelled = 0;
        }
        waker
    }

    /// The earliest deadline of a pending timer.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.drop_cancelled_top();
        self.heap.peek().map(|Reverse(d)| d.when)
    }

    /// Moves the wakers of every timer due at or before `now` into `out`, in
    /// deadline order; returns whether it moved any.
    pub(crate) fn take_expired(&mut self, now: Instant, out: &mut Vec<Waker>) -> bool {
        let mut took = false;
        loop {
            self.drop_cancelled_top();
            match self.heap.peek() {
                Some(Reverse(d)) if d.when <= now => {}
                _ => return took,
            }
            let Some(Reverse(d)) = self.heap.pop() else {
                return took;
            };
            if let Some(waker) = self.slots[d.slot].waker.take() {
                self.free.push(d.slot);
                out.push(waker);
                took = true;
            }
        }
    }

    /// Pops cancelled entries off the top of the heap, so that the top (if
    /// any) is a pending timer.
    fn drop_cancelled_top(&mut self) {
        while let Some(Reverse(d)) = self.heap.peek() {
            if live(&self.slots, d) {
                return;
            }
            self.heap.pop();
            self.cancelled -= 1;
        }
    }
}

/// Whether the heap entry `d` still stands for a pending timer.
fn live(slots: &[Slot], d: &Deadline) -> bool {
    let slot = &slots[d.slot];
    slot.seq == d.seq && slot.waker.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::task::Wake;
    use std::time::Duration;

    /// A waker that writes its label into a shared log when woken.
    struct Label(usize, Arc<Mutex<Vec<usize>>>);

    impl Wake for Label {
        fn wake(self: Arc<Self>) {
            self.1.lock().unwrap().push(self.0);
        }
    }

    /// The log and one waker per label `0..n`.
    fn wakers(n: usize) -> (Arc<Mutex<Vec<usize>>>, Vec<Waker>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let wakers = (0..n)
            .map(|i| Waker::from(Arc::new(Label(i, log.clone()))))
            .collect();
        (log, wakers)
    }

    /// Wakes, in order, what `take_expired` returns at `now`; their labels.
    fn fire(q: &mut TimerQueue, now: Instant, log: &Mutex<Vec<usize>>) -> Vec<usize> {
        let mut out = Vec::new();
        q.take_expired(now, &mut out);
        out.into_iter().for_each(Waker::wake);
        std::mem::take(&mut *log.lock().unwrap())
    }

    #[test]
    fn fires_by_deadline_then_by_insertion_and_only_when_due() {
        let base = Instant::now();
        let at = |ms| base + Duration::from_millis(ms);
        let mut q = TimerQueue::default();
        let (log, w) = wakers(4);
        q.insert(at(30), &w[0]);
        q.insert(at(10), &w[1]);
        q.insert(at(30), &w[2]);
        q.insert(at(20), &w[3]);
        assert_eq!(q.next_deadline(), Some(at(10)));
        assert_eq!(fire(&mut q, at(9), &log), Vec::<usize>::new());
        assert_eq!(fire(&mut q, at(20), &log), vec![1, 3]);
        assert_eq!(fire(&mut q, at(30), &log), vec![0, 2]);
        assert_eq!(q.next_deadline(), None);
    }

    #[test]
    fn a_cancelled_timer_never_fires_and_its_id_cannot_touch_a_later_timer() {
        let now = Instant::now();
        let mut q = TimerQueue::default();
        let (log, w) = wakers(2);
        let first = q.insert(now, &w[0]);
        assert!(q.cancel(first).is_some());
        assert!(q.cancel(first).is_none(), "a second cancel is a no-op");
        // The new timer takes the freed slot; the old id must not reach it.
        let second = q.insert(now, &w[1]);
        assert_eq!(second.slot, first.slot);
        q.update(first, &w[0]);
        assert!(q.cancel(first).is_none());
        assert_eq!(fire(&mut q, now, &log), vec![1]);
        assert!(
            q.cancel(second).is_none(),
            "a fired timer cannot be cancelled"
        );
    }

    #[test]
    fn update_replaces_the_waker() {
        let now = Instant::now();
        let mut q = TimerQueue::default();
        let (log, w) = wakers(2);
        let id = q.insert(now, &w[0]);
        q.update(id, &w[1]);
        assert_eq!(fire(&mut q, now, &log), vec![1]);
    }

    #[test]
    fn cancelled_entries_are_swept_so_churn_does_not_grow_the_queue() {
        let far = Instant::now() + Duration::from_secs(10);
        let mut q = TimerQueue::default();
        let (_, w) = wakers(1);
        let keep = q.insert(far, &w[0]);
        for i in 0..100_000 {
            let id = q.insert(far + Duration::from_nanos(i), &w[0]);
            q.cancel(id);
            assert!(
                q.heap.len() <= 2 * SWEEP_MIN,
                "heap grew to {}",
                q.heap.len()
            );
        }
        assert_eq!(q.slots.len(), 2);
        assert_eq!(q.next_deadline(), Some(far));
        assert!(q.cancel(keep).is_some());
        assert_eq!(q.next_deadline(), None);
        assert_eq!(q.cancelled, 0);
    }
}
