//! UDP on the reactor: `Async<UdpSocket>` with async send and receive.
//!
//! It must never block the thread: every call goes through `read_with` or
//! `write_with` on the non-blocking socket.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use crate::async_io::Async;

impl Async<UdpSocket> {
    /// Binds a UDP socket to `addr` (port 0 picks a free port).
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// let s = bureau_reactor::Async::<UdpSocket>::bind(([127, 0, 0, 1], 0)).unwrap();
    /// assert!(s.get_ref().local_addr().is_ok());
    /// ```
    pub fn bind<A: Into<SocketAddr>>(addr: A) -> io::Result<Async<UdpSocket>> {
        Async::new(UdpSocket::bind(addr.into())?)
    }

    /// Receives one datagram and its sender.
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use bureau_reactor::Async;
    /// futures_lite::future::block_on(async {
    ///     let a = Async::<UdpSocket>::bind(([127, 0, 0, 1], 0))?;
    ///     let b = Async::<UdpSocket>::bind(([127, 0, 0, 1], 0))?;
    ///     b.send_to(b"hi", a.get_ref().local_addr()?).await?;
    ///     let mut buf = [0; 8];
    ///     let (n, from) = a.recv_from(&mut buf).await?;
    ///     assert_eq!((&buf[..n], from), (&b"hi"[..], b.get_ref().local_addr()?));
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.read_with(|s| s.recv_from(buf)).await
    }

    /// Receives one datagram without removing it from the queue.
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use bureau_reactor::Async;
    /// futures_lite::future::block_on(async {
    ///     let a = Async::<UdpSocket>::bind(([127, 0, 0, 1], 0))?;
    ///     a.send_to(b"hi", a.get_ref().local_addr()?).await?;
    ///     let mut buf = [0; 8];
    ///     let (n, _) = a.peek_from(&mut buf).await?;
    ///     assert_eq!(a.recv(&mut buf).await?, n);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.read_with(|s| s.peek_from(buf)).await
    }

    /// Sends one datagram to `addr`.
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use bureau_reactor::Async;
    /// futures_lite::future::block_on(async {
    ///     let a = Async::<UdpSocket>::bind(([127, 0, 0, 1], 0))?;
    ///     assert_eq!(a.send_to(b"hi", a.get_ref().local_addr()?).await?, 2);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn send_to<A: Into<SocketAddr>>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let addr = addr.into();
        self.write_with(|s| s.send_to(buf, addr)).await
    }

    /// Receives one datagram from the connected peer.
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use bureau_reactor::Async;
    /// futures_lite::future::block_on(async {
    ///     let a = Async::<UdpSocket>::bind(([127, 0, 0, 1], 0))?;
    ///     a.get_ref().connect(a.get_ref().local_addr()?)?;
    ///     a.send(b"hi").await?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(a.recv(&mut buf).await?, 2);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(|s| s.recv(buf)).await
    }

    /// Receives one datagram from the connected peer, leaving it queued.
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use bureau_reactor::Async;
    /// futures_lite::future::block_on(async {
    ///     let a = Async::<UdpSocket>::bind(([127, 0, 0, 1], 0))?;
    ///     a.get_ref().connect(a.get_ref().local_addr()?)?;
    ///     a.send(b"hi").await?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(a.peek(&mut buf).await?, 2);
    ///     assert_eq!(a.recv(&mut buf).await?, 2);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(|s| s.peek(buf)).await
    }

    /// Sends one datagram to the connected peer.
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use bureau_reactor::Async;
    /// futures_lite::future::block_on(async {
    ///     let a = Async::<UdpSocket>::bind(([127, 0, 0, 1], 0))?;
    ///     a.get_ref().connect(a.get_ref().local_addr()?)?;
    ///     assert_eq!(a.send(b"hi").await?, 2);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.write_with(|s| s.send(buf)).await
    }
}

impl TryFrom<UdpSocket> for Async<UdpSocket> {
    type Error = io::Error;

    /// Makes a bound socket non-blocking and registers it.
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use bureau_reactor::Async;
    /// let s = Async::try_from(UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
    /// let me = s.get_ref().local_addr().unwrap();
    /// futures_lite::future::block_on(s.send_to(b"hi", me)).unwrap();
    /// ```
    fn try_from(socket: UdpSocket) -> io::Result<Async<UdpSocket>> {
        Async::new(socket)
    }
}
