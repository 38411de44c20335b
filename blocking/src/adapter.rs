//! `Unblock<T>`: a blocking `Read`/`Write`/`Seek`/`Iterator` used as its
//! async twin, with the blocking calls made on the pool.
//!
//! Data crosses between the async side and the pool thread through a
//! bounded pipe, so many small reads or writes cost one thread hop. This
//! module must never call `T`'s blocking methods on the caller's thread and
//! must never drop bytes it has read from `T` or been handed to write (only
//! `into_inner` drops unread bytes, and says so).

use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::pin::Pin;
use std::sync::PoisonError;
use std::task::{Context, Poll, ready};

use bureau_coop::Caught;

/// A job of the pool, awaited through a waker that catches panics.
type Task<T> = Caught<async_task::Task<T>>;
use futures_lite::future::{block_on, poll_fn};
use futures_lite::{AsyncRead, AsyncSeek, AsyncWrite, Stream};

use crate::pipe::{self, Reader, Writer};
use crate::unblock;

/// How many bytes (or items, for an iterator) the pipe holds by default.
const DEFAULT_CAPACITY: usize = 8 * 1024;

/// A blocking I/O handle or iterator, used asynchronously.
///
/// `Unblock<T>` is [`AsyncRead`] when `T` is [`Read`], [`AsyncWrite`] when
/// `T` is [`Write`], [`AsyncSeek`] when `T` is [`Seek`] and [`Stream`] when
/// `T` is an [`Iterator`]. The blocking calls run on the pool.
///
/// Reading reads ahead: bytes read from `T` but not yet taken are kept for
/// the next read, and [`SeekFrom::Current`] counts from what was taken. To
/// write to a seekable `T` after reading from it, seek first (for example
/// to `SeekFrom::Current(0)`), or the write lands after the read-ahead.
/// Writing is buffered: flush (or close) to see a write error. Items an
/// iterator produced ahead of the stream's consumer are dropped when the
/// handle stops streaming for another operation.
///
/// One job at a time works on `T`: a write (or seek, or `with_mut`) first
/// waits for a read already running on the pool to return, so a `T` whose
/// reads wait for the peer to hear from us is better split into a reading
/// and a writing handle.
///
/// ```
/// use bureau_blocking::Unblock;
/// use futures_lite::{AsyncReadExt, future::block_on};
///
/// let mut bytes = Unblock::new(std::io::Read::take(std::io::repeat(7), 3));
/// let mut out = Vec::new();
/// block_on(bytes.read_to_end(&mut out)).unwrap();
/// assert_eq!(out, [7, 7, 7]);
/// ```
pub struct Unblock<T> {
    state: State<T>,
    capacity: usize,
    /// Bytes read from `T` ahead of the reader and not taken yet.
    read_ahead: VecDeque<u8>,
    /// A write error found while stopping for an operation that could not
    /// return it; the next read, write, seek or flush returns it.
    pending_error: Option<io::Error>,
}

/// What the handle is doing now.
enum State<T> {
    /// Nothing runs on the pool; `None` only for the moment between
    /// taking the inner value out and starting the next job with it.
    Idle(Option<Box<T>>),
    /// A `with_mut` closure runs on the pool.
    WithMut(Task<Box<T>>),
    /// A pool thread fills the pipe from `T`'s iterator; the reader is a
    /// `Reader<T::Item>`, boxed because `T` is not known to be an iterator here.
    Streaming(Box<dyn Any + Send>, Task<Box<T>>),
    /// A pool thread fills the pipe with bytes read from `T`.
    Reading(Reader<u8>, Task<ReadEnd<T>>),
    /// A pool thread writes to `T` the bytes put in the pipe.
    Writing(Option<Writer<u8>>, Task<(io::Result<()>, Box<T>)>),
    /// A seek runs on the pool.
    Seeking(Task<(io::Result<u64>, Box<T>)>),
}

/// What a reading job hands back.
struct ReadEnd<T> {
    io: Box<T>,
    result: io::Result<()>,
    /// Bytes read from `T` that the pipe had no reader for any more.
    unsent: Vec<u8>,
}

