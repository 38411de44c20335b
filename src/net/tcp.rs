//! `TcpListener` and `TcpStream`: cheap-to-clone handles over
//! `Async<std::net::TcpListener>` / `Async<std::net::TcpStream>`.
//!
//! It must never block the event loop: binding and connecting resolve host
//! names on the blocking pool and connect without blocking.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;

use futures_lite::{Stream, StreamExt};

use super::addr::{AsyncToSocketAddrs, try_each};
use crate::Async;

/// A TCP listener; clones share the socket.
///
/// ```
/// use bureau::net::TcpListener;
/// bureau::block_on(async {
///     let l = TcpListener::bind("127.0.0.1:0").await?;
///     assert!(l.local_addr()?.ip().is_loopback());
///     std::io::Result::Ok(())
/// }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct TcpListener {
    inner: Arc<Async<std::net::TcpListener>>,
}

impl TcpListener {
    /// Binds to the first address `addr` names that can be bound.
    ///
    /// ```
    /// let l = bureau::block_on(bureau::net::TcpListener::bind(("127.0.0.1", 0))).unwrap();
    /// ```
    pub async fn bind(addr: impl AsyncToSocketAddrs) -> io::Result<TcpListener> {
        try_each(
            addr,
            |a| async move { Async::<std::net::TcpListener>::bind(a) },
        )
        .await
        .map(|inner| TcpListener {
            inner: Arc::new(inner),
        })
    }

    /// Waits for a connection. A loop that logs an error and calls it
    /// again never spins: out of descriptors, it returns the error after
    /// closing the pending connections, and an error that would come back
    /// at once (`ENOMEM`, `ENOBUFS`...) after a pause of 100 ms on a timer
    /// (see `Async<std::net::TcpListener>::accept`).
    ///
    /// ```
    /// use bureau::net::{TcpListener, TcpStream};
    /// bureau::block_on(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").await?;
    ///     let c = TcpStream::connect(l.local_addr()?).await?;
    ///     let (s, peer) = l.accept().await?;
    ///     assert_eq!(peer, c.local_addr()?);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, addr) = self.inner.accept().await?;
        Ok((TcpStream::from(s), addr))
    }

    /// A stream of incoming connections; errors are yielded and the stream
    /// goes on.
    ///
    /// ```
    /// use bureau::net::{TcpListener, TcpStream};
    /// use bureau::prelude::*;
    /// bureau::block_on(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").await?;
    ///     let _c = TcpStream::connect(l.local_addr()?).await?;
    ///     let s = l.incoming().next().await.unwrap()?;
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub fn incoming(&self) -> impl Stream<Item = io::Result<TcpStream>> + Send + Unpin + '_ {
        self.inner.incoming().map(|r| r.map(TcpStream::from))
    }

    /// The address the listener is bound to.
    ///
    /// ```
    /// let l = bureau::block_on(bureau::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    /// assert_ne!(l.local_addr().unwrap().port(), 0);
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Sets `IP_TTL`, the time-to-live field of every packet this socket
    /// sends.
    ///
    /// ```
    /// let l = bureau::block_on(bureau::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    /// l.set_ttl(42).unwrap();
    /// assert_eq!(l.ttl().unwrap(), 42);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_ttl(ttl)
    }

    /// The value of `IP_TTL`, as set by [`TcpListener::set_ttl`].
    ///
    /// ```
    /// let l = bureau::block_on(bureau::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    /// assert!(l.ttl().unwrap() > 0);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get_ref().ttl()
    }
}

impl From<Async<std::net::TcpListener>> for TcpListener {
    fn from(inner: Async<std::net::TcpListener>) -> TcpListener {
        TcpListener {
            inner: Arc::new(inner),
        }
    }
}

impl TryFrom<std::net::TcpListener> for TcpListener {
    type Error = io::Error;

    /// Makes a std listener non-blocking and registers it with the reactor
    /// (which can fail, hence `TryFrom`). Its backlog stays what it was
    /// listened with: std's `bind` uses 128.
    ///
    /// ```
    /// use bureau::net::{TcpListener, TcpStream};
    /// bureau::block_on(async {
    ///     let l = TcpListener::try_from(std::net::TcpListener::bind("127.0.0.1:0")?)?;
    ///     let c = TcpStream::connect(l.local_addr()?).await?;
    ///     let (_s, peer) = l.accept().await?;
    ///     assert_eq!(peer, c.local_addr()?);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    fn try_from(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Async::try_from(listener).map(TcpListener::from)
    }
}

