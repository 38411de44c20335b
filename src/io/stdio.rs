//! The process's standard streams as asynchronous handles: [`stdin`],
//! [`stdout`] and [`stderr`], served by the blocking pool.
//!
//! Descriptors 0, 1 and 2 are usually shared with other processes (the
//! shell, the parent, the terminal), and `O_NONBLOCK` lives on the open
//! file description they share, not on the descriptor: setting it here
//! would make the other processes' reads and writes fail with `EAGAIN`,
//! and a terminal left non-blocking breaks the shell after we exit. A
//! `dup` shares the description too. The reactor can only wait on
//! non-blocking descriptors, so the standard streams stay blocking and are
//! read and written by jobs on the pool, through std's own handles: that
//! keeps our bytes in order with `print!`'s, shares std's stdin buffer
//! (bytes std read ahead are not skipped), and treats a closed descriptor
//! as std does (reads see the end, writes are dropped).
//!
//! Ground rules, which every function below keeps:
//! - Nothing here sets `O_NONBLOCK`, and nothing blocks the caller's
//!   thread: the only blocking calls run in a job on the pool. A job that
//!   finds the descriptor non-blocking anyway (someone else set it) waits
//!   in `poll` on its pool thread and tries again.
//! - Each stream has one state for the whole process, in a static: every
//!   handle reads from the same read-ahead or writes into the same buffer.
//!   Dropping a handle loses no byte, and the bytes of one write call (up
//!   to [`CAPACITY`]) stay together.
//! - At most one job per stream runs at a time (`running`), and only it
//!   moves bytes between the buffer and the descriptor. It clears
//!   `running` in the same critical section in which it finds nothing more
//!   to do, so a handle that sees `running` set can count on the job
//!   looking at the state again.
//! - The lock is held to move bytes and flags, never across I/O.
//! - A handle that must wait leaves its waker in `waiters` under the lock;
//!   the job takes the whole list under the lock each time it changes the
//!   state and wakes it after unlocking, so no wake is lost.

use crate::sync::lock;
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use futures_lite::{AsyncRead, AsyncWrite};
use rustix::event::{PollFd, PollFlags};

/// How many bytes a stream's shared buffer holds: how far stdin reads
/// ahead at most, and how much stdout or stderr takes before a write waits
/// for the pool to catch up.
const CAPACITY: usize = 64 * 1024;

/// The process's standard input, read on the blocking pool; made by
/// [`stdin()`].
///
/// Every handle reads from one buffer shared by the process. When a read
/// finds it empty, a job on the pool makes one `read` of up to 64 KiB from
/// std's `io::stdin()` into it; nothing is read while no reader waits.
/// Bytes read but not yet taken are not lost when a handle is dropped but
/// go to the next read of any handle (a child process that inherits stdin
/// does not see them). The loop never waits:
/// while stdin is a terminal or a pipe with nothing to read, the job waits
/// in `read` on its pool thread (which does not keep the process from
/// exiting). An end of file is returned once each time the descriptor
/// reports one, so reading on after Ctrl-D at a terminal waits for more
/// input, as std does.
///
/// ```
/// use std::time::Duration;
/// use bureau::io::AsyncReadExt;
/// bureau::block_on(async {
///     let mut input = bureau::io::stdin();
///     let mut buf = [0; 64];
///     // Whatever stdin is here (a terminal, a pipe, /dev/null), the loop
///     // goes on: the read ends, or the timeout does.
///     let _ = bureau::timeout(Duration::from_millis(10), input.read(&mut buf)).await;
/// });
/// ```
pub struct Stdin {
    reader: &'static Reader,
}

/// The process's standard output, written on the blocking pool; made by
/// [`stdout()`].
///
/// Every handle writes into one 64 KiB buffer shared by the process, which
/// a job on the pool writes to std's `io::stdout()` and flushes. So bytes
/// reach the descriptor soon after the write returns, even without a
/// flush, in the order they were written, after what `print!` wrote
/// before them. A write of up to 64 KiB goes in whole or waits for room,
/// so two handles' writes never interleave inside one write call (a line
/// written with one `write_all`), as std's own writes do not.
///
/// - `flush().await` waits until every byte that any handle wrote before
///   it has reached the descriptor (or failed to).
/// - A write error met by the job is returned by the next write or flush
///   of any handle.
/// - `close().await` flushes; it leaves the descriptor open.
/// - At exit, bytes not written yet are lost: when `main` returns or
///   `std::process::exit` runs, nothing waits for the pool. Flush first.
///
/// ```
/// use bureau::io::AsyncWriteExt;
/// bureau::block_on(async {
///     let mut out = bureau::io::stdout();
///     out.write_all(b"one line, written whole\n").await?;
///     out.flush().await
/// }).unwrap();
/// ```
pub struct Stdout {
    handle: WriteHandle,
}

