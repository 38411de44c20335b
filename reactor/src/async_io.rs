//! `Async<T>`: a non-blocking I/O handle registered with the reactor for its
//! whole lifetime, with readiness futures and `AsyncRead`/`AsyncWrite`.
//!
//! Every operation here that completes spends one unit of the polling
//! task's cooperative budget (`bureau_coop::poll_budgeted`), so a task whose
//! handle is always ready still yields to the others.
//!
//! It must never touch the poller on the read/write path (no `epoll_ctl`
//! after registration), and must deregister before its descriptor closes.

use std::future::Future;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncWrite, ready};

use crate::listener::release_spare;
use crate::parker::ensure_driver;
use crate::reactor::Reactor;
use crate::source::{READ, Source, WRITE};
use crate::sync::refuse_under_loom;

/// An I/O handle `T` (a socket, a pipe...) made non-blocking and registered
/// with the reactor, so it can be awaited.
///
/// ```
/// use std::net::{TcpListener, TcpStream};
/// use bureau_reactor::Async;
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// futures_lite::future::block_on(async {
///     let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0))?;
///     let addr = listener.get_ref().local_addr()?;
///     let mut client = Async::<TcpStream>::connect(addr).await?;
///     let (mut server, _) = listener.accept().await?;
///     client.write_all(b"hi").await?;
///     let mut buf = [0; 2];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hi");
///     std::io::Result::Ok(())
/// }).unwrap();
/// ```
///
/// # Blocking the loop
///
/// Inside a task of a `Parker`-driven loop (such as `bureau::block_on`),
/// `.await` its futures (`readable()`, `read_with`, `accept`...); never
/// wait for them with a blocking call such as
/// `futures_lite::future::block_on`. That thread has a [`Parker`], so no
/// helper thread starts to drive the reactor, and while it blocks outside
/// its `Parker` it does not drive the reactor either: the call hangs
/// (unless another thread happens to drive). Blocking waits are for
/// threads that run no event loop, as in the example above.
///
/// [`Parker`]: crate::Parker
#[derive(Debug)]
pub struct Async<T: AsFd> {
    /// The registration; shared with the reactor's table.
    pub(crate) source: Arc<Source>,
    /// The handle; `None` only after `into_inner`.
    io: Option<T>,
}

// `Async` never pins its handle: every method reaches it through `&`/`&mut`.
impl<T: AsFd> Unpin for Async<T> {}

impl<T: AsFd> Async<T> {
    /// Makes `io` non-blocking and registers it with the reactor.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// let a = bureau_reactor::Async::new(a).unwrap();
    /// ```
    pub fn new(io: T) -> io::Result<Async<T>> {
        rustix::io::ioctl_fionbio(io.as_fd(), true)?;
        Async::register(io, false)
    }

    /// Registers `io`, a TCP or Unix stream socket that the caller made
    /// non-blocking already (created or accepted with `SOCK_NONBLOCK`): no
    /// `FIONBIO`, and a short read may end the reading.
    pub(crate) fn new_stream(io: T) -> io::Result<Async<T>> {
        Async::register(io, true)
    }

    /// Registers `io` (non-blocking); see [`Source::byte_stream`].
    fn register(io: T, byte_stream: bool) -> io::Result<Async<T>> {
        refuse_under_loom("sockets and other I/O handles")?;
        let source = Reactor::try_get()?.insert_io(io.as_fd(), byte_stream)?;
        Ok(Async {
            source,
            io: Some(io),
        })
    }

    /// The inner handle.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// let a = bureau_reactor::Async::new(a).unwrap();
    /// assert!(a.get_ref().peer_addr().is_ok());
    /// ```
    pub fn get_ref(&self) -> &T {
        self.io
            .as_ref()
            .expect("bureau: the handle is present until into_inner")
    }

