//! What a spawned task costs in memory: its future once, plus a small
//! header. A global allocator counts the bytes that `spawn` allocates; this
//! binary holds one test, so nothing else allocates meanwhile. It must never
//! assert on timing.

use bureau_executor::LocalExecutor;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the bytes it hands out.
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator, which
// upholds `GlobalAlloc`'s contract; the counter has no effect on it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's `layout` obligations pass straight through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_spawned_task_holds_its_future_once() {
    let ex = LocalExecutor::new();
    // Warm the executor's own structures up, so only the task is counted.
    ex.spawn(async {}).detach();
    while ex.try_tick() {}

    let future = async {
        let buffer = [7u8; 4096];
        futures_lite::future::yield_now().await;
        buffer.iter().map(|&b| usize::from(b)).sum::<usize>()
    };
    let future_size = std::mem::size_of_val(&future);
    let before = ALLOCATED.load(Ordering::Relaxed);
    let task = ex.spawn(future);
    let spawned = ALLOCATED.load(Ordering::Relaxed) - before;
    assert!(
        spawned < future_size + 512,
        "spawning a {future_size}-byte future allocated {spawned} bytes"
    );
    while ex.try_tick() {}
    assert_eq!(futures_lite::future::block_on(task), 7 * 4096);
}
