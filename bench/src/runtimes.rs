//! The runtimes under test behind one trait, so that every in-process
//! workload is written once and runs the same code on each of them.
//!
//! Each impl uses its runtime the way its users would (its own spawn, yield,
//! timers and blocking pool) and must never add work of its own to the hot
//! path beyond turning a tokio `JoinHandle` into a plain output.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

/// One runtime, seen by a workload.
///
/// Every future is `Send` so that the same code also runs under
/// `tokio::spawn`; bureau and smol do not need it, and do not pay for it.
pub trait Runtime {
    /// The column this runtime fills, as printed.
    const NAME: &'static str;

    /// The handle of a spawned task.
    type Task<T: Send + 'static>: Future<Output = T> + Send + 'static;

    /// Runs `future` to completion on this thread, with the runtime's
    /// spawned tasks running beside it.
    fn block_on<F: Future>(future: F) -> F::Output;

    /// Spawns `future` as a task.
    fn spawn<F>(future: F) -> Self::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Lets the other tasks run once.
    fn yield_now() -> impl Future<Output = ()> + Send;

    /// Runs `f` on the runtime's blocking pool.
    fn unblock<T, F>(f: F) -> impl Future<Output = T> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static;

    /// Sleeps until `deadline` on the runtime's timers.
    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send;

    /// Reads a whole file through the runtime's file API.
    fn read_file(path: PathBuf) -> impl Future<Output = io::Result<Vec<u8>>> + Send;
}

/// bureau: its thread-local executor, reactor and pool.
pub struct Bureau;

impl Runtime for Bureau {
    const NAME: &'static str = "bureau";
    type Task<T: Send + 'static> = bureau::Task<T>;

    fn block_on<F: Future>(future: F) -> F::Output {
        bureau::block_on(future)
    }

    fn spawn<F>(future: F) -> Self::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        bureau::spawn(future)
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        bureau::yield_now()
    }

    fn unblock<T, F>(f: F) -> impl Future<Output = T> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        bureau::unblock(f)
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        let timer = bureau::Timer::at(deadline);
        async move {
            timer.await;
        }
    }

    fn read_file(path: PathBuf) -> impl Future<Output = io::Result<Vec<u8>>> + Send {
        bureau::fs::read(path)
    }
}

thread_local! {
    static SMOL: async_executor::LocalExecutor<'static> = const { async_executor::LocalExecutor::new() };
    static TOKIO: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("bench: cannot build tokio's current-thread runtime");
}

/// smol: async-executor's `LocalExecutor` driven by `async_io::block_on`,
/// with `blocking`'s pool.
pub struct Smol;

impl Runtime for Smol {
    const NAME: &'static str = "smol";
    type Task<T: Send + 'static> = async_executor::Task<T>;

    fn block_on<F: Future>(future: F) -> F::Output {
        SMOL.with(|ex| async_io::block_on(ex.run(future)))
    }

    fn spawn<F>(future: F) -> Self::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        SMOL.with(|ex| ex.spawn(future))
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }

    fn unblock<T, F>(f: F) -> impl Future<Output = T> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        blocking::unblock(f)
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        let timer = async_io::Timer::at(deadline);
        async move {
            timer.await;
        }
    }

    fn read_file(path: PathBuf) -> impl Future<Output = io::Result<Vec<u8>>> + Send {
        async_fs::read(path)
    }
}

/// tokio's current-thread runtime, tasks spawned onto a `LocalSet`.
pub struct TokioLocal;

/// tokio's current-thread runtime, tasks spawned with `tokio::spawn`.
pub struct TokioSpawn;

impl Runtime for TokioLocal {
    const NAME: &'static str = "local";
    type Task<T: Send + 'static> = Joined<T>;

    fn block_on<F: Future>(future: F) -> F::Output {
        TOKIO.with(|rt| tokio::task::LocalSet::new().block_on(rt, future))
    }

    fn spawn<F>(future: F) -> Self::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Joined(tokio::task::spawn_local(future))
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    fn unblock<T, F>(f: F) -> impl Future<Output = T> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Joined(tokio::task::spawn_blocking(f))
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        tokio::time::sleep_until(deadline.into())
    }

    fn read_file(path: PathBuf) -> impl Future<Output = io::Result<Vec<u8>>> + Send {
        tokio::fs::read(path)
    }
}

impl Runtime for TokioSpawn {
    const NAME: &'static str = "spawn";
    type Task<T: Send + 'static> = Joined<T>;

    fn block_on<F: Future>(future: F) -> F::Output {
        TOKIO.with(|rt| rt.block_on(future))
    }

    fn spawn<F>(future: F) -> Self::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Joined(tokio::spawn(future))
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    fn unblock<T, F>(f: F) -> impl Future<Output = T> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Joined(tokio::task::spawn_blocking(f))
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        tokio::time::sleep_until(deadline.into())
    }

    fn read_file(path: PathBuf) -> impl Future<Output = io::Result<Vec<u8>>> + Send {
        tokio::fs::read(path)
    }
}

/// A tokio `JoinHandle` whose output is the task's own: a task that panicked
/// or was cancelled fails the benchmark loudly.
pub struct Joined<T>(tokio::task::JoinHandle<T>);

impl<T> Future for Joined<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match ready!(Pin::new(&mut self.0).poll(cx)) {
            Ok(output) => Poll::Ready(output),
            Err(error) => panic!("bench: a tokio task failed: {error}"),
        }
    }
}
