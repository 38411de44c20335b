//! Asynchronous networking: cheap-to-clone TCP, UDP and Unix socket handles over [`crate::Async`].