impl<T> Unblock<T> {
    /// Wraps `io` with the default buffer of 8 KiB (or 8,192 items).
    ///
    /// ```
    /// use bureau_blocking::Unblock;
    /// use futures_lite::{StreamExt, future::block_on};
    ///
    /// let numbers = Unblock::new(1..=3);
    /// assert_eq!(block_on(numbers.collect::<Vec<_>>()), [1, 2, 3]);
    /// ```
    pub fn new(io: T) -> Unblock<T> {
        Unblock::with_capacity(DEFAULT_CAPACITY, io)
    }

    /// Wraps `io` with a buffer of `capacity` bytes (or items; at least one).
    ///
    /// ```
    /// use bureau_blocking::Unblock;
    /// use futures_lite::{AsyncReadExt, future::block_on};
    ///
    /// let mut text = Unblock::with_capacity(2, &b"hello"[..]);
    /// let mut out = String::new();
    /// block_on(text.read_to_string(&mut out)).unwrap();
    /// assert_eq!(out, "hello");
    /// ```
    pub fn with_capacity(capacity: usize, io: T) -> Unblock<T> {
        Unblock {
            state: State::Idle(Some(Box::new(io))),
            capacity: capacity.max(1),
            read_ahead: VecDeque::new(),
            pending_error: None,
        }
    }
}

