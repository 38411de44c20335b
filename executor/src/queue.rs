//! The run queue: where a woken task waits for its turn.
//!
//! Wakes from the executor's own thread go to a plain `VecDeque` that only
//! that thread may touch (no atomic read-modify-write on this fast path);
//! wakes from any other thread go to a lock-free `ConcurrentQueue` and tell
//! the sleep protocol. Popping is FIFO, and the remote queue is pulled in at
//! least once every [`FAIRNESS_BATCH`] pops, so neither side can starve the
//! other. A task woken by an urgent wake while the loop is parked (an
//! expired timer's, see `bureau_coop::is_urgent`) waits in a lane of its
//! own that is popped first, so it does not queue behind the tasks woken
//! for I/O in the same turn, nor behind those queued before it (a task
//! already queued when its timer fires is not moved up); urgent tasks keep
//! their order among themselves, so timers still run in deadline order. A
//! timer fired by another thread's turn (the reactor's helper thread, or
//! another loop that drives the reactor) arrives as an ordinary remote
//! wake. This file must never run a task: it only stores them.

use crate::sleep::{Sleep, Sleeper};
use crate::sync::{Arc, thread_local};
use bureau_coop::opaque;
use concurrent_queue::ConcurrentQueue;
use std::cell::{RefCell, RefMut};
use std::collections::VecDeque;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Waker;

/// How many tasks the loop polls before it looks at the remote queue and
/// gives the parker a non-blocking turn.
pub(crate) const FAIRNESS_BATCH: usize = 64;

/// A queued task. Its async-task metadata ([`Meta`]) holds the run queue it
/// belongs to, so that its schedule function captures nothing: async-task
/// then makes no reference-count round trip around each call of it, as it
/// must around a schedule function that captures state. Keep
/// [`RunQueue::schedule`] a plain `fn`.
pub(crate) type Runnable = async_task::Runnable<Meta>;

/// What every task carries in its header: its run queue, and where in the
/// user's source it was spawned (named by a slow-poll report).
pub(crate) struct Meta {
    pub(crate) queue: Arc<RunQueue>,
    pub(crate) site: &'static Location<'static>,
}

/// The state one executor shares with the schedule functions of its tasks,
/// which any thread may call.
pub(crate) struct RunQueue {
    local: OwnerCell<Local>,
    remote: ConcurrentQueue<Runnable>,
    sleep: Sleep,
}

struct Local {
    queue: VecDeque<Runnable>,
    /// Tasks woken urgently, in the order woken; popped before `queue`.
    urgent: VecDeque<Runnable>,

    /// Pops since the remote queue was last pulled in.
    pops: usize,
    /// What the loop is doing; one field, so that the common wake asks one
    /// question.
    mode: Mode,
}