    /// The inner handle, mutably: for the operations of `T` that take
    /// `&mut self` (std's `Read` and `Write` on a `UnixStream`, say).
    ///
    /// # Safety
    ///
    /// The caller must not replace the handle (`mem::swap`, assignment...)
    /// nor close its descriptor through it: the reactor keeps the
    /// descriptor registered until this `Async` drops or `into_inner`
    /// returns, so another handle in its place would leave the old
    /// registration to a descriptor number that the kernel may reuse for
    /// an unrelated file, and `Async` would deregister the wrong one.
    /// Reading, writing and setting options are fine. As with
    /// [`Async::get_ref`], a `WouldBlock` from such a call does not tell
    /// the reactor anything; use [`Async::read_with_mut`] to wait instead.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    /// let (a, b) = UnixStream::pair().unwrap();
    /// let mut a = bureau_reactor::Async::new(a).unwrap();
    /// // SAFETY: the stream is written to, neither replaced nor closed.
    /// let n = unsafe { a.get_mut() }.write(b"hi").unwrap();
    /// assert_eq!(n, 2);
    /// # drop(b);
    /// ```
    pub unsafe fn get_mut(&mut self) -> &mut T {
        self.parts().1
    }

    /// Deregisters the handle and gives it back (still non-blocking).
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// let a = bureau_reactor::Async::new(a).unwrap();
    /// let a: UnixStream = a.into_inner().unwrap();
    /// ```
    pub fn into_inner(mut self) -> io::Result<T> {
        let io = self
            .io
            .take()
            .expect("bureau: the handle is present until into_inner");
        release_spare(&self.source);
        // The source was registered, so the reactor exists.
        if let Some(r) = Reactor::existing() {
            r.remove_io(&self.source, io.as_fd())?;
        }
        Ok(io)
    }

