//! Under `--cfg loom`, inside a user's model: bureau's own bookkeeping runs
//! as single steps, so that loom spends its search on the user's code.
//!
//! bureau's cross-thread protocols (the run queue, the sleep protocol, the
//! parker, the pool) are checked op by op by bureau's own models. Inside a
//! user's model loom would interleave them op by op again, and the user
//! would wait minutes for interleavings of bureau's internals that their
//! code cannot tell apart. So the facade's `block_on` and `unblock` call
//! `enable` first, and from then on each stretch of bureau's code wrapped
//! in [`internal`] runs with loom's exploration stopped: loom runs it
//! straight through, as one step, and explores only around it. The user's
//! code (a poll, a job's `f`, the drop of what a job or a task holds, a
//! waker bureau did not make), and every call that may block or yield,
//! runs in [`external`], with exploration on again. What the user can
//! observe of bureau is explored in full: a job's completion against the
//! poll that looks for it (`Caught`'s hand-off lock), and the virtual
//! clock's jump against a wake (the stand-in poller's lock).
//!
//! The invariants that keep loom's search consistent:
//!
//! - A thread never switches out inside [`internal`]. loom only switches
//!   threads at a blocking call, a yield, or a choice it explores; inside
//!   [`internal`] it explores no choice, every blocking call and yield is
//!   wrapped in [`external`], and a lock taken there by `lock` that
//!   another thread holds is waited for in [`external`] too.
//! - Every execution of a model makes the same steps, so that loom can
//!   replay a choice it recorded. The mode is per OS thread (one test) and
//!   stays on once on, so it is on from the start of every execution but
//!   the first; in the first it comes on at the first `block_on` or
//!   `unblock`, before which the facade runs nothing of bureau's.
//!
//! What the single steps do not explore:
//!
//! - Another thread running between a thread's last explored operation and
//!   the step that follows it: loom switches threads only before an
//!   explored operation, so a step runs right after the operation before
//!   it (another thread's steps come before that operation or after the
//!   step). A point before every step would close this, and cost what the
//!   steps save (two jobs: 466 interleavings became more than 680,000).
//!   Two steps' order matters to the user only through the explored races
//!   above, by design, and bureau's own models check the protocols; where
//!   it mattered anyway (the pool counted a worker idle before a cancelled
//!   job's captures were dropped, and left the next job to it), the run
//!   with every step explored found it: `BUREAU_LOOM_EXPLORE_ALL=1`, which
//!   CI runs on `examples/loom-user`.
//! - A waker of the user's that bureau clones or drops while it registers
//!   a timer (a user polling a `Timer` with a waker of their own): it runs
//!   inside bureau's step.
//!
//! In a normal build both calls are `f()`, inlined: this module must never
//! cost a normal build anything.

#[cfg(loom)]
mod imp {
    use std::cell::Cell;

    // loom runs a model's threads one at a time on the test's OS thread, so
    // std's thread-locals are per model, shared by its threads: `DEPTH` is
    // that of the one thread inside `internal`, if any.
    std::thread_local! {
        /// Whether the facade runs in this test's models (bureau's own
        /// models of its crates never turn it on, and explore everything).
        static ON: Cell<bool> = const { Cell::new(false) };
        /// How deep the running thread is in nested `internal` calls.
        static DEPTH: Cell<usize> = const { Cell::new(0) };
    }

    /// The variable that keeps every step of bureau's explored: `1`.
    const EXPLORE_ALL: &str = "BUREAU_LOOM_EXPLORE_ALL";

    /// Makes bureau's code in `internal` single steps from now on, in the
    /// loom models run by this OS thread (one test), unless
    /// `BUREAU_LOOM_EXPLORE_ALL` is `1`. Any other value is reported on
    /// stderr, once per test, and ignored.
    pub fn enable() {
        if ON.get() {
            return;
        }
        match std::env::var(EXPLORE_ALL).as_deref() {
            Ok("1") => return,
            Ok("0") | Err(std::env::VarError::NotPresent) => {}
            Ok(other) => eprintln!(
                "bureau: {EXPLORE_ALL}={other:?} is not valid: it must be 1 (explore \
                 bureau's own steps too) or 0; bureau's steps stay single steps"
            ),
            Err(std::env::VarError::NotUnicode(value)) => eprintln!(
                "bureau: {EXPLORE_ALL}={value:?} is not valid: it must be 1 or 0; \
                 bureau's steps stay single steps"
            ),
        }
        ON.set(true);
    }

    /// Whether bureau's code runs in single steps here (a user's model).
    pub fn enabled() -> bool {
        ON.get()
    }

    /// Runs `f`, bureau's own bookkeeping, as one step of the model.
    pub fn internal<R>(f: impl FnOnce() -> R) -> R {
        if !ON.get() {
            return f();
        }
        let depth = DEPTH.get();
        DEPTH.set(depth + 1);
        if depth == 0 {
            loom::stop_exploring();
        }
        let _leave = Leave;
        f()
    }

    /// Leaves an `internal` stretch (also when it unwinds).
    struct Leave;

    impl Drop for Leave {
        fn drop(&mut self) {
            let depth = DEPTH.get() - 1;
            DEPTH.set(depth);
            if depth == 0 {
                loom::explore();
            }
        }
    }

    /// Runs `f` (user code, or a call that may block or yield) explored
    /// again, from inside an `internal` stretch or not.
    pub fn external<R>(f: impl FnOnce() -> R) -> R {
        let depth = DEPTH.replace(0);
        if depth > 0 {
            loom::explore();
        }
        let _back = Back(depth);
        f()
    }

    /// Returns to the `internal` stretch that `external` left (also when
    /// `f` unwinds).
    struct Back(usize);

    impl Drop for Back {
        fn drop(&mut self) {
            if self.0 > 0 {
                DEPTH.set(self.0);
                loom::stop_exploring();
            }
        }
    }

    /// Locks `mutex`; inside `internal`, a lock held by a thread that loom
    /// switched out is waited for explored, as a blocking call must be.
    pub fn lock<T>(mutex: &loom::sync::Mutex<T>) -> loom::sync::MutexGuard<'_, T> {
        use std::sync::{PoisonError, TryLockError};
        if DEPTH.get() > 0 {
            match mutex.try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
            return external(|| mutex.lock().unwrap_or_else(PoisonError::into_inner));
        }
        mutex.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(loom)]
pub use imp::{enable, enabled, external, internal, lock};

/// Runs `f`, bureau's own bookkeeping; under loom, in a user's model, as
/// one step of the model (see the module comment).
///
/// ```
/// assert_eq!(bureau_coop::opaque::internal(|| 1 + 1), 2);
/// ```
#[cfg(not(loom))]
#[inline(always)]
pub fn internal<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Runs `f`, user code or a call that may block; under loom, explored
/// again from inside [`internal`].
///
/// ```
/// assert_eq!(bureau_coop::opaque::external(|| 1 + 1), 2);
/// ```
#[cfg(not(loom))]
#[inline(always)]
pub fn external<R>(f: impl FnOnce() -> R) -> R {
    f()
}
