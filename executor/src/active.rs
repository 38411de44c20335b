//! The registry of unfinished tasks: a waker for each, so that dropping the
//! executor can cancel them (and drop their futures) instead of leaking them.
//!
//! It is a small slab: spawning takes a free slot, finishing frees it, both
//! in O(1) without allocating once warm. It lives on the executor's thread
//! only and must never be shared with another thread.

use std::task::Waker;

/// The wakers of the tasks an executor has spawned and not yet finished.
#[derive(Default)]
pub(crate) struct Active {
    slots: Vec<Slot>,
    /// The first free slot; `slots.len()` when there is none.
    next_free: usize,
    len: usize,
    /// Slots ever reserved: tasks spawned.
    spawned: u64,
}

enum Slot {
    Taken(Option<Waker>),
    Free { next: usize },
}

impl Active {
    /// Reserves a slot for a task about to be spawned and returns its key.
    pub(crate) fn reserve(&mut self) -> usize {
        let key = self.next_free;
        if key == self.slots.len() {
            self.slots.push(Slot::Taken(None));
            self.next_free = self.slots.len();
        } else if let Slot::Free { next } = self.slots[key] {
            self.slots[key] = Slot::Taken(None);
            self.next_free = next;
        }
        self.len += 1;
        self.spawned += 1;
        key
    }

    /// Records the waker of the task spawned into slot `key`.
    pub(crate) fn fill(&mut self, key: usize, waker: Waker) {
        if let Some(Slot::Taken(slot)) = self.slots.get_mut(key) {
            *slot = Some(waker);
        }
    }

    /// Frees slot `key` once its task has finished or was dropped.
    pub(crate) fn remove(&mut self, key: usize) {
        if let Some(slot @ Slot::Taken(_)) = self.slots.get_mut(key) {
            *slot = Slot::Free {
                next: self.next_free,
            };
            self.next_free = key;
            self.len -= 1;
        }
    }

    /// How many tasks were spawned.
    pub(crate) fn spawned(&self) -> u64 {
        self.spawned
    }

    /// How many tasks are unfinished.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Empties the registry and returns the wakers of all unfinished tasks.
    pub(crate) fn take_all(&mut self) -> Vec<Waker> {
        let slots = std::mem::take(&mut self.slots);
        self.next_free = 0;
        self.len = 0;
        slots
            .into_iter()
            .filter_map(|slot| match slot {
                Slot::Taken(waker) => waker,
                Slot::Free { .. } => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Active;

    #[test]
    fn reuses_freed_slots() {
        let mut active = Active::default();
        let a = active.reserve();
        let b = active.reserve();
        assert_ne!(a, b);
        active.remove(a);
        assert_eq!(active.len(), 1);
        assert_eq!(active.reserve(), a);
        active.remove(a);
        active.remove(b);
        active.remove(b);
        assert_eq!(active.len(), 0);
        assert!(active.take_all().is_empty());
    }
}