    /// Waits until the handle is readable (or the kernel reported an error
    /// or hang-up on it).
    ///
    /// It completes at once only for an edge the kernel reported since a
    /// readiness future of this handle last completed; otherwise (a fresh
    /// handle, or no new edge since) it asks the kernel once with a
    /// zero-timeout `poll`, and if nothing is there it waits for the next
    /// edge. So the usual loop `readable().await`, then an operation on
    /// [`Async::get_ref`] that may fail with `WouldBlock`, waits instead of
    /// spinning. It may still complete when a read would block (say, another
    /// task took the data first): treat it as a hint and retry.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use std::io::Write;
    /// let (a, mut b) = UnixStream::pair().unwrap();
    /// let a = bureau_reactor::Async::new(a).unwrap();
    /// b.write_all(b"x").unwrap();
    /// futures_lite::future::block_on(a.readable()).unwrap();
    /// ```
    pub fn readable(&self) -> impl Future<Output = io::Result<()>> + Send + Sync + Unpin + '_ {
        Readiness {
            waiter: Waiter::new(&self.source, READ),
            fd: self.get_ref().as_fd(),
        }
    }

    /// Waits until the handle is writable; see [`Async::readable`].
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// let a = bureau_reactor::Async::new(a).unwrap();
    /// futures_lite::future::block_on(a.writable()).unwrap();
    /// ```
    pub fn writable(&self) -> impl Future<Output = io::Result<()>> + Send + Sync + Unpin + '_ {
        Readiness {
            waiter: Waiter::new(&self.source, WRITE),
            fd: self.get_ref().as_fd(),
        }
    }

    /// Poll-style [`Async::readable`], with the same rule for when it is
    /// ready. Only the last task to call it (or `poll_read`) on this handle
    /// is woken.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// let a = bureau_reactor::Async::new(a).unwrap();
    /// let ready = futures_lite::future::block_on(futures_lite::future::poll_once(
    ///     futures_lite::future::poll_fn(|cx| a.poll_readable(cx)),
    /// ));
    /// # let _ = ready;
    /// ```
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let fd = self.get_ref().as_fd();
        poll_readiness(
            &self.source,
            fd,
            READ,
            |cx| poll_dir(&self.source, READ, cx),
            cx,
        )
    }

    /// Poll-style [`Async::writable`]; see [`Async::poll_readable`].
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// let a = bureau_reactor::Async::new(a).unwrap();
    /// futures_lite::future::block_on(futures_lite::future::poll_fn(|cx| a.poll_writable(cx))).unwrap();
    /// ```
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let fd = self.get_ref().as_fd();
        poll_readiness(
            &self.source,
            fd,
            WRITE,
            |cx| poll_dir(&self.source, WRITE, cx),
            cx,
        )
    }

    /// Runs `op` until it stops failing with `WouldBlock`, waiting for read
    /// readiness in between. Any other result is returned.
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use bureau_reactor::Async;
    /// futures_lite::future::block_on(async {
    ///     let a = Async::<UdpSocket>::bind(([127, 0, 0, 1], 0))?;
    ///     let b = UdpSocket::bind("127.0.0.1:0")?;
    ///     b.send_to(b"ping", a.get_ref().local_addr()?)?;
    ///     let mut buf = [0; 4];
    ///     let (n, _) = a.read_with(|s| s.recv_from(&mut buf)).await?;
    ///     assert_eq!(&buf[..n], b"ping");
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn read_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.io_with(READ, op).await
    }

    /// Runs `op` until it stops failing with `WouldBlock`, waiting for write
    /// readiness in between. Any other result is returned.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use std::io::Write;
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// let a = bureau_reactor::Async::new(a).unwrap();
    /// let n = futures_lite::future::block_on(a.write_with(|mut s| s.write(b"hello"))).unwrap();
    /// assert_eq!(n, 5);
    /// ```
    pub async fn write_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.io_with(WRITE, op).await
    }

    /// Runs `op` on the handle through `&mut` until it stops failing with
    /// `WouldBlock`, waiting for read readiness in between, as
    /// [`Async::read_with`] does. `op` may use the handle's `&mut self`
    /// operations but must not replace it or close its descriptor (see
    /// [`Async::get_mut`]); taking `&mut self` makes this the only
    /// operation on the handle while it runs.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::os::unix::net::UnixStream;
    /// use bureau_reactor::Async;
    /// let (a, mut b) = UnixStream::pair().unwrap();
    /// let mut a = Async::new(a).unwrap();
    /// b.write_all(b"ping").unwrap();
    /// let mut buf = [0; 4];
    /// let n = futures_lite::future::block_on(a.read_with_mut(|s| s.read(&mut buf))).unwrap();
    /// assert_eq!(&buf[..n], b"ping");
    /// ```
    pub async fn read_with_mut<R>(
        &mut self,
        mut op: impl FnMut(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        let (source, io) = self.parts();
        io_with(source, READ, || op(io)).await
    }

    /// Runs `op` on the handle through `&mut` until it stops failing with
    /// `WouldBlock`, waiting for write readiness in between; see
    /// [`Async::read_with_mut`].
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    /// use bureau_reactor::Async;
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// let mut a = Async::new(a).unwrap();
    /// let n = futures_lite::future::block_on(a.write_with_mut(|s| s.write(b"hello"))).unwrap();
    /// assert_eq!(n, 5);
    /// ```
    pub async fn write_with_mut<R>(
        &mut self,
        mut op: impl FnMut(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        let (source, io) = self.parts();
        io_with(source, WRITE, || op(io)).await
    }

    /// [`io_with`] on the handle through `&`.
    async fn io_with<R>(
        &self,
        dir: usize,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        io_with(&self.source, dir, || op(self.get_ref())).await
    }

    /// Splits `self` into its registration and its handle.
    fn parts(&mut self) -> (&Source, &mut T) {
        let io = self
            .io
            .as_mut()
            .expect("bureau: the handle is present until into_inner");
        (&self.source, io)
    }
}

impl<T: AsFd> AsFd for Async<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsFd> AsRef<T> for Async<T> {
    /// The inner handle, as [`Async::get_ref`].
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// let a = bureau_reactor::Async::new(a).unwrap();
    /// let inner: &UnixStream = a.as_ref();
    /// assert!(inner.peer_addr().is_ok());
    /// ```
    fn as_ref(&self) -> &T {
        self.get_ref()
    }
}

impl<T: AsFd> Drop for Async<T> {
    fn drop(&mut self) {
        if let Some(io) = &self.io {
            release_spare(&self.source);
            // Nothing to report to in `drop`; the descriptor closes right
            // after, which removes it from epoll in any case.
            if let Some(r) = Reactor::existing() {
                let _ = r.remove_io(&self.source, io.as_fd());
            }
        }
    }
}

impl<T: AsFd + Read> AsyncRead for Async<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let (source, io) = self.get_mut().parts();
        poll_read_into(source, cx, buf, |buf| io.read(buf))
    }
}

impl<T: AsFd> AsyncRead for &Async<T>
where
    for<'a> &'a T: Read,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this: &Async<T> = self.get_mut();
        let mut io = this.get_ref();
        poll_read_into(&this.source, cx, buf, |buf| io.read(buf))
    }
}

