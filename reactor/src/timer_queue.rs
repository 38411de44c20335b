//! The queue of pending timers: which waker to wake at which deadline.
//!
//! Most timers are cancelled before they fire (a request's timeout, a
//! `timeout()` whose future finished first), so inserting and cancelling must
//! be cheap, and cancelling must not search. Wakers live in a slab; the
//! deadlines in two places, whose cancelled entries stay behind until they
//! reach the front or until they are half of all entries, when they are
//! swept out in one pass:
//!
//! - a run of deadlines set in order, each no earlier than the one before,
//!   in a ring: the common case, since `now + timeout` grows. Inserting,
//!   firing and cancelling the newest touch one end of it, and firing reads
//!   memory in order, so it stays fast when that memory has gone cold while
//!   the loop slept;
//! - a binary min-heap for deadlines that come out of order: O(log n) to
//!   insert and to fire, each step a read of another part of the heap.
//!
//! The next timer to fire is the earlier of the run's front and the heap's
//! top.
//!
//! Memory goes back after a burst. Free slots are reused lowest first, so
//! pending timers gather at the front of the slab, and free slots at its
//! end are cut off as soon as they are there. Each of the run, the heap,
//! the slab and its free list is cut to twice its length once it is less
//! than a quarter full (never to fewer than `SHRINK_MIN` entries), as the
//! reactor's turn asks for the next deadline or the expired timers (not on
//! the path of insert and cancel, which a timeout pays twice): a cut
//! copies what is kept, and a store cut to twice its length is cut again
//! only after it has lost half of that, so the removals pay for the copy.
//! Nothing allocates once the queue has grown to its working size. (A
//! timer that stays pending in a high slot holds the slab up to its slot
//! until it fires or is cancelled.)
//!
//! A timer keeps a copy of its waker too (to see whether a later poll brings
//! another one). Both copies of the last cancelled timer's waker are kept as
//! a spare, so that a task setting one timeout after another neither clones
//! its waker on insert nor drops it on cancel: each is an atomic operation
//! on the waker's count, as costly as the rest of an insert or a cancel. The
//! reactor takes the spare out at each of its turns, so at most one waker
//! outlives its timer here, and only until the next turn: the spare helps a
//! task that sets and cancels timeouts within one poll.
//!
//! It only stores and orders wakers: it never reads the clock and never
//! wakes anything itself.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
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

/// Cancelled entries are swept only once the queue holds at least this many
/// entries, so a queue of a few timers never sweeps.
const SWEEP_MIN: usize = 64;

/// No store of the queue is cut to room for fewer entries than this, so a
/// queue of a few timers never reallocates.
const SHRINK_MIN: usize = 64;

/// Pending timers, ordered by deadline.
#[derive(Default)]
pub(crate) struct TimerQueue {
    /// Deadlines inserted in order, earliest first.
    run: VecDeque<Deadline>,
    /// Deadlines inserted earlier than the run's last.
    heap: BinaryHeap<Reverse<Deadline>>,
    /// The last slot, if any, holds a pending timer.
    slots: Vec<Slot>,
    /// The free slots below `slots.len()`, each once, lowest on top; and
    /// `free_stale` entries at or above it, left behind when free slots at
    /// the end of the slab were cut off.
    free: BinaryHeap<Reverse<usize>>,
    /// Entries of `free` at or above `slots.len()`.
    free_stale: usize,
    /// Entries in `run` and `heap` whose timer was cancelled.
    cancelled: usize,
    next_seq: u64,
    /// Both copies (the queue's and the timer's) of the last cancelled
    /// timer's waker, for the next insert of that waker.
    spare: Option<[Waker; 2]>,
}

