//! TCP on the reactor: `Async<TcpListener>` (bind, accept, incoming) and
//! `Async<TcpStream>` (a non-blocking connect, of a new socket or of one
//! configured beforehand), and both made from std's sockets.
//!
//! It must never block the thread: connecting goes through a non-blocking
//! socket and waits for writability, not through `std`'s blocking connect.

use std::ffi::c_int;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;

use futures_lite::Stream;
use socket2::{Domain, SockAddr, SockRef, Socket, Type};

use crate::async_io::Async;
use crate::sync::refuse_under_loom;

/// Raises a listening socket's backlog to the system's maximum
/// (`net.core.somaxconn`). std listens with a backlog of 128, which a burst
/// of connects overflows: the kernel drops their SYNs and the clients retry
/// only a second later. Calling `listen` again on a listening socket changes
/// nothing but the backlog; the kernel caps -1 at its maximum.
pub(crate) fn widen_backlog(listener: impl AsFd) -> io::Result<()> {
    SockRef::from(&listener).listen(-1)
}

impl Async<TcpListener> {
    /// Binds a listener to `addr` (port 0 picks a free port).
    ///
    /// ```
    /// use std::net::TcpListener;
    /// let l = bureau_reactor::Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
    /// assert_ne!(l.get_ref().local_addr().unwrap().port(), 0);
    /// ```
    pub fn bind<A: Into<SocketAddr>>(addr: A) -> io::Result<Async<TcpListener>> {
        let listener = TcpListener::bind(addr.into())?;
        widen_backlog(&listener)?;
        Async::new(listener)
    }

    /// Waits for a connection.
    ///
    /// A loop that logs an error and calls `accept` again never spins:
    /// out of descriptors, it returns `EMFILE`/`ENFILE` after closing the
    /// pending connections (with a spare descriptor the listener keeps), so
    /// the next call waits for a new connection; an error that would come
    /// back at once if accept were tried again (`ENOMEM`, `ENOBUFS`, out of
    /// descriptors with no spare...) is returned after a pause of 100 ms on
    /// a timer. An aborted connection's error is returned at once.
    ///
    /// ```
    /// use std::net::{TcpListener, TcpStream};
    /// use bureau_reactor::Async;
    /// futures_lite::future::block_on(async {
    ///     let l = Async::<TcpListener>::bind(([127, 0, 0, 1], 0))?;
    ///     let _c = TcpStream::connect(l.get_ref().local_addr()?)?;
    ///     let (_s, peer) = l.accept().await?;
    ///     assert!(peer.ip().is_loopback());
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(Async<TcpStream>, SocketAddr)> {
        let (fd, addr) = self.accept_with(accept_nonblocking).await?;
        let addr = addr
            .as_socket()
            .ok_or_else(|| io::Error::other("accept gave no IP address for the peer"))?;
        Ok((Async::new_stream(TcpStream::from(fd))?, addr))
    }

    /// A stream of incoming connections; errors (such as `EMFILE`) are
    /// yielded, as and when [`accept`](Self::accept) returns them, and the
    /// stream goes on.
    ///
    /// ```
    /// use std::net::{TcpListener, TcpStream};
    /// use bureau_reactor::Async;
    /// use futures_lite::StreamExt;
    /// futures_lite::future::block_on(async {
    ///     let l = Async::<TcpListener>::bind(([127, 0, 0, 1], 0))?;
    ///     let _c = TcpStream::connect(l.get_ref().local_addr()?)?;
    ///     let s = l.incoming().next().await.unwrap()?;
    ///     assert!(s.get_ref().peer_addr().is_ok());
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub fn incoming(&self) -> impl Stream<Item = io::Result<Async<TcpStream>>> + Send + Unpin + '_ {
        futures_lite::StreamExt::map(self.incoming_with(accept_nonblocking), |r| {
            r.and_then(|(fd, _)| Async::new_stream(TcpStream::from(fd)))
        })
    }
}

/// Accepts a connection that is non-blocking and close-on-exec from the
/// start (`accept4`), so registering it needs no `FIONBIO`.
pub(crate) fn accept_nonblocking(listener: &impl AsFd) -> io::Result<(Socket, SockAddr)> {
    // socket2 spells `SOCK_NONBLOCK | SOCK_CLOEXEC` only as type bits.
    let flags = c_int::from(Type::from(0).nonblocking().cloexec());
    SockRef::from(listener).accept4(flags)
}

/// A socket of `domain` and `ty` that is non-blocking and close-on-exec
/// from the start, in the one `socket` call, so registering it needs no
/// `FIONBIO`.
pub(crate) fn nonblocking_socket(domain: Domain, ty: Type) -> io::Result<Socket> {
    // Under loom, before any socket exists or any packet leaves.
    refuse_under_loom("sockets")?;
    Socket::new_raw(domain, ty.nonblocking().cloexec(), None)
}

impl Async<TcpStream> {
    /// Connects to `addr` without blocking the thread.
    ///
    /// ```
    /// use std::net::{TcpListener, TcpStream};
    /// use bureau_reactor::Async;
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = l.local_addr().unwrap();
    /// let s = futures_lite::future::block_on(Async::<TcpStream>::connect(addr)).unwrap();
    /// assert_eq!(s.get_ref().peer_addr().unwrap(), addr);
    /// ```
    pub async fn connect<A: Into<SocketAddr>>(addr: A) -> io::Result<Async<TcpStream>> {
        let addr = addr.into();
        let socket = nonblocking_socket(Domain::for_address(addr), Type::STREAM)?;
        connect_nonblocking(socket, addr).await
    }