impl RunQueue {
    /// Creates the run queue of an executor owned by the current thread.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(RunQueue {
            local: OwnerCell::new(Local {
                queue: VecDeque::new(),
                urgent: VecDeque::new(),
                pops: 0,
                mode: Mode::Running,
            }),
            remote: ConcurrentQueue::unbounded(),
            sleep: Sleep::new(),
        })
    }

    /// The schedule function of every task: queues `runnable` on the run
    /// queue named in its metadata. Called on any thread.
    pub(crate) fn schedule(runnable: Runnable) {
        opaque::internal(|| Self::schedule_now(runnable));
    }

    /// The body of [`RunQueue::schedule`].
    fn schedule_now(runnable: Runnable) {
        let queue: *const RunQueue = &*runnable.metadata().queue;
        // What `push_local` asks: that the run queue outlive the call, though
        // it takes `runnable`, and with it the `Arc` that keeps the queue
        // alive. `push_local` either hands `runnable` back, or pushes it onto
        // the local queue, which only this thread pops; it then returns
        // without calling a waker or any other code that could pop it.
        // SAFETY: `runnable` keeps the queue alive for the whole call (above).
        if let Err(runnable) = unsafe { (*queue).push_local(runnable) } {
            // Hold the queue by an `Arc` of our own: once queued, the task
            // may be run, and dropped, before this returns.
            let queue = runnable.metadata().queue.clone();
            queue.push_slow(runnable);
        }
    }

    /// The fast path, on the executor's thread while its loop is awake: one
    /// push, with no atomic read-modify-write and no waker. Hands `runnable`
    /// back when it does not apply: on another thread, on a reentrant call,
    /// once the executor is closed, or when a future asleep on the executor
    /// must be woken.
    fn push_local(&self, runnable: Runnable) -> Result<(), Runnable> {
        match self.local.borrow() {
            Some(mut local) if !self.sleep.local_wake_needed() => match local.mode {
                Mode::Running => {
                    local.queue.push_back(runnable);
                    Ok(())
                }
                Mode::InPark => {
                    local.push_parked(runnable);
                    Ok(())
                }
                Mode::Closed => Err(runnable),
            },
            _ => Err(runnable),
        }
    }

    /// Queues `runnable` where `push_local` would not, and wakes the loop.
    fn push_slow(&self, runnable: Runnable) {
        if let Some(mut local) = self.local.borrow() {
            match local.mode {
                Mode::Running => local.queue.push_back(runnable),
                Mode::InPark => local.push_parked(runnable),
                Mode::Closed => {
                    // The executor is gone: drop the task, outside the borrow
                    // (its future is user code, explored in a user's loom
                    // model).
                    drop(local);
                    opaque::external(|| drop(runnable));
                    return;
                }
            }
            drop(local);
            self.sleep.notify_local();
            return;
        }
        if cfg!(bureau_loom_broken = "notify_before_push") {
            return self.notify_before_push(runnable);
        }
        match self.remote.push(runnable) {
            Ok(()) => self.sleep.notify(),
            // The executor was dropped while this wake was under way. The
            // task's future is not `Send`, so it must not be dropped on
            // this thread: the task is leaked instead (only in this race).
            Err(closed) => std::mem::forget(closed.into_inner()),
        }
    }

    /// Broken on purpose, for the loom teeth (`--cfg
    /// bureau_loom_broken="notify_before_push"`): the loop may look at the
    /// queue between the notify and the push, and sleep.
    fn notify_before_push(&self, runnable: Runnable) {
        self.sleep.notify();
        let _ = self.remote.push(runnable);
    }

    /// Takes the next task to run, if any. Must be called on the owner thread.
    pub(crate) fn pop(&self) -> Option<Runnable> {
        let mut local = self.local.borrow()?;
        local.pops += 1;
        if local.pops >= FAIRNESS_BATCH || local.queue.is_empty() {
            return local.pop_slow(&self.remote);
        }
        local.queue.pop_front()
    }

    /// How many tasks wait in the queues. On the owner thread, outside a
    /// push or pop (else only the remote queue is counted).
    pub(crate) fn len(&self) -> usize {
        let local = self
            .local
            .borrow()
            .map_or(0, |l| l.queue.len() + l.urgent.len());
        local + self.remote.len()
    }

    /// Whether no task waits in any queue.
    pub(crate) fn is_idle(&self) -> bool {
        self.remote.is_empty()
            && self
                .local
                .borrow()
                .is_none_or(|l| l.queue.is_empty() && l.urgent.is_empty())
    }

    /// Marks the loop as parked until the returned guard is dropped: only
    /// then may a wake be urgent, which saves the common wake a look at the
    /// thread's urgent mark. Called on the owner thread around every park.
    pub(crate) fn parking(&self) -> Parking<'_> {
        if let Some(mut local) = self.local.borrow() {
            if local.mode == Mode::Running {
                local.mode = Mode::InPark;
            }
        }
        Parking(self)
    }

    /// See [`Sleep::prepare`].
    pub(crate) fn prepare_sleep(&self, how: Sleeper<'_>) -> bool {
        self.sleep.prepare(how)
    }

    /// See [`Sleep::set_unpark`].
    pub(crate) fn set_unpark(&self, waker: Option<Waker>) {
        self.sleep.set_unpark(waker);
    }

    /// See [`Sleep::awake`].
    pub(crate) fn awake(&self) {
        self.sleep.awake();
    }

    /// Tells the loop to look again, from any thread.
    pub(crate) fn notify(&self) {
        if self.local.is_owner() {
            self.sleep.notify_local();
        } else {
            self.sleep.notify();
        }
    }

    /// Drops every queued task, refuses new remote ones, and forgets the
    /// futures asleep on the executor. Called when the executor is dropped,
    /// on its own thread.
    pub(crate) fn close(&self) {
        if let Some(mut local) = self.local.borrow() {
            local.mode = Mode::Closed;
        }
        self.remote.close();
        while self.pop().is_some() {}
        self.sleep.forget_futures();
    }
}