/// The process's standard error, written on the blocking pool; made by
/// [`stderr()`]. It works as [`Stdout`] does (one buffer shared by every
/// handle, written to std's `io::stderr()` soon after each write; flush to
/// wait for it, and before the process exits).
///
/// ```
/// use bureau::io::AsyncWriteExt;
/// bureau::block_on(async {
///     let mut err = bureau::io::stderr();
///     err.write_all(b"a warning\n").await?;
///     err.flush().await
/// }).unwrap();
/// ```
pub struct Stderr {
    handle: WriteHandle,
}

/// A handle to the process's standard input; see [`Stdin`]. Each call
/// returns a new handle over the same shared reader.
///
/// ```
/// use bureau::io::{AsyncBufReadExt, BufReader};
/// use bureau::stream::StreamExt;
/// use std::time::Duration;
/// bureau::block_on(async {
///     let mut lines = BufReader::new(bureau::io::stdin()).lines();
///     // The first line, if one comes within 10 ms.
///     let _first = bureau::timeout(Duration::from_millis(10), lines.next()).await;
/// });
/// ```
pub fn stdin() -> Stdin {
    Stdin { reader: &STDIN }
}

/// A handle to the process's standard output; see [`Stdout`]. Each call
/// returns a new handle over the same shared writer.
///
/// ```
/// use bureau::io::AsyncWriteExt;
/// bureau::block_on(async {
///     bureau::io::stdout().write_all(b"hello\n").await?;
///     bureau::io::stdout().flush().await
/// }).unwrap();
/// ```
pub fn stdout() -> Stdout {
    Stdout {
        handle: WriteHandle::new(&STDOUT),
    }
}

/// A handle to the process's standard error; see [`Stderr`]. Each call
/// returns a new handle over the same shared writer.
///
/// ```
/// use bureau::io::AsyncWriteExt;
/// bureau::block_on(async {
///     bureau::io::stderr().write_all(b"warning: nothing is wrong\n").await?;
///     bureau::io::stderr().flush().await
/// }).unwrap();
/// ```
pub fn stderr() -> Stderr {
    Stderr {
        handle: WriteHandle::new(&STDERR),
    }
}

impl AsyncRead for Stdin {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        bureau_coop::poll_budgeted(cx, |cx| self.reader.poll_read(cx, buf))
    }
}

/// `AsyncWrite` for a standard output stream: every call goes to its
/// shared writer (`WriteHandle`), and closing only flushes, as the stream
/// stays open for the rest of the process.
macro_rules! write_through_handle {
    ($($stream:ty),*) => {$(
        impl AsyncWrite for $stream {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().handle.poll_write(cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().handle.poll_flush(cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().handle.poll_flush(cx)
            }
        }
    )*};
}

write_through_handle!(Stdout, Stderr);

impl fmt::Debug for Stdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stdin").finish_non_exhaustive()
    }
}

impl fmt::Debug for Stdout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stdout").finish_non_exhaustive()
    }
}

impl fmt::Debug for Stderr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stderr").finish_non_exhaustive()
    }
}

/// The process's one reader of standard input.
static STDIN: Reader = Reader {
    state: Mutex::new(ReaderState {
        ahead: VecDeque::new(),
        running: false,
        end: None,
        waiters: Vec::new(),
    }),
};

/// The process's one writer of standard output.
static STDOUT: Writer = Writer::new(Target::Out);

/// The process's one writer of standard error.
static STDERR: Writer = Writer::new(Target::Err);

/// The shared reader of standard input.
struct Reader {
    state: Mutex<ReaderState>,
}

/// What the stdin job and the handles share.
struct ReaderState {
    /// Bytes read from the descriptor and not taken yet; at most
    /// [`CAPACITY`], and only the job adds to it.
    ahead: VecDeque<u8>,
    /// A job reads on the pool.
    running: bool,
    /// An end of file (`Ok`) or an error the job met, for the first read
    /// that finds `ahead` empty. While it is set, no job starts.
    end: Option<io::Result<()>>,
    /// Handles waiting for bytes or an end.
    waiters: Vec<Waker>,
}