impl TimerQueue {
    /// Adds a timer that wakes `waker` at `when`; returns its id and the
    /// timer's own copy of the waker.
    pub(crate) fn insert(&mut self, when: Instant, waker: &Waker) -> (TimerId, Waker) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let same = |copies: &mut [Waker; 2]| copies.iter().all(|w| w.will_wake(waker));
        let [ours, theirs] = match self.spare.take_if(same) {
            Some(copies) => copies,
            None => [waker.clone(), waker.clone()],
        };
        let slot = self.alloc(Slot {
            seq,
            waker: Some(ours),
        });
        let deadline = Deadline { when, seq, slot };
        match self.run.back() {
            Some(last) if last.when > when => self.heap.push(Reverse(deadline)),
            _ => self.run.push_back(deadline),
        }
        (TimerId { slot, seq }, theirs)
    }

    /// Puts `slot` in the lowest free slot of the slab, or at its end.
    fn alloc(&mut self, slot: Slot) -> usize {
        match self.free.pop() {
            Some(Reverse(i)) if i < self.slots.len() => {
                self.slots[i] = slot;
                i
            }
            // The lowest entry is past the end: so are the others.
            stale => {
                if stale.is_some() {
                    self.free.clear();
                    self.free_stale = 0;
                }
                self.slots.push(slot);
                self.slots.len() - 1
            }
        }
    }

    /// Frees `slot`, whose waker was taken: on the free list, or, at the end
    /// of the slab, cut off with the free slots before it. Once entries left
    /// behind by cuts are most of the free list, they are swept out of it.
    fn release(&mut self, slot: usize) {
        if slot + 1 < self.slots.len() {
            self.free.push(Reverse(slot));
            return;
        }
        self.slots.pop();
        while self.slots.last().is_some_and(|s| s.waker.is_none()) {
            self.slots.pop();
            self.free_stale += 1;
        }
        if self.free_stale * 2 > self.free.len() {
            let end = self.slots.len();
            self.free.retain(|&Reverse(i)| i < end);
            self.free_stale = 0;
        }
    }

    /// Cuts each store that is less than a quarter full to twice its length
    /// (see the module doc).
    fn fit(&mut self) {
        if let Some(to) = shrunk(self.run.len(), self.run.capacity()) {
            self.run.shrink_to(to);
        }
        if let Some(to) = shrunk(self.heap.len(), self.heap.capacity()) {
            self.heap.shrink_to(to);
        }
        if let Some(to) = shrunk(self.slots.len(), self.slots.capacity()) {
            self.slots.shrink_to(to);
        }
        if let Some(to) = shrunk(self.free.len(), self.free.capacity()) {
            self.free.shrink_to(to);
        }
    }

    /// The slot of `id` if that timer is still pending.
    fn pending(&mut self, id: TimerId) -> Option<&mut Slot> {
        let slot = self.slots.get_mut(id.slot)?;
        (slot.seq == id.seq && slot.waker.is_some()).then_some(slot)
    }

    /// Whether `id` is still pending (neither fired nor cancelled).
    #[cfg(test)]
    pub(crate) fn is_pending(&mut self, id: TimerId) -> bool {
        self.pending(id).is_some()
    }

    /// Replaces the waker of a pending timer and hands the old one back, so
    /// that the caller drops it outside any lock; `None` if the timer has
    /// fired or was cancelled.
    pub(crate) fn update(&mut self, id: TimerId, waker: &Waker) -> Option<Waker> {
        let slot = self.pending(id)?;
        slot.waker.replace(waker.clone())
    }

    /// Cancels a timer, given back the timer's copy of its waker. If the
    /// timer is pending, both copies become the spare and the previous spare
    /// is handed back; if it has fired or was cancelled, the timer's copy
    /// is. The caller drops what is handed back outside any lock.
    pub(crate) fn cancel(&mut self, id: TimerId, theirs: Waker) -> [Option<Waker>; 2] {
        let Some(ours) = self.pending(id).and_then(|slot| slot.waker.take()) else {
            return [Some(theirs), None];
        };
        self.release(id.slot);
        self.cancelled += 1;
        // The newest timer is the one most often cancelled: its entry, and
        // any cancelled ones before it, leave the run now.
        while self.run.back().is_some_and(|d| !live(&self.slots, d)) {
            self.run.pop_back();
            self.cancelled -= 1;
        }
        let entries = self.run.len() + self.heap.len();
        if entries >= SWEEP_MIN && self.cancelled * 2 > entries {
            let slots = &self.slots;
            self.run.retain(|d| live(slots, d));
            self.heap.retain(|Reverse(d)| live(slots, d));
            self.cancelled = 0;
        }
        match self.spare.replace([ours, theirs]) {
            Some([a, b]) => [Some(a), Some(b)],
            None => [None, None],
        }
    }

    /// Gives up the spare copies of the last cancelled timer's waker, for
    /// the caller to drop outside any lock.
    pub(crate) fn take_spare(&mut self) -> Option<[Waker; 2]> {
        self.spare.take()
    }

    /// The earliest deadline of a pending timer.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.drop_cancelled_first();
        self.fit();
        self.first().map(|d| d.when)
    }

    /// Moves the wakers of every timer due at or before `now` into `out`, in
    /// deadline order; returns whether it moved any.
    pub(crate) fn take_expired(&mut self, now: Instant, out: &mut Vec<Waker>) -> bool {
        let mut took = false;
        loop {
            self.drop_cancelled_first();
            match self.first() {
                Some(d) if d.when <= now => {}
                _ => break,
            }
            let Some(d) = self.pop_first() else {
                break;
            };
            if let Some(waker) = self.slots[d.slot].waker.take() {
                self.release(d.slot);
                out.push(waker);
                took = true;
            }
        }
        self.fit();
        took
    }

    /// The earliest entry: the run's front or the heap's top.
    fn first(&self) -> Option<&Deadline> {
        match (self.run.front(), self.heap.peek()) {
            (Some(r), Some(Reverse(h))) => Some(r.min(h)),
            (r, h) => r.or(h.map(|Reverse(h)| h)),
        }
    }

    /// Removes and returns the earliest entry.
    fn pop_first(&mut self) -> Option<Deadline> {
        match (self.run.front(), self.heap.peek()) {
            (Some(r), Some(Reverse(h))) if h < r => self.heap.pop().map(|Reverse(h)| h),
            (Some(_), _) => self.run.pop_front(),
            (None, _) => self.heap.pop().map(|Reverse(h)| h),
        }
    }

    /// Pops cancelled entries off the front of the queue, so that the
    /// earliest entry (if any) is a pending timer.
    fn drop_cancelled_first(&mut self) {
        while let Some(d) = self.first() {
            if live(&self.slots, d) {
                return;
            }
            self.pop_first();
            self.cancelled -= 1;
        }
    }
}