/// What the loop of a [`Local`] is doing, as a wake on its thread needs to
/// know.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Running tasks: a wake queues at the back.
    Running,
    /// Inside `Park::park` (see [`RunQueue::parking`]), the non-blocking
    /// turn included: the reactor's turn runs, and an urgent wake goes to
    /// the urgent lane. Not the sleep protocol's `PARKED`, which only a
    /// park that may block sets.
    InPark,
    /// The executor was dropped: new tasks are dropped, not queued.
    Closed,
}

impl Local {
    /// Queues a task woken while the loop is parked: in the urgent lane
    /// during an urgent wake (and then the next pop takes the slow path,
    /// which looks there first), at the back of the queue otherwise. Out of
    /// line: the loop is parked once in 64 polls at most.
    #[inline(never)]
    fn push_parked(&mut self, runnable: Runnable) {
        if bureau_coop::is_urgent() {
            self.urgent.push_back(runnable);
            self.pops = FAIRNESS_BATCH;
        } else {
            self.queue.push_back(runnable);
        }
    }

    /// The pop that is not simply the queue's front: urgent tasks first,
    /// then, every [`FAIRNESS_BATCH`] pops or when the queue is empty, the
    /// remote queue pulled in.
    #[inline(never)]
    fn pop_slow(&mut self, remote: &ConcurrentQueue<Runnable>) -> Option<Runnable> {
        if let Some(runnable) = self.urgent.pop_front() {
            // Stay on this path while urgent tasks wait.
            self.pops = FAIRNESS_BATCH;
            return Some(runnable);
        }
        self.pops = 0;
        for _ in 0..remote.len() {
            match remote.pop() {
                Ok(runnable) => self.queue.push_back(runnable),
                Err(_) => break,
            }
        }
        self.queue.pop_front()
    }
}

/// The loop's park, from [`RunQueue::parking`]; ends it when dropped (also
/// if the parker panics).
pub(crate) struct Parking<'a>(&'a RunQueue);

impl Drop for Parking<'_> {
    fn drop(&mut self) {
        if let Some(mut local) = self.0.local.borrow() {
            if local.mode == Mode::InPark {
                local.mode = Mode::Running;
            }
        }
    }
}

/// A value that only the thread which created it may touch.
///
/// Other threads get `None` from [`OwnerCell::borrow`], so the
/// cell is `Sync` without a lock; a `RefCell` inside catches reentrant use
/// from the owner thread itself.
struct OwnerCell<T> {
    owner: u64,
    value: RefCell<T>,
}

// SAFETY: `value` is only reached through `borrow`, which first checks that the
// calling thread is `owner`; so the `RefCell` is never touched by two threads,
// and `Sync` only lets other threads fail that check. `T: Send` because the
// cell, and so `T`, may be dropped on another thread once the owner is done.
unsafe impl<T: Send> Sync for OwnerCell<T> {}

impl<T> OwnerCell<T> {
    fn new(value: T) -> Self {
        OwnerCell {
            owner: current_thread_id(),
            value: RefCell::new(value),
        }
    }

    fn is_owner(&self) -> bool {
        current_thread_id() == self.owner
    }

    /// The value, if this is the owner thread and it is not borrowed
    /// already (reentrant use on the owner thread also gets `None`).
    fn borrow(&self) -> Option<RefMut<'_, T>> {
        if !self.is_owner() {
            return None;
        }
        self.value.try_borrow_mut().ok()
    }
}

/// A number that names the current thread for as long as the process lives
/// (a `ThreadId` would cost a reference-count update to read).
fn current_thread_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static ID: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    ID.with(|id| *id)
}
