//! `TcpSocket`: a TCP socket given its options before it binds, listens
//! or connects, as tokio's is, turned into bureau's `TcpListener` or
//! `TcpStream` at the end.
//!
//! The socket is non-blocking and close-on-exec from the `socket` call on,
//! so it must never block the event loop (connecting waits for writability
//! through the reactor) and never leaks into a child process. The handles
//! it makes must be registered exactly as `TcpListener::bind` and
//! `TcpStream::connect` register theirs: this file only sets options.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};

use socket2::{Domain, Protocol, Socket, Type};

use super::{TcpListener, TcpStream};
use crate::Async;

/// A TCP socket to configure before it listens or connects.
///
/// Make one with [`new_v4`](TcpSocket::new_v4) or
/// [`new_v6`](TcpSocket::new_v6), set options, maybe
/// [`bind`](TcpSocket::bind), then turn it into a [`TcpListener`] with
/// [`listen`](TcpSocket::listen) or a [`TcpStream`] with
/// [`connect`](TcpSocket::connect). Several listeners (in one process or
/// several) may share a port when each sets
/// [`set_reuseport(true)`](TcpSocket::set_reuseport); the kernel spreads
/// the connections among them.
///
/// ```
/// use bureau::net::{TcpSocket, TcpStream};
/// bureau::block_on(async {
///     let socket = TcpSocket::new_v4()?;
///     socket.set_reuseaddr(true)?;
///     socket.bind("127.0.0.1:0".parse().unwrap())?;
///     let listener = socket.listen(1024)?;
///     let _c = TcpStream::connect(listener.local_addr()?).await?;
///     listener.accept().await?;
///     std::io::Result::Ok(())
/// }).unwrap();
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    inner: Socket,
}

impl TcpSocket {
    /// A new IPv4 TCP socket, non-blocking and close-on-exec.
    ///
    /// ```
    /// let socket = bureau::net::TcpSocket::new_v4().unwrap();
    /// ```
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// A new IPv6 TCP socket, non-blocking and close-on-exec.
    ///
    /// ```
    /// let socket = bureau::net::TcpSocket::new_v6().unwrap();
    /// ```
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    /// A TCP socket of `domain`, non-blocking and close-on-exec in the one
    /// `socket` call.
    fn new(domain: Domain) -> io::Result<TcpSocket> {
        let ty = Type::STREAM.nonblocking().cloexec();
        Socket::new_raw(domain, ty, Some(Protocol::TCP)).map(|inner| TcpSocket { inner })
    }

