//! hyper on bureau with no glue: hyper's runtime traits over bureau's own
//! types, behind the `hyper` cargo feature.
//!
//! hyper depends on no runtime; it asks for three things through
//! `hyper::rt`, and this module gives each of them:
//!
//! - [`BureauIo`]: any bureau stream (`net::TcpStream`, `net::UnixStream`,
//!   an `Async<T>`, a TLS stream over one: anything `AsyncRead + AsyncWrite
//!   + Unpin`) as `hyper::rt::Read` and `hyper::rt::Write`; and the other
//!   way round, hyper's I/O (an upgraded connection: WebSocket, `CONNECT`)
//!   as `AsyncRead` and `AsyncWrite`;
//! - [`BureauTimer`]: `hyper::rt::Timer` over [`Timer`](crate::Timer), for
//!   hyper's timeouts and HTTP/2 keep-alive pings;
//! - [`BureauExecutor`]: `hyper::rt::Executor` over [`spawn`](crate::spawn),
//!   for the tasks of an HTTP/2 connection, `Send` or not.
//!
//! Everything runs on the loop's thread, so a service may hold `Rc` and
//! `RefCell` state, over HTTP/1 and HTTP/2 alike. This file only adapts
//! traits: it must never start a task, a timer or a socket of its own
//! accord, and never pull in any of hyper's protocol features (a user turns
//! on `http1`, `http2`, `server` or `client` in their own `Cargo.toml`).
//!
//! ```
//! use bureau::hyper::{BureauIo, BureauTimer};
//! use bureau::net::{TcpListener, TcpStream};
//! use http_body_util::{BodyExt, Empty, Full};
//! use hyper::body::Bytes;
//! use hyper::{Request, Response};
//! use std::convert::Infallible;
//!
//! bureau::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     bureau::spawn(async move {
//!         let (stream, _) = listener.accept().await?;
//!         let hello = hyper::service::service_fn(|_: Request<hyper::body::Incoming>| async {
//!             Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
//!         });
//!         hyper::server::conn::http1::Builder::new()
//!             .timer(BureauTimer)
//!             .serve_connection(BureauIo::new(stream), hello)
//!             .await
//!             .map_err(std::io::Error::other)
//!     })
//!     .detach();
//!
//!     let stream = TcpStream::connect(addr).await?;
//!     let (mut sender, connection) =
//!         hyper::client::conn::http1::handshake(BureauIo::new(stream)).await?;
//!     bureau::spawn(connection).detach();
//!     let response = sender.send_request(Request::new(Empty::<Bytes>::new())).await?;
//!     let body = response.into_body().collect().await?.to_bytes();
//!     assert_eq!(body, "hello");
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })
//! .unwrap();
//! ```

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use futures_lite::{AsyncRead, AsyncWrite};
use hyper::rt::ReadBufCursor;

/// The fewest and the most bytes one read offers the stream. hyper's
/// HTTP/1 reads have 8 KiB of room or more, up to about 400 KiB; every
/// byte offered is zeroed first (see [`BureauIo`]'s `poll_read`), even for
/// a read that finds nothing, so the offer follows what the reads return:
/// it doubles after a read that fills it, and shrinks to what a read
/// returned (rounded up to a power of two, at least `MIN_READ`) after one
/// that does not. A keep-alive request of a hundred bytes then costs a
/// 1 KiB memset per read instead of 8 KiB, and a bulk transfer reaches
/// `MAX_READ` within seven reads.
const MIN_READ: usize = 1024;
const MAX_READ: usize = 64 * 1024;

