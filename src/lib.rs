//! bureau: a small async runtime in the shape of Node's event loop.
//!
//! One thread runs an executor that polls futures; a reactor built on
//! `polling` tells it when sockets and timers are ready; a separate thread
//! pool runs the calls that can only block. The three meet here, in
//! [`block_on`].

// No unsafe code here, but for the one module that fills hyper's
// uninitialised read buffers (each block argued in `src/hyper.rs`).
#![deny(unsafe_code)]

pub mod fs;
#[cfg(feature = "hyper")]
#[allow(unsafe_code)]
pub mod hyper;
pub mod io;
pub mod net;
pub mod process;
mod runtime;
mod stats;
mod sync;

pub use bureau_executor::{LocalExecutor, Task, yield_now};
pub use runtime::{block_on, spawn, unblock};
pub use stats::{Delay, PoolStats, ReactorStats, SlowPoll, Stats, on_slow_poll, stats};

pub use bureau_reactor::signal;
pub use bureau_reactor::{Async, TimedOut, Timer, timeout};

pub use futures_lite::{future, prelude, stream};

pub use bureau_blocking::Unblock;

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
