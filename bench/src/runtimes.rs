//! The runtimes under test behind one trait, so that every in-process
//! workload is written once and runs the same code on each of them.
//!
//! Each impl uses its runtime the way its users would (its own spawn, yield,
//! timers and blocking pool) and must never add work of its own to the hot
//! path beyond turning a tokio `JoinHandle` into a plain output.

use futures_lite::{AsyncReadExt, StreamExt};
use std::future::Future;
use std::io;
use std::net::TcpStream;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

mod processes;

pub use processes::Processes;

/// One runtime, seen by a workload.
///
/// Every future is `Send` so that the same code also runs under
/// `tokio::spawn`; bureau and smol do not need it, and do not pay for it.
/// A runtime is a type without data (`'static`), so that a task may be an
/// `async fn` generic over it. Its child processes are [`Processes`].
pub trait Runtime: Processes + 'static {
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

    /// An interval timer of the runtime's.
    type Interval: Send + 'static;

    /// An interval that fires at `start`, then every `period` after it;
    /// made inside [`Runtime::block_on`]. A tick the thread was too busy
    /// to take fires as soon as it can, late, and the ticks after it keep
    /// their schedule: a burst that catches up, as bureau's and async-io's
    /// intervals do and tokio's `MissedTickBehavior::Burst`.
    fn interval_at(start: Instant, period: Duration) -> Self::Interval;

    /// Waits for the interval's next tick and returns the deadline it was
    /// due at.
    fn tick(interval: &mut Self::Interval) -> impl Future<Output = Instant> + Send + '_;

    /// A stream socket on the runtime's reactor.
    type Socket: Send + 'static;

    /// Puts a connected TCP socket on the runtime's reactor; made inside
    /// [`Runtime::block_on`].
    fn socket(stream: TcpStream) -> io::Result<Self::Socket>;

    /// Reads into `buf` what the socket holds, waiting until it holds
    /// something.
    fn read<'a>(
        socket: &'a mut Self::Socket,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
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

    type Interval = bureau::Timer;

    fn interval_at(start: Instant, period: Duration) -> Self::Interval {
        bureau::Timer::interval_at(start, period)
    }

    fn tick(interval: &mut Self::Interval) -> impl Future<Output = Instant> + Send + '_ {
        next_tick(interval)
    }

    type Socket = bureau::net::TcpStream;

    fn socket(stream: TcpStream) -> io::Result<Self::Socket> {
        bureau::Async::new(stream).map(bureau::net::TcpStream::from)
    }

    fn read<'a>(
        socket: &'a mut Self::Socket,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        socket.read(buf)
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

    type Interval = async_io::Timer;

    fn interval_at(start: Instant, period: Duration) -> Self::Interval {
        async_io::Timer::interval_at(start, period)
    }

    fn tick(interval: &mut Self::Interval) -> impl Future<Output = Instant> + Send + '_ {
        next_tick(interval)
    }

    type Socket = async_net::TcpStream;

    fn socket(stream: TcpStream) -> io::Result<Self::Socket> {
        async_net::TcpStream::try_from(stream)
    }

    fn read<'a>(
        socket: &'a mut Self::Socket,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        socket.read(buf)
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

    type Interval = tokio::time::Interval;

    fn interval_at(start: Instant, period: Duration) -> Self::Interval {
        tokio_interval_at(start, period)
    }

    async fn tick(interval: &mut Self::Interval) -> Instant {
        interval.tick().await.into_std()
    }

    type Socket = tokio::net::TcpStream;

    fn socket(stream: TcpStream) -> io::Result<Self::Socket> {
        stream.set_nonblocking(true)?;
        tokio::net::TcpStream::from_std(stream)
    }

    fn read<'a>(
        socket: &'a mut Self::Socket,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        tokio::io::AsyncReadExt::read(socket, buf)
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

    type Interval = tokio::time::Interval;

    fn interval_at(start: Instant, period: Duration) -> Self::Interval {
        tokio_interval_at(start, period)
    }

    async fn tick(interval: &mut Self::Interval) -> Instant {
        interval.tick().await.into_std()
    }

    type Socket = tokio::net::TcpStream;

    fn socket(stream: TcpStream) -> io::Result<Self::Socket> {
        stream.set_nonblocking(true)?;
        tokio::net::TcpStream::from_std(stream)
    }

    fn read<'a>(
        socket: &'a mut Self::Socket,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        tokio::io::AsyncReadExt::read(socket, buf)
    }
}

/// The next tick of bureau's or async-io's interval, which is a stream
/// that never ends.
async fn next_tick(interval: &mut (impl futures_lite::Stream<Item = Instant> + Unpin)) -> Instant {
    interval
        .next()
        .await
        .expect("bench: an interval has a next tick")
}

/// tokio's interval at `start`, whose missed ticks fire in a burst (its
/// default, said here because the lateness figures depend on it).
fn tokio_interval_at(start: Instant, period: Duration) -> tokio::time::Interval {
    let mut interval = tokio::time::interval_at(start.into(), period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    interval
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