    /// Lets `bind` take an address that a closed connection still holds
    /// (`SO_REUSEADDR`), so a restarted server can bind at once.
    ///
    /// ```
    /// let socket = bureau::net::TcpSocket::new_v4().unwrap();
    /// socket.set_reuseaddr(true).unwrap();
    /// assert!(socket.reuseaddr().unwrap());
    /// ```
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        self.inner.set_reuse_address(reuseaddr)
    }

    /// Whether `SO_REUSEADDR` is set.
    ///
    /// ```
    /// let socket = bureau::net::TcpSocket::new_v4().unwrap();
    /// assert!(!socket.reuseaddr().unwrap());
    /// ```
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.inner.reuse_address()
    }

    /// Lets several sockets bind the same address and port
    /// (`SO_REUSEPORT`) when each of them sets it; the kernel spreads the
    /// incoming connections among their listeners.
    ///
    /// ```
    /// let socket = bureau::net::TcpSocket::new_v4().unwrap();
    /// socket.set_reuseport(true).unwrap();
    /// assert!(socket.reuseport().unwrap());
    /// ```
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        self.inner.set_reuse_port(reuseport)
    }

    /// Whether `SO_REUSEPORT` is set.
    ///
    /// ```
    /// let socket = bureau::net::TcpSocket::new_v4().unwrap();
    /// assert!(!socket.reuseport().unwrap());
    /// ```
    pub fn reuseport(&self) -> io::Result<bool> {
        self.inner.reuse_port()
    }

    /// Turns Nagle's algorithm off (`true`) or on (`TCP_NODELAY`); the
    /// stream [`connect`](TcpSocket::connect) makes keeps it.
    ///
    /// ```
    /// let socket = bureau::net::TcpSocket::new_v4().unwrap();
    /// socket.set_nodelay(true).unwrap();
    /// assert!(socket.nodelay().unwrap());
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_tcp_nodelay(nodelay)
    }

    /// Whether Nagle's algorithm is off.
    ///
    /// ```
    /// let socket = bureau::net::TcpSocket::new_v4().unwrap();
    /// assert!(!socket.nodelay().unwrap());
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.tcp_nodelay()
    }

    /// Asks for a kernel send buffer of `size` bytes (`SO_SNDBUF`). Linux
    /// doubles the value for its bookkeeping and caps it, so
    /// [`send_buffer_size`](TcpSocket::send_buffer_size) reads back what it
    /// made of it, not `size`.
    ///
    /// ```
    /// let socket = bureau::net::TcpSocket::new_v4().unwrap();
    /// socket.set_send_buffer_size(64 * 1024).unwrap();
    /// assert!(socket.send_buffer_size().unwrap() >= 64 * 1024);
    /// ```
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_send_buffer_size(widen(size))
    }

    /// The size of the kernel send buffer, in bytes.
    ///
    /// ```
    /// let socket = bureau::net::TcpSocket::new_v4().unwrap();
    /// assert!(socket.send_buffer_size().unwrap() > 0);
    /// ```
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.inner.send_buffer_size().map(narrow)
    }

    /// Asks for a kernel receive buffer of `size` bytes (`SO_RCVBUF`); as
    /// with the send buffer, Linux doubles and caps it.
    ///
    /// ```
    /// let socket = bureau::net::TcpSocket::new_v4().unwrap();
    /// socket.set_recv_buffer_size(64 * 1024).unwrap();
    /// assert!(socket.recv_buffer_size().unwrap() >= 64 * 1024);
    /// ```
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_recv_buffer_size(widen(size))
    }

    /// The size of the kernel receive buffer, in bytes.
    ///
    /// ```
    /// let socket = bureau::net::TcpSocket::new_v4().unwrap();
    /// assert!(socket.recv_buffer_size().unwrap() > 0);
    /// ```
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.inner.recv_buffer_size().map(narrow)
    }

    /// Binds the socket to `addr` (port 0 picks a free port). An address
    /// in use is `AddrInUse`, unless every socket on it set
    /// [`set_reuseport(true)`](TcpSocket::set_reuseport).
    ///
    /// ```
    /// let socket = bureau::net::TcpSocket::new_v4().unwrap();
    /// socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    /// assert_ne!(socket.local_addr().unwrap().port(), 0);
    /// ```
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.inner.bind(&addr.into())
    }

    /// The address the socket is bound to.
    ///
    /// ```
    /// let socket = bureau::net::TcpSocket::new_v6().unwrap();
    /// socket.bind("[::1]:0".parse().unwrap()).unwrap();
    /// assert!(socket.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()?.as_socket().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "the socket's address is not an IP address",
            )
        })
    }

    /// Starts listening, with room for `backlog` connections not yet
    /// accepted (the kernel caps it at `net.core.somaxconn`), and gives
    /// the listener registered with the reactor. A socket not bound yet
    /// gets a free port.
    ///
    /// ```
    /// use bureau::net::{TcpSocket, TcpStream};
    /// bureau::block_on(async {
    ///     let socket = TcpSocket::new_v4()?;
    ///     socket.bind("127.0.0.1:0".parse().unwrap())?;
    ///     let listener = socket.listen(128)?;
    ///     let c = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (_s, peer) = listener.accept().await?;
    ///     assert_eq!(peer, c.local_addr()?);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        self.inner
            .listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
        let listener = std::net::TcpListener::from(self.inner);
        Async::try_from(listener).map(TcpListener::from)
    }

    /// Connects to `addr` without blocking the loop, and gives the stream
    /// registered with the reactor; it keeps the options set here. A
    /// socket not bound yet gets a free port.
    ///
    /// ```
    /// use bureau::net::{TcpListener, TcpSocket};
    /// use bureau::prelude::*;
    /// bureau::block_on(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").await?;
    ///     let socket = TcpSocket::new_v4()?;
    ///     socket.set_nodelay(true)?;
    ///     let mut c = socket.connect(l.local_addr()?).await?;
    ///     assert!(c.nodelay()?);
    ///     c.write_all(b"hi").await?;
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = std::net::TcpStream::from(self.inner);
        Async::<std::net::TcpStream>::connect_socket(socket, addr)
            .await
            .map(TcpStream::from)
    }
}

impl AsFd for TcpSocket {
    /// The socket's descriptor, to set an option this type has no method
    /// for (through socket2's `SockRef`, say).
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// let socket = bureau::net::TcpSocket::new_v4().unwrap();
    /// let _fd = socket.as_fd();
    /// ```
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

/// A buffer size as socket2 takes it (`usize` is at least 32 bits here).
fn widen(size: u32) -> usize {
    usize::try_from(size).unwrap_or(usize::MAX)
}

/// A buffer size the kernel reported (an `int`), as tokio's API gives it.
fn narrow(size: usize) -> u32 {
    u32::try_from(size).unwrap_or(u32::MAX)
}