/// A bureau stream as hyper's I/O: `hyper::rt::Read` and `hyper::rt::Write`
/// for any `T: AsyncRead + AsyncWrite + Unpin`; and hyper's I/O as a
/// bureau stream: `AsyncRead` and `AsyncWrite` for any `T:
/// hyper::rt::Read + hyper::rt::Write + Unpin`, such as the
/// `hyper::upgrade::Upgraded` connection of a WebSocket or a `CONNECT`
/// tunnel.
///
/// Reads zero the room they offer the stream before reading into it, since
/// `AsyncRead` takes initialised bytes and hyper offers uninitialised ones
/// (how much room, between 1 and 64 KiB, follows what the last reads
/// returned);
/// writes, flushes and vectored writes go straight through, and hyper's
/// shutdown is `AsyncWrite::poll_close`. futures' `AsyncWrite` cannot say
/// whether its `poll_write_vectored` writes more than the first buffer,
/// and bureau's sockets write only the first one, so
/// `hyper::rt::Write::is_write_vectored` is `false` unless
/// [`with_vectored_writes`](BureauIo::with_vectored_writes) says otherwise:
/// hyper then gathers each message into one buffer and writes it with one
/// call.
///
/// What a client that stops reading costs: gathering, hyper's HTTP/1
/// copies each body chunk whole into its write buffer, and polls the body
/// for the next one only while that buffer holds less than its
/// `max_buf_size` (about 400 KiB unless the builder sets it). A body
/// given as one 16 MiB `Bytes` is therefore copied whole and held for as
/// long as the client does not read it: 16 MiB for each such client;
/// given in chunks of 64 KiB, made as hyper polls the body (a small
/// `hyper::body::Body`, or `http_body_util::StreamBody`), it holds about
/// `max_buf_size` and one chunk per client, whatever the body's length.
///
/// ```
/// use bureau::hyper::BureauIo;
/// use bureau::net::{TcpListener, TcpStream};
/// bureau::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let stream = TcpStream::connect(listener.local_addr()?).await?;
///     let io = BureauIo::new(stream);
///     assert!(io.get_ref().peer_addr()?.ip().is_loopback());
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct BureauIo<T> {
    inner: T,
    vectored: bool,
    /// How many bytes the next read offers the stream (hyper's room
    /// permitting): from `MIN_READ` to `MAX_READ`.
    offer: usize,
}

impl<T> BureauIo<T> {
    /// Wraps `inner`; hyper gathers what it writes into one buffer.
    pub fn new(inner: T) -> BureauIo<T> {
        BureauIo {
            inner,
            vectored: false,
            offer: MIN_READ,
        }
    }

    /// Wraps `inner`, whose `poll_write_vectored` writes from every buffer
    /// it is given (a TLS stream that implements it, say): hyper then hands
    /// over a response's head and body as separate buffers instead of
    /// copying them together.
    ///
    /// ```
    /// use bureau::hyper::BureauIo;
    /// let io = BureauIo::with_vectored_writes(bureau::io::Cursor::new(Vec::<u8>::new()));
    /// assert!(hyper::rt::Write::is_write_vectored(&io));
    /// ```
    pub fn with_vectored_writes(inner: T) -> BureauIo<T> {
        BureauIo {
            inner,
            vectored: true,
            offer: MIN_READ,
        }
    }

    /// The stream inside.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The stream inside, mutably; reading or writing it directly while
    /// hyper is using it would interleave bytes with hyper's.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The stream inside, unwrapped.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for BureauIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // `as_mut` requires that no initialised byte of the cursor is made
        // uninitialised; the room is only ever written with zeros below,
        // and then with what the stream reads.
        // SAFETY: so no byte of the cursor is ever uninitialised by us.
        let room = unsafe { buf.as_mut() };
        let len = room.len().min(self.offer);
        let room = room[..len].as_mut_ptr().cast::<u8>();
        // `room` points to `len` bytes of the cursor's unfilled part,
        // borrowed mutably through `buf` for this whole block and aligned
        // for `u8`; `write_bytes` initialises every one of them, so the
        // slice made from them holds initialised bytes only.
        // SAFETY: the pointer is valid for `len` writable bytes (above).
        let bytes = unsafe {
            room.write_bytes(0, len);
            std::slice::from_raw_parts_mut(room, len)
        };
        let n = ready!(Pin::new(&mut self.inner).poll_read(cx, bytes))?;
        if n > len {
            return Poll::Ready(Err(io::Error::other(format!(
                "the stream claims to have read {n} bytes into a buffer of {len}"
            ))));
        }
        // The first `n` bytes of the unfilled part were initialised above
        // (and then filled by the stream), and `n <= len` was checked.
        // SAFETY: so `advance(n)` covers initialised bytes only.
        unsafe { buf.advance(n) };
        self.offer = if n == self.offer {
            (n * 2).min(MAX_READ)
        } else if n < len {
            n.next_power_of_two().clamp(MIN_READ, MAX_READ)
        } else {
            // Filled, but hyper's room was smaller than the offer.
            self.offer
        };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for BureauIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
}