/// Whether the entry `d` still stands for a pending timer.
fn live(slots: &[Slot], d: &Deadline) -> bool {
    slots
        .get(d.slot)
        .is_some_and(|slot| slot.seq == d.seq && slot.waker.is_some())
}

/// The capacity to cut a store of `len` entries and room for `capacity` to,
/// if it is less than a quarter full and above twice the floor.
fn shrunk(len: usize, capacity: usize) -> Option<usize> {
    let to = len.saturating_mul(2).max(SHRINK_MIN);
    (capacity / 2 > to).then_some(to)
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
        for (ms, waker) in [(30, &w[0]), (10, &w[1]), (30, &w[2]), (20, &w[3])] {
            q.insert(at(ms), waker);
        }
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
        let (first, theirs) = q.insert(now, &w[0]);
        q.cancel(first, theirs);
        assert!(!q.is_pending(first));
        let [handed, none] = q.cancel(first, w[0].clone());
        assert!(
            handed.is_some_and(|h| h.will_wake(&w[0])) && none.is_none(),
            "a second cancel only hands the timer's copy back"
        );
        // The new timer takes the freed slot; the old id must not reach it.
        let (second, theirs) = q.insert(now, &w[1]);
        assert!(theirs.will_wake(&w[1]));
        assert_eq!(second.slot, first.slot);
        assert!(q.update(first, &w[0]).is_none());
        q.cancel(first, w[0].clone());
        assert!(q.is_pending(second));
        assert_eq!(fire(&mut q, now, &log), vec![1]);
        assert!(!q.is_pending(second), "a fired timer cannot be cancelled");
    }

    /// The queue's own invariants: the exact count of cancelled entries, the
    /// run in order, a pending timer in the slab's last slot, each free slot
    /// listed once and the count of stale list entries; and, if `fitted`
    /// (after a firing and `next_deadline`), no store less than a quarter
    /// full.
    fn check(q: &TimerQueue, fitted: bool, step: u64) {
        let stale = q
            .run
            .iter()
            .chain(q.heap.iter().map(|Reverse(d)| d))
            .filter(|d| !live(&q.slots, d))
            .count();
        assert_eq!(q.cancelled, stale, "step {step}");
        assert!(
            q.run.iter().zip(q.run.iter().skip(1)).all(|(a, b)| a < b),
            "run unsorted"
        );
        assert!(
            q.slots.last().is_none_or(|s| s.waker.is_some()),
            "step {step}: a free slot ends the slab"
        );
        let end = q.slots.len();
        let mut listed: Vec<usize> = q.free.iter().map(|r| r.0).filter(|&i| i < end).collect();
        listed.sort_unstable();
        let free: Vec<usize> = (0..end).filter(|&i| q.slots[i].waker.is_none()).collect();
        assert_eq!(listed, free, "step {step}: the free list is wrong");
        assert_eq!(q.free.len() - listed.len(), q.free_stale, "step {step}");
        if fitted {
            for (name, len, capacity) in [
                ("run", q.run.len(), q.run.capacity()),
                ("heap", q.heap.len(), q.heap.capacity()),
                ("slots", q.slots.len(), q.slots.capacity()),
                ("free", q.free.len(), q.free.capacity()),
            ] {
                assert!(
                    shrunk(len, capacity).is_none(),
                    "step {step}: {name} keeps room for {capacity} entries, holds {len}"
                );
            }
        }
    }

    /// The capacities of the run, the heap, the slab and its free list.
    fn capacities(q: &TimerQueue) -> [usize; 4] {
        [
            q.run.capacity(),
            q.heap.capacity(),
            q.slots.capacity(),
            q.free.capacity(),
        ]
    }

    #[test]
    fn timers_set_and_cancelled_in_any_order_fire_as_a_sorted_list_says() {
        let base = Instant::now();
        let at = |ms| base + Duration::from_millis(ms);
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut q = TimerQueue::default();
        // The model: (deadline in ms, label) of each pending timer, where
        // the label counts insertions, so sorting it gives the firing order.
        let mut model: Vec<(u64, usize)> = Vec::new();
        let mut pending = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut now = 0;
        // Which stores were ever cut.
        let mut shrank = [false; 4];
        for step in 0..20_000 {
            // Phases of 2,000 steps: a mix; a burst of inserts; cancels;
            // firings. Bursts grow every store, and drains must give the
            // storage back. An operation below `insert` inserts, one below
            // `cancel` cancels, and the others fire.
            let (insert, cancel) = match step / 2_000 % 4 {
                0 => (5, 8),
                1 => (9, 10),
                2 => (1, 9),
                _ => (1, 2),
            };
            let op = random(10);
            let before = capacities(&q);
            let fitted = if op < insert {
                // Mostly in order, as `now + timeout` is; sometimes not.
                let ms = now
                    + if random(4) == 0 {
                        random(50)
                    } else {
                        50 + step / 8
                    };
                let label = step as usize;
                let waker = Waker::from(Arc::new(Label(label, log.clone())));
                pending.push((q.insert(at(ms), &waker), label));
                model.push((ms, label));
                false
            } else if op < cancel && !pending.is_empty() {
                // Most often the newest, as a finished request's timeout.
                let ((id, theirs), label) = match random(2) {
                    0 => pending.remove(pending.len() - 1),
                    _ => pending.remove(random(pending.len() as u64) as usize),
                };
                q.cancel(id, theirs);
                model.retain(|&(_, l)| l != label);
                // Cancelling cuts nothing: the next turn does.
                false
            } else {
                now += random(20);
                let mut due: Vec<_> = model.iter().filter(|t| t.0 <= now).copied().collect();
                due.sort_unstable();
                let due: Vec<_> = due.into_iter().map(|(_, label)| label).collect();
                assert_eq!(fire(&mut q, at(now), &log), due, "step {step}");
                model.retain(|t| t.0 > now);
                pending.retain(|((id, _), _)| q.is_pending(*id));
                let next = model.iter().min().map(|t| at(t.0));
                assert_eq!(q.next_deadline(), next, "step {step}");
                true
            };
            check(&q, fitted, step);
            for (s, (after, before)) in shrank.iter_mut().zip(capacities(&q).iter().zip(before)) {
                *s |= *after < before;
            }
        }
        assert_eq!(shrank, [true; 4], "run, heap, slots, free: never cut");
    }

    #[test]
    fn a_burst_of_timers_leaves_no_storage_behind() {
        let base = Instant::now() + Duration::from_secs(10);
        let (log, w) = wakers(1);
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut random = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let small = |q: &TimerQueue| capacities(q).iter().all(|&c| c <= 2 * SHRINK_MIN);
        let n = 100_000;
        // Cancelled in a scrambled order, one timer kept pending meanwhile.
        let mut q = TimerQueue::default();
        let mut ids: Vec<_> = (0..n)
            .map(|_| q.insert(base + Duration::from_millis(random(90_000)), &w[0]))
            .collect();
        let (kept, kept_theirs) = ids.swap_remove(n / 2);
        for i in (1..ids.len()).rev() {
            ids.swap(i, random(i as u64 + 1) as usize);
        }
        for (id, theirs) in ids {
            q.cancel(id, theirs);
        }
        assert!(q.next_deadline().is_some());
        assert_eq!(q.slots.len(), n / 2 + 1, "the kept timer holds its slot");
        let (low, _) = q.insert(base, &w[0]);
        assert_eq!(low.slot, 0, "a free slot is reused lowest first");
        q.cancel(low, w[0].clone());
        q.cancel(kept, kept_theirs);
        assert_eq!(q.next_deadline(), None);
        assert!(q.slots.is_empty());
        assert!(
            small(&q),
            "capacities after cancelling: {:?}",
            capacities(&q)
        );
        // Fired.
        for _ in 0..n {
            q.insert(base + Duration::from_millis(random(90_000)), &w[0]);
        }
        assert_eq!(fire(&mut q, base + Duration::from_secs(90), &log).len(), n);
        assert_eq!(q.next_deadline(), None);
        assert!(small(&q), "capacities after firing: {:?}", capacities(&q));
    }

    #[test]
    fn update_replaces_the_waker() {
        let now = Instant::now();
        let mut q = TimerQueue::default();
        let (log, w) = wakers(2);
        let (id, _) = q.insert(now, &w[0]);
        let old = q.update(id, &w[1]);
        assert!(old.is_some_and(|old| old.will_wake(&w[0])));
        assert_eq!(fire(&mut q, now, &log), vec![1]);
        assert!(q.update(id, &w[0]).is_none(), "a fired timer says so");
    }

    #[test]
    fn cancelled_entries_are_swept_so_churn_does_not_grow_the_queue() {
        let far = Instant::now() + Duration::from_secs(10);
        let mut q = TimerQueue::default();
        let (_, w) = wakers(1);
        let (keep, kept) = q.insert(far, &w[0]);
        for i in 0..100_000 {
            let (id, theirs) = q.insert(far + Duration::from_nanos(i), &w[0]);
            q.cancel(id, theirs);
            let entries = q.run.len() + q.heap.len();
            assert!(entries <= 2 * SWEEP_MIN, "the queue grew to {entries}");
        }
        assert_eq!(q.slots.len(), 1, "the cancelled timers' slot was cut off");
        assert_eq!(q.next_deadline(), Some(far));
        q.cancel(keep, kept);
        assert!(!q.is_pending(keep));
        assert_eq!(q.next_deadline(), None);
        assert_eq!(q.cancelled, 0);
    }

    #[test]
    fn one_timeout_after_another_neither_clones_nor_drops_the_waker() {
        let far = Instant::now() + Duration::from_secs(10);
        let mut q = TimerQueue::default();
        let log = Arc::new(Mutex::new(Vec::new()));
        let label = Arc::new(Label(0, log.clone()));
        let waker = Waker::from(label.clone());
        let other = Waker::from(Arc::new(Label(1, log.clone())));
        let churn = |q: &mut TimerQueue, waker: &Waker| {
            let (id, theirs) = q.insert(far, waker);
            assert!(theirs.will_wake(waker));
            q.cancel(id, theirs)
        };
        assert!(churn(&mut q, &waker).iter().all(Option::is_none));
        // `label`, `waker` and the spare's two copies.
        assert_eq!(Arc::strong_count(&label), 4);
        for _ in 0..10 {
            let handed = churn(&mut q, &waker);
            assert!(handed.iter().all(Option::is_none), "the spare was reused");
            assert_eq!(Arc::strong_count(&label), 4);
        }
        // Another waker is cloned, and the old spare is handed back.
        let handed = churn(&mut q, &other);
        assert!(handed.iter().all(|h| h.as_ref().unwrap().will_wake(&waker)));
        drop(handed);
        assert_eq!(Arc::strong_count(&label), 2);
        // The spare is only reused for its own waker.
        q.insert(far, &waker);
        assert_eq!(fire(&mut q, far, &log), vec![0]);
    }
}
