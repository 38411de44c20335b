//! Shared pieces of the benchmark programs: statistics, readings of `/proc`,
//! the file-descriptor limit, the HTTP framing every HTTP server uses, and
//! the lateness of timer ticks.
//!
//! Nothing here may depend on a runtime: the orchestrator, the load
//! generator and the servers of every runtime all link it, and none of them
//! may pay for another runtime's code.

pub mod http;
pub mod limits;
pub mod procfs;
pub mod stats;
pub mod ticks;
