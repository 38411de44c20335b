//! bureau's reactor: waits on sockets and timers in the kernel (through
//! `polling`, edge-triggered) and wakes the futures that wait on them, and
//! on signals (through an eventfd that the signal handlers write to).
//!
//! It must never poll futures or know about tasks, and never start a thread
//! unless a future waits outside any [`Parker`]-driven loop (then one helper
//! thread drives the reactor so the future still completes).
//!
//! ```
//! use std::time::Duration;
//! use bureau_reactor::{timeout, Timer, TimedOut};
//! futures_lite::future::block_on(async {
//!     Timer::after(Duration::from_millis(1)).await;
//!     assert_eq!(timeout(Duration::from_millis(1), Timer::never()).await, Err(TimedOut));
//! });
//! ```

// Under loom the parker drives a stand-in, so the real reactor's turn (and
// what only it uses) goes unused.
#![cfg_attr(loom, allow(dead_code))]

mod async_io;
mod clock;
mod listener;
// The stand-in reactor the loom models drive the parker against.
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_reactor;
mod parker;
mod reactor;
pub mod signal;
mod source;
mod sync;
mod tcp;
mod timer;
mod timer_queue;
mod timers;
mod udp;
mod unix;

pub use async_io::Async;
pub use parker::{Parker, Unparker};
pub use reactor::{Stats, stats};
pub use timer::{TimedOut, Timer, timeout};
