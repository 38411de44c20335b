//! The timer queue gives memory back: a million timers set and cancelled,
//! or set and fired in one burst, leave the heap where it was before them.
//! Its own test binary, because its global allocator counts every
//! allocation of the process; it must never share the binary with another
//! test.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bureau_reactor::{Parker, Timer};
use common::{block_on, bounded};
use futures_lite::future::poll_once;

/// The system allocator, counting the bytes allocated and not yet freed.
struct Counting;

/// Bytes allocated through [`Counting`] and not yet freed.
static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to `System` unchanged, with the caller's
// guarantees; the counting beside it touches no memory of the allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `alloc`, passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `alloc_zeroed`, passed on.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's guarantees for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's guarantees for `realloc`, passed on.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        // On failure the old block stays allocated, and so counted.
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_million_timers_cancelled_or_fired_in_a_burst_leave_the_heap_where_it_was() {
    bounded(60, || {
        // This thread drives the reactor, so no helper thread starts.
        let mut parker = Parker::new();
        // The reactor and this thread's buffers exist before the count.
        block_on(Timer::after(Duration::from_millis(1)));
        parker.park(Some(Duration::ZERO));
        let before = LIVE.load(Ordering::Relaxed);

        let start = Instant::now();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut timers: Vec<Timer> = (0..1_000_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Between 10 and 100 s: pending throughout, out of order.
                Timer::after(Duration::from_millis(10_000 + seed % 90_000))
            })
            .collect();
        for t in &mut timers {
            let polled = futures_lite::future::block_on(poll_once(t));
            assert!(polled.is_none(), "a timer 10 s away fired");
        }
        let peak = LIVE.load(Ordering::Relaxed);
        assert!(
            peak - before > 32 << 20,
            "a million pending timers took only {} B: were they registered?",
            peak - before
        );
        drop(timers);
        // A turn drops the cancelled timers' spare waker.
        parker.park(Some(Duration::ZERO));
        parker.park(Some(Duration::ZERO));
        let after = LIVE.load(Ordering::Relaxed);
        eprintln!(
            "heap: {before} B before, {peak} B with 1,000,000 timers, \
             {after} B after they were cancelled ({:?})",
            start.elapsed()
        );
        assert!(
            after.abs_diff(before) <= 1 << 20,
            "the heap went from {before} B to {after} B: the queue kept its high-water mark"
        );

        // A burst: a million timers due at one instant, fired by one turn
        // (those polled after the instant, on a slow machine, fire at once).
        let due = Instant::now() + Duration::from_millis(500);
        let mut timers: Vec<Timer> = (0..1_000_000).map(|_| Timer::at(due)).collect();
        for t in &mut timers {
            let _ = futures_lite::future::block_on(poll_once(t));
        }
        while Instant::now() < due {
            parker.park(Some(due - Instant::now()));
        }
        parker.park(Some(Duration::ZERO));
        for t in timers.iter_mut().filter(|t| t.will_fire()) {
            let fired = futures_lite::future::block_on(poll_once(t));
            assert_eq!(fired, Some(due));
        }
        drop(timers);
        parker.park(Some(Duration::ZERO));
        let fired = LIVE.load(Ordering::Relaxed);
        eprintln!("heap: {fired} B after a burst of 1,000,000 timers fired");
        assert!(
            fired.abs_diff(before) <= 1 << 20,
            "the heap went from {before} B to {fired} B: a fired burst left its wakers' room"
        );
    });
}