impl<T: Send + 'static> Unblock<T> {
    /// Waits for what runs on the pool to stop, then runs `f` on the
    /// inner value on the pool and returns its result.
    ///
    /// Bytes already read ahead stay buffered for the next read.
    ///
    /// ```
    /// use bureau_blocking::Unblock;
    /// use futures_lite::{AsyncWriteExt, future::block_on};
    ///
    /// let mut out = Unblock::new(Vec::new());
    /// block_on(async {
    ///     out.write_all(b"abc").await.unwrap();
    ///     out.flush().await.unwrap();
    ///     assert_eq!(out.with_mut(|bytes| bytes.len()).await, 3);
    /// });
    /// ```
    pub async fn with_mut<R, F>(&mut self, f: F) -> R
    where
        F: FnOnce(&mut T) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.stop_keeping_errors().await;
        let mut io = self.take_idle();
        // The job lives in `state`, not in this future, so that dropping
        // this future cannot lose `io`.
        let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
        let out = slot.clone();
        self.state = State::WithMut(unblock(move || {
            let result = f(&mut io);
            *out.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
            io
        }));
        self.stop_keeping_errors().await;
        let result = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        result.unwrap_or_else(|| unreachable!("the finished job stored its result"))
    }

    /// Waits for what runs on the pool to stop and lends the inner value.
    ///
    /// Bytes handed to a write are written and flushed first, as
    /// [`with_mut`](Unblock::with_mut) does; a write error found doing so is
    /// kept, and the next read, write, seek or flush returns it. Bytes
    /// already read ahead stay buffered for the next read. The caller's
    /// thread then holds `T`: a blocking call made on it blocks that thread.
    ///
    /// ```
    /// use bureau_blocking::Unblock;
    /// use futures_lite::{AsyncWriteExt, future::block_on};
    ///
    /// let mut out = Unblock::new(Vec::new());
    /// block_on(async {
    ///     out.write_all(b"abc").await.unwrap();
    ///     let bytes = out.get_mut().await;
    ///     assert_eq!(bytes, b"abc");
    ///     bytes.clear();
    /// });
    /// ```
    pub async fn get_mut(&mut self) -> &mut T {
        self.stop_keeping_errors().await;
        match &mut self.state {
            State::Idle(Some(io)) => io,
            _ => unreachable!("a stopped handle is idle and holds its inner value"),
        }
    }

    /// Waits for what runs on the pool to stop and returns the inner value.
    ///
    /// Bytes read ahead and not taken are dropped, and so is a write error
    /// not yet reported: flush first to see it.
    ///
    /// ```
    /// use bureau_blocking::Unblock;
    /// use futures_lite::{AsyncWriteExt, future::block_on};
    ///
    /// let mut out = Unblock::new(Vec::new());
    /// let bytes = block_on(async {
    ///     out.write_all(b"abc").await.unwrap();
    ///     out.into_inner().await
    /// });
    /// assert_eq!(bytes, b"abc");
    /// ```
    pub async fn into_inner(mut self) -> T {
        self.stop_keeping_errors().await;
        *self.take_idle()
    }

    /// Stops, keeping a write error for the next operation that can return it.
    async fn stop_keeping_errors(&mut self) {
        if let Err(err) = poll_fn(|cx| self.poll_stop(cx)).await {
            self.pending_error.get_or_insert(err);
        }
    }

    /// The inner value of an idle handle.
    fn take_idle(&mut self) -> Box<T> {
        let io = match &mut self.state {
            State::Idle(io) => io.take(),
            _ => None,
        };
        io.unwrap_or_else(|| unreachable!("take_idle is called once, after poll_stop"))
    }

    /// Brings the handle back to `Idle`, waiting for the pool's job to end.
    fn poll_stop(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = match &mut self.state {
            State::Idle(_) => return Poll::Ready(Ok(())),
            State::WithMut(task) => {
                let io = ready!(Pin::new(task).poll(cx));
                self.state = State::Idle(Some(io));
                Ok(())
            }
            State::Streaming(reader, task) => {
                // Dropping the reader stops the iterating thread.
                *reader = Box::new(());
                let io = ready!(Pin::new(task).poll(cx));
                self.state = State::Idle(Some(io));
                Ok(())
            }
            State::Reading(reader, task) => {
                reader.close();
                let end = ready!(Pin::new(task).poll(cx));
                // The pipe's bytes were read before the unsent ones.
                self.read_ahead.extend(reader.take_buffered());
                self.read_ahead.extend(end.unsent);
                self.state = State::Idle(Some(end.io));
                // An error past what the reader took is not the reader's.
                Ok(())
            }
            State::Writing(writer, task) => {
                // Dropping the writer ends the pipe: the job writes what is
                // left, flushes and returns.
                *writer = None;
                let (result, io) = ready!(Pin::new(task).poll(cx));
                self.state = State::Idle(Some(io));
                result
            }
            State::Seeking(task) => {
                let (_, io) = ready!(Pin::new(task).poll(cx));
                self.state = State::Idle(Some(io));
                Ok(())
            }
        };
        Poll::Ready(result)
    }

    /// Stops and returns any error kept for later.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_stop(cx))?;
        match self.pending_error.take() {
            Some(err) => Poll::Ready(Err(err)),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl<T: Read + Send + 'static> AsyncRead for Unblock<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        bureau_coop::poll_budgeted(cx, |cx| {
            loop {
                if let State::Reading(reader, task) = &mut this.state {
                    let n = ready!(reader.poll_read(cx, buf));
                    if n > 0 {
                        return Poll::Ready(Ok(n));
                    }
                    // The job closed the pipe: it reached the end or an error,
                    // or it was told to stop by a stop that was then abandoned.
                    let end = ready!(Pin::new(task).poll(cx));
                    this.state = State::Idle(Some(end.io));
                    if end.unsent.is_empty() {
                        return Poll::Ready(end.result.map(|()| 0));
                    }
                    this.read_ahead.extend(end.unsent);
                    continue;
                }
                ready!(this.poll_idle(cx))?;
                if !this.read_ahead.is_empty() {
                    return Poll::Ready(this.read_ahead.read(buf));
                }
                let io = this.take_idle();
                let (reader, writer) = pipe::pipe(this.capacity);
                let capacity = this.capacity;
                this.state =
                    State::Reading(reader, unblock(move || fill_pipe(io, writer, capacity)));
            }
        })
    }
}

/// On the pool: reads from `io` into the pipe until the end, an error, or
/// the reader closing.
fn fill_pipe<T: Read>(mut io: Box<T>, mut writer: Writer<u8>, capacity: usize) -> ReadEnd<T> {
    let mut buf = vec![0; capacity];
    loop {
        let n = match io.read(&mut buf) {
            Ok(0) => {
                return ReadEnd {
                    io,
                    result: Ok(()),
                    unsent: Vec::new(),
                };
            }
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                return ReadEnd {
                    io,
                    result: Err(err),
                    unsent: Vec::new(),
                };
            }
        };
        let mut sent = 0;
        while sent < n {
            let k = block_on(poll_fn(|cx| writer.poll_write(cx, &buf[sent..n])));
            if k == 0 {
                let unsent = buf[sent..n].to_vec();
                return ReadEnd {
                    io,
                    result: Ok(()),
                    unsent,
                };
            }
            sent += k;
        }
    }
}

