//! The executor: tasks, run queues, the run loop, and the park/unpark
//! protocol.
//!
//! A [`LocalExecutor`] runs `!Send` futures on the thread that owns it. When
//! it has nothing to run it sleeps in a [`Park`]; the facade crate plugs the
//! reactor in there, so that the loop sleeps inside `epoll_wait`. This crate
//! knows nothing of epoll, timers or thread pools.
//!
//! # Examples
//!
//! ```
//! use bureau_executor::{LocalExecutor, ThreadParker};
//!
//! let ex = LocalExecutor::new();
//! let tasks: Vec<_> = (0..10).map(|i| ex.spawn(async move { i * i })).collect();
//! let sum = ex.block_on(&mut ThreadParker::new(), async {
//!     let mut sum = 0;
//!     for task in tasks {
//!         sum += task.await;
//!     }
//!     sum
//! });
//! assert_eq!(sum, 285);
//! ```

mod active;
mod executor;
mod park;
mod queue;
mod sleep;
mod slow;
mod stats;
mod sync;
mod task;
mod watch;

pub use bureau_coop::Delay;
pub use executor::LocalExecutor;
pub use futures_lite::future::yield_now;
pub use park::{Park, ThreadParker, ThreadUnparker, Unpark};
pub use slow::{DEFAULT_SLOW_POLL, Site, SlowPoll, on_slow_poll};
pub use stats::Stats;
pub use task::Task;