impl<T: hyper::rt::Read + Unpin> AsyncRead for BureauIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut buf = hyper::rt::ReadBuf::new(buf);
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf.unfilled()))?;
        Poll::Ready(Ok(buf.filled().len()))
    }
}

impl<T: hyper::rt::Write + Unpin> AsyncWrite for BureauIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// [`Timer`](crate::Timer) as hyper's timer: header-read timeouts, HTTP/2
/// keep-alive pings, a client's pool expiry.
///
/// When hyper moves a deadline it asks for a reset, and the sleep it made
/// here gets the new deadline in place (`Timer::set_at`), with no new
/// allocation.
///
/// ```
/// use bureau::hyper::BureauTimer;
/// use hyper::rt::Timer;
/// use std::time::{Duration, Instant};
/// bureau::block_on(async {
///     let start = Instant::now();
///     let mut sleep = BureauTimer.sleep(Duration::from_secs(3600));
///     BureauTimer.reset(&mut sleep, start + Duration::from_millis(10));
///     sleep.await;
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct BureauTimer;

impl hyper::rt::Timer for BureauTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Sleep(crate::Timer::after(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Sleep(crate::Timer::at(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<Sleep>() {
            Some(ours) => ours.get_mut().0.set_at(new_deadline),
            // Another timer's sleep, handed to this one: replaced.
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// A [`Timer`](crate::Timer) that yields `()`, as `hyper::rt::Sleep` wants.
struct Sleep(crate::Timer);

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

impl hyper::rt::Sleep for Sleep {}

/// [`spawn`](crate::spawn) as hyper's executor: the tasks an HTTP/2
/// connection starts (one per stream, and its connection driver) run on the
/// loop, beside the connection. They need not be `Send`, so neither does
/// the service.
///
/// hyper calls the executor while the connection is polled, so the
/// connection must be awaited inside [`block_on`](crate::block_on), in its
/// future or in a task spawned on it.
///
/// # Panics
///
/// `execute` panics on a thread where no `block_on` is running, with a
/// message that names `BureauExecutor` and hyper: an HTTP/2 connection (or
/// a client's connection task) was polled off the loop's thread, by another
/// runtime or a thread of its own.
///
/// ```
/// use bureau::hyper::BureauExecutor;
/// use hyper::rt::Executor;
/// use std::rc::Rc;
/// bureau::block_on(async {
///     let (done, finished) = async_channel::bounded(1);
///     let not_send = Rc::new("on the loop");
///     BureauExecutor.execute(async move {
///         let _ = done.send(not_send.len()).await;
///     });
///     assert_eq!(finished.recv().await, Ok(11));
/// });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct BureauExecutor;

impl<F> hyper::rt::Executor<F> for BureauExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, future: F) {
        if !crate::runtime::inside_block_on() {
            panic!(
                "bureau::hyper::BureauExecutor was asked by hyper to spawn a task on a thread \
                 where no bureau::block_on is running: hyper calls its executor while a \
                 connection is polled, so await the connection (HTTP/2's above all) inside \
                 bureau::block_on, or in a task bureau::spawn'ed there."
            );
        }
        crate::spawn(future).detach();
    }
}