impl<T: Write + Send + 'static> AsyncWrite for Unblock<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        bureau_coop::poll_budgeted(cx, |cx| {
            loop {
                if let State::Writing(Some(writer), _) = &mut this.state {
                    let n = ready!(writer.poll_write(cx, buf));
                    if n > 0 {
                        return Poll::Ready(Ok(n));
                    }
                    // The job stopped taking bytes: it hit an error, which
                    // stopping returns.
                    ready!(this.poll_idle(cx))?;
                    continue;
                }
                ready!(this.poll_idle(cx))?;
                let io = this.take_idle();
                let (reader, writer) = pipe::pipe(this.capacity);
                let capacity = this.capacity;
                this.state = State::Writing(
                    Some(writer),
                    unblock(move || drain_pipe(io, reader, capacity)),
                );
            }
        })
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx)
    }
}

/// On the pool: writes to `io` what arrives through the pipe, then flushes.
fn drain_pipe<T: Write>(
    mut io: Box<T>,
    mut reader: Reader<u8>,
    capacity: usize,
) -> (io::Result<()>, Box<T>) {
    let mut buf = vec![0; capacity];
    loop {
        let n = block_on(poll_fn(|cx| reader.poll_read(cx, &mut buf)));
        if n == 0 {
            let result = io.flush();
            return (result, io);
        }
        if let Err(err) = io.write_all(&buf[..n]) {
            return (Err(err), io);
        }
    }
}

impl<T: Seek + Send + 'static> AsyncSeek for Unblock<T> {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        loop {
            if let State::Seeking(task) = &mut this.state {
                let (result, io) = ready!(Pin::new(task).poll(cx));
                this.state = State::Idle(Some(io));
                return Poll::Ready(result);
            }
            ready!(this.poll_idle(cx))?;
            let pos = match pos {
                // `T`'s position is past the bytes read ahead.
                SeekFrom::Current(offset) => {
                    let ahead = i64::try_from(this.read_ahead.len()).unwrap_or(i64::MAX);
                    SeekFrom::Current(offset.saturating_sub(ahead))
                }
                other => other,
            };
            this.read_ahead.clear();
            let mut io = this.take_idle();
            this.state = State::Seeking(unblock(move || (io.seek(pos), io)));
        }
    }
}

impl<T> Stream for Unblock<T>
where
    T: Iterator + Send + 'static,
    T::Item: Send + 'static,
{
    type Item = T::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T::Item>> {
        let this = self.get_mut();
        bureau_coop::poll_budgeted(cx, |cx| {
            loop {
                if let State::Streaming(reader, task) = &mut this.state {
                    if let Some(reader) = reader.downcast_mut::<Reader<T::Item>>() {
                        if let Some(item) = ready!(reader.poll_pop(cx)) {
                            return Poll::Ready(Some(item));
                        }
                        // The iterator is exhausted.
                        let io = ready!(Pin::new(task).poll(cx));
                        this.state = State::Idle(Some(io));
                        return Poll::Ready(None);
                    }
                }
                ready!(this.poll_stop_for_stream(cx));
                let io = this.take_idle();
                let (reader, writer) = pipe::pipe(this.capacity);
                this.state = State::Streaming(
                    Box::new(reader),
                    unblock(move || fill_with_items(io, writer)),
                );
            }
        })
    }
}

impl<T: Send + 'static> Unblock<T> {
    /// Stops before streaming; a stream cannot return a write error, so it
    /// is kept for the next operation that can.
    fn poll_stop_for_stream(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Err(err) = ready!(self.poll_stop(cx)) {
            self.pending_error.get_or_insert(err);
        }
        Poll::Ready(())
    }
}

impl<T> Drop for Unblock<T> {
    fn drop(&mut self) {
        // Bytes handed to a write are written even if nobody flushes: the
        // writing job, told the pipe has ended, finishes on its own.
        if let State::Writing(writer, task) = std::mem::replace(&mut self.state, State::Idle(None))
        {
            drop(writer);
            task.into_inner().detach();
        }
    }
}

/// On the pool: pushes the iterator's items into the pipe until it ends or
/// the reader goes away.
fn fill_with_items<T: Iterator>(mut io: Box<T>, mut writer: Writer<T::Item>) -> Box<T> {
    for item in io.by_ref() {
        let mut item = Some(item);
        if block_on(poll_fn(|cx| writer.poll_push(cx, &mut item))).is_err() {
            break;
        }
    }
    io
}