impl<T: AsFd + Write> AsyncWrite for Async<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let (source, io) = self.get_mut().parts();
        poll_write_from(source, cx, buf, |buf| io.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (source, io) = self.get_mut().parts();
        poll_flush_with(source, cx, || io.flush())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl<T: AsFd> AsyncWrite for &Async<T>
where
    for<'a> &'a T: Write,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this: &Async<T> = self.get_mut();
        let mut io = this.get_ref();
        poll_write_from(&this.source, cx, buf, |buf| io.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this: &Async<T> = self.get_mut();
        let (source, mut io) = (&this.source, this.get_ref());
        poll_flush_with(source, cx, || io.flush())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

/// `poll_read` of both `AsyncRead` impls: [`poll_io`] of `read` into
/// `buf`, a short read clearing the readiness as [`short_read`] allows.
fn poll_read_into(
    source: &Source,
    cx: &mut Context<'_>,
    buf: &mut [u8],
    mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    let short = short_read(source, buf.len());
    poll_io(
        source,
        READ,
        cx,
        wait_dir(source, READ),
        |_| read(buf),
        short,
    )
}

/// `poll_flush` of both `AsyncWrite` impls: [`poll_io`] of `flush`.
fn poll_flush_with(
    source: &Source,
    cx: &mut Context<'_>,
    mut flush: impl FnMut() -> io::Result<()>,
) -> Poll<io::Result<()>> {
    poll_io(
        source,
        WRITE,
        cx,
        wait_dir(source, WRITE),
        |_| flush(),
        never_drained,
    )
}

/// `poll_write` of both `AsyncWrite` impls: [`poll_io`] of `write` from
/// `buf`; fewer bytes written than offered prove the send buffer full.
fn poll_write_from(
    source: &Source,
    cx: &mut Context<'_>,
    buf: &[u8],
    mut write: impl FnMut(&[u8]) -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    let full = |&n: &usize, _| n < buf.len();
    poll_io(
        source,
        WRITE,
        cx,
        wait_dir(source, WRITE),
        |_| write(buf),
        full,
    )
}

/// The loop behind `read_with`/`write_with` and their `_mut` twins: see
/// [`poll_io`].
async fn io_with<R>(
    source: &Source,
    dir: usize,
    mut op: impl FnMut() -> io::Result<R>,
) -> io::Result<R> {
    let mut waiter = Waiter::new(source, dir);
    futures_lite::future::poll_fn(|cx| {
        poll_io(
            source,
            dir,
            cx,
            |cx| waiter.poll(cx),
            |_| op(),
            never_drained,
        )
    })
    .await
}

/// Readiness caching, the one loop every readiness-driven operation goes
/// through (`read_with`, `write_with`, `AsyncRead`, `AsyncWrite`, accept):
/// while `dir` of `source` is ready, try `op` (given the direction's state
/// word, see [`Source::ready_state`]); on `WouldBlock`, clear the readiness
/// (unless a newer edge came, which the state word tells) and wait through
/// `wait` for the kernel's next edge; any other result is returned.
///
/// `drained` tells, from a successful result and the state it was tried
/// at, whether that result proves the kernel's buffer ran out: then the
/// readiness is cleared as for `WouldBlock`, so the next call waits for
/// the kernel's edge instead of paying for a syscall that fails. Writes
/// pass "fewer bytes than offered" (the send buffer is full); reads pass
/// [`short_read`]; the rest pass [`never_drained`].
///
/// Completing spends one unit of the task's cooperative budget
/// (`bureau_coop`), so a task whose handle is always ready still yields.
pub(crate) fn poll_io<R>(
    source: &Source,
    dir: usize,
    cx: &mut Context<'_>,
    mut wait: impl FnMut(&mut Context<'_>) -> Poll<()>,
    mut op: impl FnMut(u64) -> io::Result<R>,
    drained: impl Fn(&R, u64) -> bool,
) -> Poll<io::Result<R>> {
    bureau_coop::poll_budgeted(cx, |cx| {
        loop {
            let Some(state) = source.ready_state(dir) else {
                ready!(wait(cx));
                continue;
            };
            match op(state) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    source.clear_readiness(dir, state)
                }
                Ok(r) => {
                    if drained(&r, state) {
                        source.clear_readiness(dir, state);
                    }
                    return Poll::Ready(Ok(r));
                }
                res => return Poll::Ready(res),
            }
        }
    })
}

/// The `drained` test of [`poll_io`] for results that prove nothing.
pub(crate) fn never_drained<R>(_: &R, _: u64) -> bool {
    false
}

/// The `drained` test of [`poll_io`] for reads from `source` into a buffer
/// of `len` bytes: on a byte stream, fewer bytes than asked for prove the
/// kernel's buffer ran out, but only an edge whose event showed no
/// shutdown may be cleared on that proof. Sockets are registered with
/// `EPOLLRDHUP`, so a FIN that came with the last data shows on the edge
/// itself (and gives no further edge), and one that comes later brings an
/// edge of its own (see `source::DRAINABLE`). On anything else, only
/// `WouldBlock` proves it.
fn short_read(source: &Source, len: usize) -> impl Fn(&usize, u64) -> bool {
    let byte_stream = source.byte_stream;
    move |&n, tick| byte_stream && n < len && Source::drainable(tick)
}

/// [`poll_dir`] on `dir` of `source`, as the `wait` of [`poll_io`].
fn wait_dir(source: &Source, dir: usize) -> impl FnMut(&mut Context<'_>) -> Poll<()> + '_ {
    move |cx| poll_dir(source, dir, cx)
}

/// Waits for readiness through the direction's single `poll_*` waker slot,
/// starting the helper thread if nobody would drive the reactor.
fn poll_dir(source: &Source, dir: usize, cx: &mut Context<'_>) -> Poll<()> {
    let p = source.poll_ready(dir, cx);
    if p.is_pending() {
        ensure_driver();
    }
    p
}

/// One waiter for readiness in one direction, with its own waker slot (so
/// any number of tasks may wait at once); frees the slot when dropped.
pub(crate) struct Waiter<'a> {
    source: &'a Source,
    dir: usize,
    slot: Option<usize>,
}

impl<'a> Waiter<'a> {
    /// A waiter on `dir` of `source`.
    pub(crate) fn new(source: &'a Source, dir: usize) -> Waiter<'a> {
        Waiter {
            source,
            dir,
            slot: None,
        }
    }

    /// Ready once the direction is ready.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let p = self.source.poll_ready_slot(self.dir, &mut self.slot, cx);
        if p.is_pending() {
            ensure_driver();
        }
        p
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            self.source.drop_slot(self.dir, slot);
        }
    }
}