impl Reader {
    /// Takes read-ahead bytes, or the end, or waits for the job.
    fn poll_read(&'static self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut st = lock(&self.state);
        if !st.ahead.is_empty() {
            let n = buf.len().min(st.ahead.len());
            for (to, from) in buf.iter_mut().zip(st.ahead.drain(..n)) {
                *to = from;
            }
            return Poll::Ready(Ok(n));
        }
        if let Some(end) = st.end.take() {
            return Poll::Ready(end.map(|()| 0));
        }
        self.start(&mut st);
        register(&mut st.waiters, cx.waker());
        Poll::Pending
    }

    /// Starts the job unless one runs. Called under the lock, so the job's
    /// first look at the state comes after the caller's.
    fn start(&'static self, st: &mut ReaderState) {
        if !st.running {
            crate::unblock(move || self.fill()).detach();
            st.running = true;
        }
    }

    /// The job: one `read` into `ahead`, for a reader that waits. One, not
    /// a loop that reads on ahead: a pool thread parked in `read` on an
    /// idle terminal holds std's stdin lock and a thread of the pool, and
    /// bytes it took early would be lost to a child that inherits stdin.
    fn fill(&self) {
        let mut chunk = vec![0; CAPACITY];
        let room = CAPACITY.saturating_sub(lock(&self.state).ahead.len());
        // `ahead` is only ever filled here, and emptied by readers, so a
        // job finds room unless a reader started it with bytes waiting.
        let result = (room > 0).then(|| caught(|| read_blocking(&mut chunk[..room])));
        let waiters = {
            let mut st = lock(&self.state);
            match result {
                Some(Ok(0)) => st.end = Some(Ok(())),
                Some(Ok(n)) => st.ahead.extend(&chunk[..n]),
                Some(Err(e)) => st.end = Some(Err(e)),
                None => {}
            }
            st.running = false;
            std::mem::take(&mut st.waiters)
        };
        waiters.into_iter().for_each(Waker::wake);
    }
}

/// Which standard stream a writer writes to.
#[derive(Clone, Copy)]
enum Target {
    Out,
    Err,
}

/// The shared writer of standard output or standard error.
struct Writer {
    target: Target,
    state: Mutex<WriterState>,
}

/// What a writer's job and its handles share.
struct WriterState {
    /// Bytes written by handles and not taken by the job yet, in order; at
    /// most [`CAPACITY`].
    pending: Vec<u8>,
    /// How many bytes the handles ever wrote.
    accepted: u64,
    /// How many of them the job is done with (written, or lost to an
    /// error); a flush waits for it to reach `accepted` as it was when the
    /// flush began.
    done: u64,
    /// A job writes on the pool; it alone takes from `pending`.
    running: bool,
    /// The first write error not returned yet.
    error: Option<io::Error>,
    /// Handles waiting for room in `pending` or for `done` to grow.
    waiters: Vec<Waker>,
}

impl Writer {
    /// A writer to `target`, with nothing written yet.
    const fn new(target: Target) -> Writer {
        Writer {
            target,
            state: Mutex::new(WriterState {
                pending: Vec::new(),
                accepted: 0,
                done: 0,
                running: false,
                error: None,
                waiters: Vec::new(),
            }),
        }
    }

    /// Takes `buf` into `pending` (whole if it fits in [`CAPACITY`]), or
    /// waits for room.
    fn poll_write(&'static self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut st = lock(&self.state);
        if let Some(e) = st.error.take() {
            return Poll::Ready(Err(e));
        }
        let room = CAPACITY.saturating_sub(st.pending.len());
        let n = if buf.len() <= room {
            buf.len()
        } else if buf.len() > CAPACITY {
            room
        } else {
            0
        };
        if n == 0 {
            register(&mut st.waiters, cx.waker());
            return Poll::Pending;
        }
        st.pending.extend_from_slice(&buf[..n]);
        st.accepted += n as u64;
        if !st.running {
            // Under the lock, as for the reader.
            crate::unblock(move || self.drain()).detach();
            st.running = true;
        }
        Poll::Ready(Ok(n))
    }

