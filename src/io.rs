//! Asynchronous I/O: everything of `futures_lite::io` (the traits, their
//! extension methods, `copy`, `BufReader`, `Cursor`...), plus the
//! process's standard streams, [`stdin`], [`stdout`] and [`stderr`].
//!
//! This file only gathers names: the standard streams live in
//! `io/stdio.rs`, and nothing here may block the event loop.
//!
//! ```
//! use bureau::io::{self, AsyncWriteExt};
//! bureau::block_on(async {
//!     let mut out = io::stdout();
//!     out.write_all(b"hello\n").await?;
//!     out.flush().await
//! }).unwrap();
//! ```

pub use futures_lite::io::*;

mod stdio;

pub use stdio::{Stderr, Stdin, Stdout, stderr, stdin, stdout};