/// A TCP connection; clones share the socket, so one task may read while
/// another writes. Closing it (`AsyncWriteExt::close`) shuts down writing.
///
/// ```
/// use bureau::net::{TcpListener, TcpStream};
/// use bureau::prelude::*;
/// bureau::block_on(async {
///     let l = TcpListener::bind("127.0.0.1:0").await?;
///     let mut c = TcpStream::connect(l.local_addr()?).await?;
///     let (mut s, _) = l.accept().await?;
///     c.write_all(b"hi").await?;
///     c.close().await?;
///     let mut got = String::new();
///     s.read_to_string(&mut got).await?;
///     assert_eq!(got, "hi");
///     std::io::Result::Ok(())
/// }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct TcpStream {
    inner: Arc<Async<std::net::TcpStream>>,
}

impl TcpStream {
    /// Connects to the first address `addr` names that accepts.
    ///
    /// ```
    /// use bureau::net::{TcpListener, TcpStream};
    /// bureau::block_on(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").await?;
    ///     let port = l.local_addr()?.port();
    ///     TcpStream::connect(("localhost", port)).await?;
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn connect(addr: impl AsyncToSocketAddrs) -> io::Result<TcpStream> {
        try_each(addr, Async::<std::net::TcpStream>::connect)
            .await
            .map(TcpStream::from)
    }

    /// The local address of the connection.
    ///
    /// ```
    /// # bureau::block_on(async {
    /// # let l = bureau::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = bureau::net::TcpStream::connect(l.local_addr()?).await?;
    /// assert!(c.local_addr()?.ip().is_loopback());
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The address of the peer.
    ///
    /// ```
    /// # bureau::block_on(async {
    /// # let l = bureau::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = bureau::net::TcpStream::connect(l.local_addr()?).await?;
    /// assert_eq!(c.peer_addr()?, l.local_addr()?);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Shuts down reading, writing or both.
    ///
    /// ```
    /// # bureau::block_on(async {
    /// # let l = bureau::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = bureau::net::TcpStream::connect(l.local_addr()?).await?;
    /// c.shutdown(std::net::Shutdown::Write)?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    /// Turns Nagle's algorithm off (`true`) or on.
    ///
    /// ```
    /// # bureau::block_on(async {
    /// # let l = bureau::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = bureau::net::TcpStream::connect(l.local_addr()?).await?;
    /// c.set_nodelay(true)?;
    /// assert!(c.nodelay()?);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.get_ref().set_nodelay(nodelay)
    }

    /// Whether Nagle's algorithm is off.
    ///
    /// ```
    /// # bureau::block_on(async {
    /// # let l = bureau::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = bureau::net::TcpStream::connect(l.local_addr()?).await?;
    /// let _ = c.nodelay()?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get_ref().nodelay()
    }

    /// Sets `IP_TTL`, the time-to-live field of every packet this socket
    /// sends.
    ///
    /// ```
    /// # bureau::block_on(async {
    /// # let l = bureau::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = bureau::net::TcpStream::connect(l.local_addr()?).await?;
    /// c.set_ttl(42)?;
    /// assert_eq!(c.ttl()?, 42);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_ttl(ttl)
    }

    /// The value of `IP_TTL`, as set by [`TcpStream::set_ttl`].
    ///
    /// ```
    /// # bureau::block_on(async {
    /// # let l = bureau::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = bureau::net::TcpStream::connect(l.local_addr()?).await?;
    /// assert!(c.ttl()? > 0);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get_ref().ttl()
    }

    /// Waits for data and copies it into `buf` without taking it from the
    /// socket: the next read sees the same bytes. Returns how many were
    /// copied; 0 means the peer closed its write half (or `buf` is empty).
    ///
    /// ```
    /// use bureau::net::{TcpListener, TcpStream};
    /// use bureau::prelude::*;
    /// bureau::block_on(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").await?;
    ///     let mut c = TcpStream::connect(l.local_addr()?).await?;
    ///     let (mut s, _) = l.accept().await?;
    ///     c.write_all(b"hi").await?;
    ///     let mut buf = [0; 2];
    ///     let n = s.peek(&mut buf).await?;
    ///     assert_eq!(&buf[..n], &b"hi"[..n]);
    ///     s.read_exact(&mut buf).await?;
    ///     assert_eq!(&buf, b"hi");
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|s| s.peek(buf)).await
    }
}

impl TryFrom<std::net::TcpStream> for TcpStream {
    type Error = io::Error;

    /// Makes a connected std stream non-blocking and registers it with the
    /// reactor, as [`TcpStream::connect`] registers its own.
    ///
    /// ```
    /// use bureau::net::{TcpListener, TcpStream};
    /// use bureau::prelude::*;
    /// bureau::block_on(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").await?;
    ///     let mut c = TcpStream::try_from(std::net::TcpStream::connect(l.local_addr()?)?)?;
    ///     let (mut s, _) = l.accept().await?;
    ///     c.write_all(b"hi").await?;
    ///     let mut buf = [0; 2];
    ///     s.read_exact(&mut buf).await?;
    ///     assert_eq!(&buf, b"hi");
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    fn try_from(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Async::try_from(stream).map(TcpStream::from)
    }
}

stream_io!(TcpStream, std::net::TcpStream);