    /// Waits until the job is done with the first `goal` bytes (`None`:
    /// all bytes written so far, and `goal` remembers that count).
    fn poll_flush(&self, cx: &mut Context<'_>, goal: &mut Option<u64>) -> Poll<io::Result<()>> {
        let mut st = lock(&self.state);
        let upto = *goal.get_or_insert(st.accepted);
        if st.done < upto {
            register(&mut st.waiters, cx.waker());
            return Poll::Pending;
        }
        *goal = None;
        Poll::Ready(st.error.take().map_or(Ok(()), Err))
    }

    /// The job: writes what is pending, one swap at a time, until nothing
    /// is.
    fn drain(&self) {
        let mut chunk = Vec::with_capacity(CAPACITY);
        let mut result = Ok(());
        loop {
            let (waiters, more) = {
                let mut st = lock(&self.state);
                st.done += chunk.len() as u64;
                if let Err(e) = std::mem::replace(&mut result, Ok(())) {
                    st.error.get_or_insert(e);
                }
                chunk.clear();
                std::mem::swap(&mut st.pending, &mut chunk);
                let more = !chunk.is_empty();
                st.running = more;
                (std::mem::take(&mut st.waiters), more)
            };
            waiters.into_iter().for_each(Waker::wake);
            if !more {
                return;
            }
            result = caught(|| self.target.write_all(&chunk));
        }
    }
}

impl Target {
    /// Writes `bytes` to std's handle and flushes it, so they reach the
    /// descriptor.
    fn write_all(self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Target::Out => write_blocking(&mut io::stdout().lock(), bytes),
            Target::Err => write_blocking(&mut io::stderr().lock(), bytes),
        }
    }
}

/// What one handle of stdout or stderr keeps: its writer, and the goal of
/// a flush in progress.
struct WriteHandle {
    writer: &'static Writer,
    /// How many bytes the flush in progress waits for. A write drops it, so
    /// a flush abandoned before a write cannot end the next flush early.
    flush_goal: Option<u64>,
}

impl WriteHandle {
    fn new(writer: &'static Writer) -> WriteHandle {
        WriteHandle {
            writer,
            flush_goal: None,
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        bureau_coop::poll_budgeted(cx, |cx| {
            self.flush_goal = None;
            self.writer.poll_write(cx, buf)
        })
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.writer.poll_flush(cx, &mut self.flush_goal)
    }
}

/// On the pool: one read from std's stdin.
fn read_blocking(buf: &mut [u8]) -> io::Result<usize> {
    let mut stdin = io::stdin().lock();
    loop {
        match stdin.read(buf) {
            Err(e) => wait_to_retry(e, stdin.as_fd(), PollFlags::IN)?,
            done => return done,
        }
    }
}

/// On the pool: writes all of `bytes` to `to` and flushes it.
fn write_blocking(to: &mut (impl Write + AsFd), mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match to.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) => wait_to_retry(e, to.as_fd(), PollFlags::OUT)?,
        }
    }
    loop {
        match to.flush() {
            Ok(()) => return Ok(()),
            Err(e) => wait_to_retry(e, to.as_fd(), PollFlags::OUT)?,
        }
    }
}

/// After a failed call on `fd`: `Ok` to try again, at once after an
/// interruption, or once `poll` says `fd` is ready after `WouldBlock` (the
/// description was made non-blocking by someone else); any other error is
/// returned.
fn wait_to_retry(e: io::Error, fd: BorrowedFd<'_>, ready: PollFlags) -> io::Result<()> {
    match e.kind() {
        io::ErrorKind::Interrupted => Ok(()),
        io::ErrorKind::WouldBlock => loop {
            match rustix::event::poll(&mut [PollFd::new(&fd, ready)], None) {
                Err(rustix::io::Errno::INTR) => continue,
                other => return other.map(drop).map_err(io::Error::from),
            }
        },
        _ => Err(e),
    }
}

/// Runs a job's blocking call, turning a panic into an error, so the job
/// still clears `running` and wakes the waiting handles.
fn caught<T>(call: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    catch_unwind(AssertUnwindSafe(call))
        .unwrap_or_else(|_| Err(io::Error::other("a standard stream's call panicked")))
}

/// Adds `waker` to `waiters` unless it is there already.
fn register(waiters: &mut Vec<Waker>, waker: &Waker) {
    if !waiters.iter().any(|w| w.will_wake(waker)) {
        waiters.push(waker.clone());
    }
}