    /// Connects `socket`, a TCP socket made but not connected yet (bound or
    /// not, its options set), to `addr` without blocking the thread. It is
    /// made non-blocking and registered as `Async::connect`'s own socket
    /// is: the way to connect a socket configured beforehand (socket2's
    /// `Socket` converts into the `TcpStream` this takes).
    ///
    /// ```
    /// use std::net::{TcpListener, TcpStream};
    /// use bureau_reactor::Async;
    /// use socket2::{Domain, Socket, Type};
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = l.local_addr().unwrap();
    /// let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    /// socket.set_tcp_nodelay(true).unwrap();
    /// let s = Async::<TcpStream>::connect_socket(socket.into(), addr);
    /// let s = futures_lite::future::block_on(s).unwrap();
    /// assert!(s.get_ref().nodelay().unwrap());
    /// ```
    pub async fn connect_socket(
        socket: TcpStream,
        addr: SocketAddr,
    ) -> io::Result<Async<TcpStream>> {
        let socket = Socket::from(socket);
        socket.set_nonblocking(true)?;
        connect_nonblocking(socket, addr).await
    }

    /// Receives bytes from the peer into `buf` without taking them out of
    /// the socket (`MSG_PEEK`): the next read or peek sees the same bytes.
    /// Waits until some are there; `Ok(0)` means the peer shut down writing
    /// (or `buf` is empty).
    ///
    /// ```
    /// use std::net::{TcpListener, TcpStream};
    /// use bureau_reactor::Async;
    /// use futures_lite::AsyncReadExt;
    /// futures_lite::future::block_on(async {
    ///     let l = TcpListener::bind("127.0.0.1:0")?;
    ///     let mut s = Async::<TcpStream>::connect(l.local_addr()?).await?;
    ///     std::io::Write::write_all(&mut l.accept()?.0, b"hello")?;
    ///     let mut buf = [0; 5];
    ///     let n = s.peek(&mut buf).await?;
    ///     assert_eq!(&buf[..n], &b"hello"[..n]);
    ///     s.read_exact(&mut buf).await?; // the peeked bytes are still there
    ///     assert_eq!(&buf, b"hello");
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(|s| s.peek(buf)).await
    }
}

/// Connects `socket`, already non-blocking, to `addr` and registers it as
/// a byte stream (so no `FIONBIO` is needed).
async fn connect_nonblocking(socket: Socket, addr: SocketAddr) -> io::Result<Async<TcpStream>> {
    start_connect(&socket, &addr.into())?;
    let stream = Async::new_stream(TcpStream::from(socket))?;
    stream
        .write_with(|s| connected(s.take_error(), s.peer_addr().map(drop)))
        .await?;
    Ok(stream)
}

impl TryFrom<TcpListener> for Async<TcpListener> {
    type Error = io::Error;

    /// Makes a listening socket non-blocking and registers it. Its backlog
    /// stays what it was listened with (std's `bind` uses 128).
    ///
    /// ```
    /// use std::net::{TcpListener, TcpStream};
    /// use bureau_reactor::Async;
    /// let l = Async::try_from(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    /// let _c = TcpStream::connect(l.get_ref().local_addr().unwrap()).unwrap();
    /// futures_lite::future::block_on(l.accept()).unwrap();
    /// ```
    fn try_from(listener: TcpListener) -> io::Result<Async<TcpListener>> {
        Async::new(listener)
    }
}

impl TryFrom<TcpStream> for Async<TcpStream> {
    type Error = io::Error;

    /// Makes a connected stream non-blocking and registers it, as
    /// `Async::connect` and `accept` register theirs.
    ///
    /// ```
    /// use std::net::{TcpListener, TcpStream};
    /// use bureau_reactor::Async;
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = Async::try_from(TcpStream::connect(l.local_addr().unwrap()).unwrap()).unwrap();
    /// assert_eq!(c.get_ref().peer_addr().unwrap(), l.local_addr().unwrap());
    /// ```
    fn try_from(stream: TcpStream) -> io::Result<Async<TcpStream>> {
        register_stream(stream)
    }
}

/// Makes `socket`, a connected stream socket handed in from outside,
/// non-blocking and registers it: as a byte stream when the kernel says it
/// is `SOCK_STREAM` (a short read then ends the reading), as any handle
/// otherwise, since a `SOCK_SEQPACKET` message would end a read early.
pub(crate) fn register_stream<T: AsFd>(socket: T) -> io::Result<Async<T>> {
    let sock = SockRef::from(&socket);
    sock.set_nonblocking(true)?;
    if sock.r#type()? == Type::STREAM {
        Async::new_stream(socket)
    } else {
        Async::new(socket)
    }
}

/// Starts a non-blocking connect: done or in progress is fine.
pub(crate) fn start_connect(socket: &Socket, addr: &SockAddr) -> io::Result<()> {
    match socket.connect(addr) {
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INPROGRESS.raw_os_error()) => Ok(()),
        other => other,
    }
}

/// Whether a connect in progress has finished: its error, `Ok` once the
/// peer address is known, `WouldBlock` while still in progress.
pub(crate) fn connected(
    error: io::Result<Option<io::Error>>,
    peer: io::Result<()>,
) -> io::Result<()> {
    if let Some(e) = error? {
        return Err(e);
    }
    match peer {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(io::ErrorKind::WouldBlock.into()),
        other => other,
    }
}
