//! `UdpSocket`: a cheap-to-clone handle over `Async<std::net::UdpSocket>`.
//!
//! It must never block the event loop: addresses are resolved on the
//! blocking pool and every send and receive goes through the reactor.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use super::addr::{AsyncToSocketAddrs, resolve, try_each};
use crate::Async;

/// A UDP socket; clones share it.
///
/// ```
/// use bureau::net::UdpSocket;
/// bureau::block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind("127.0.0.1:0").await?;
///     a.send_to(b"ping", b.local_addr()?).await?;
///     let mut buf = [0; 8];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
///     std::io::Result::Ok(())
/// }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct UdpSocket {
    inner: Arc<Async<std::net::UdpSocket>>,
}

impl UdpSocket {
    /// Binds to the first address `addr` names that can be bound.
    ///
    /// ```
    /// let s = bureau::block_on(bureau::net::UdpSocket::bind(("127.0.0.1", 0))).unwrap();
    /// ```
    pub async fn bind(addr: impl AsyncToSocketAddrs) -> io::Result<UdpSocket> {
        try_each(
            addr,
            |a| async move { Async::<std::net::UdpSocket>::bind(a) },
        )
        .await
        .map(|s| UdpSocket { inner: Arc::new(s) })
    }

    /// Sets the default peer: `send` and `recv` then talk to it only.
    ///
    /// ```
    /// use bureau::net::UdpSocket;
    /// bureau::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(a.local_addr()?).await?;
    ///     a.send(b"me").await?;
    ///     let mut buf = [0; 4];
    ///     assert_eq!(a.recv(&mut buf).await?, 2);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn connect(&self, addr: impl AsyncToSocketAddrs) -> io::Result<()> {
        try_each(addr, |a| async move { self.inner.get_ref().connect(a) }).await
    }

    /// The address the socket is bound to.
    ///
    /// ```
    /// let s = bureau::block_on(bureau::net::UdpSocket::bind("127.0.0.1:0")).unwrap();
    /// assert_ne!(s.local_addr().unwrap().port(), 0);
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The default peer set by [`UdpSocket::connect`].
    ///
    /// ```
    /// use bureau::net::UdpSocket;
    /// bureau::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert!(a.peer_addr().is_err());
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Sends one datagram to the first address `addr` names.
    ///
    /// ```
    /// use bureau::net::UdpSocket;
    /// bureau::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert_eq!(a.send_to(b"hi", a.local_addr()?).await?, 2);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn send_to(&self, buf: &[u8], addr: impl AsyncToSocketAddrs) -> io::Result<usize> {
        let addrs = resolve(addr).await?;
        let Some(&to) = addrs.first() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the address resolved to nothing",
            ));
        };
        self.inner.send_to(buf, to).await
    }

    /// Receives one datagram and its sender.
    ///
    /// ```
    /// use bureau::net::UdpSocket;
    /// bureau::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.send_to(b"hi", a.local_addr()?).await?;
    ///     let mut buf = [0; 4];
    ///     let (n, _) = a.recv_from(&mut buf).await?;
    ///     assert_eq!(n, 2);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.recv_from(buf).await
    }

    /// Receives one datagram and its sender, leaving it queued.
    ///
    /// ```
    /// use bureau::net::UdpSocket;
    /// bureau::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.send_to(b"hi", a.local_addr()?).await?;
    ///     let mut buf = [0; 4];
    ///     let (n, _) = a.peek_from(&mut buf).await?;
    ///     assert_eq!(a.recv_from(&mut buf).await?.0, n);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.peek_from(buf).await
    }

    /// Sends one datagram to the connected peer.
    ///
    /// ```
    /// use bureau::net::UdpSocket;
    /// bureau::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(a.local_addr()?).await?;
    ///     assert_eq!(a.send(b"hi").await?, 2);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.send(buf).await
    }

    /// Receives one datagram from the connected peer.
    ///
    /// ```
    /// use bureau::net::UdpSocket;
    /// bureau::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(a.local_addr()?).await?;
    ///     a.send(b"hi").await?;
    ///     let mut buf = [0; 4];
    ///     assert_eq!(a.recv(&mut buf).await?, 2);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.recv(buf).await
    }

    /// Receives one datagram from the connected peer, leaving it queued.
    ///
    /// ```
    /// use bureau::net::UdpSocket;
    /// bureau::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(a.local_addr()?).await?;
    ///     a.send(b"hi").await?;
    ///     let mut buf = [0; 4];
    ///     assert_eq!(a.peek(&mut buf).await?, 2);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.peek(buf).await
    }
}

impl From<Async<std::net::UdpSocket>> for UdpSocket {
    fn from(inner: Async<std::net::UdpSocket>) -> UdpSocket {
        UdpSocket {
            inner: Arc::new(inner),
        }
    }
}

impl TryFrom<std::net::UdpSocket> for UdpSocket {
    type Error = io::Error;

    /// Makes a std socket non-blocking and registers it with the reactor
    /// (which can fail, hence `TryFrom`).
    ///
    /// ```
    /// use bureau::net::UdpSocket;
    /// bureau::block_on(async {
    ///     let a = UdpSocket::try_from(std::net::UdpSocket::bind("127.0.0.1:0")?)?;
    ///     a.send_to(b"hi", a.local_addr()?).await?;
    ///     let mut buf = [0; 4];
    ///     assert_eq!(a.recv_from(&mut buf).await?.0, 2);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    fn try_from(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        Async::try_from(socket).map(UdpSocket::from)
    }
}