/// The future of `readable()`/`writable()`.
struct Readiness<'a> {
    waiter: Waiter<'a>,
    /// The handle's descriptor, to ask the kernel when no new edge came.
    fd: BorrowedFd<'a>,
}

impl Future for Readiness<'_> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let (source, dir) = (this.waiter.source, this.waiter.dir);
        poll_readiness(source, this.fd, dir, |cx| this.waiter.poll(cx), cx)
    }
}

/// The rule of the readiness futures (`readable()`, `poll_readable`...):
/// ready at once for an edge newer than the last time one of them completed;
/// with no newer edge (or none yet), ask the kernel with a zero-timeout
/// `poll`, and if it says "not ready", forget the readiness (unless an edge
/// came meanwhile, which the tick tells) and wait through `wait` for the
/// next edge. Without the probe, a `WouldBlock` seen by the caller (who does
/// not tell us) would leave the readiness set and the caller's loop would
/// spin.
fn poll_readiness(
    source: &Source,
    fd: BorrowedFd<'_>,
    dir: usize,
    mut wait: impl FnMut(&mut Context<'_>) -> Poll<()>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    bureau_coop::poll_budgeted(cx, |cx| {
        loop {
            if let Some((tick, fresh)) = source.ready_edge(dir) {
                if fresh {
                    source.set_reported(dir, tick);
                    return Poll::Ready(Ok(()));
                }
                match probe(fd, dir) {
                    Ok(true) => return Poll::Ready(Ok(())),
                    Ok(false) => source.clear_readiness(dir, tick),
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            // Ready here means an edge arrived after the readiness was cleared:
            // the next round takes it as fresh.
            ready!(wait(cx));
        }
    })
}

/// Asks the kernel whether `fd` is ready in `dir` now, without waiting. An
/// error or hang-up counts as ready: the caller's operation will report it.
fn probe(fd: BorrowedFd<'_>, dir: usize) -> io::Result<bool> {
    use rustix::event::{PollFd, PollFlags, poll};
    let flags = if dir == READ {
        PollFlags::IN
    } else {
        PollFlags::OUT
    };
    let mut fds = [PollFd::new(&fd, flags)];
    loop {
        match poll(&mut fds, Some(&rustix::event::Timespec::default())) {
            Ok(_) => return Ok(!fds[0].revents().is_empty()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
