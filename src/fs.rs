//! The asynchronous twins of `std::fs`, run on the blocking pool.
