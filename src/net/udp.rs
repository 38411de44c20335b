//! `UdpSocket`: a cheap-to-clone handle over `Async<std::net::UdpSocket>`.
//!
//! It must never block the event loop: addresses are resolved on the
//! blocking pool and every send and receive goes through the reactor.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
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

    /// Sets `IP_TTL`: the time-to-live field of every packet this socket sends.
    ///
    /// ```
    /// let s = bureau::block_on(bureau::net::UdpSocket::bind("127.0.0.1:0")).unwrap();
    /// s.set_ttl(42).unwrap();
    /// assert_eq!(s.ttl().unwrap(), 42);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_ttl(ttl)
    }

    /// The value of `IP_TTL`, as set by [`UdpSocket::set_ttl`].
    ///
    /// ```
    /// let s = bureau::block_on(bureau::net::UdpSocket::bind("127.0.0.1:0")).unwrap();
    /// assert!(s.ttl().unwrap() > 0);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get_ref().ttl()
    }

    /// Sets `SO_BROADCAST`: whether this socket may send to a broadcast address.
    ///
    /// ```
    /// let s = bureau::block_on(bureau::net::UdpSocket::bind("127.0.0.1:0")).unwrap();
    /// s.set_broadcast(true).unwrap();
    /// assert_eq!(s.broadcast().unwrap(), true);
    /// ```
    pub fn set_broadcast(&self, broadcast: bool) -> io::Result<()> {
        self.inner.get_ref().set_broadcast(broadcast)
    }

    /// The value of `SO_BROADCAST`, as set by [`UdpSocket::set_broadcast`].
    ///
    /// ```
    /// let s = bureau::block_on(bureau::net::UdpSocket::bind("127.0.0.1:0")).unwrap();
    /// assert!(!s.broadcast().unwrap());
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.inner.get_ref().broadcast()
    }

    /// Sets `IP_MULTICAST_LOOP`: whether IPv4 multicast datagrams this socket sends are looped back to the local host's members.
    ///
    /// ```
    /// let s = bureau::block_on(bureau::net::UdpSocket::bind("127.0.0.1:0")).unwrap();
    /// s.set_multicast_loop_v4(false).unwrap();
    /// assert_eq!(s.multicast_loop_v4().unwrap(), false);
    /// ```
    pub fn set_multicast_loop_v4(&self, multicast_loop_v4: bool) -> io::Result<()> {
        self.inner
            .get_ref()
            .set_multicast_loop_v4(multicast_loop_v4)
    }

    /// The value of `IP_MULTICAST_LOOP`, as set by [`UdpSocket::set_multicast_loop_v4`].
    ///
    /// ```
    /// let s = bureau::block_on(bureau::net::UdpSocket::bind("127.0.0.1:0")).unwrap();
    /// assert!(s.multicast_loop_v4().unwrap());
    /// ```
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.inner.get_ref().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_TTL`: the time-to-live of IPv4 multicast datagrams this socket sends (1, the default, keeps them on the local network).
    ///
    /// ```
    /// let s = bureau::block_on(bureau::net::UdpSocket::bind("127.0.0.1:0")).unwrap();
    /// s.set_multicast_ttl_v4(4).unwrap();
    /// assert_eq!(s.multicast_ttl_v4().unwrap(), 4);
    /// ```
    pub fn set_multicast_ttl_v4(&self, multicast_ttl_v4: u32) -> io::Result<()> {
        self.inner.get_ref().set_multicast_ttl_v4(multicast_ttl_v4)
    }

    /// The value of `IP_MULTICAST_TTL`, as set by [`UdpSocket::set_multicast_ttl_v4`].
    ///
    /// ```
    /// let s = bureau::block_on(bureau::net::UdpSocket::bind("127.0.0.1:0")).unwrap();
    /// assert_eq!(s.multicast_ttl_v4().unwrap(), 1);
    /// ```
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.inner.get_ref().multicast_ttl_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP`: whether IPv6 multicast datagrams this socket sends are looped back to the local host's members.
    ///
    /// ```
    /// let s = bureau::block_on(bureau::net::UdpSocket::bind("[::1]:0")).unwrap();
    /// s.set_multicast_loop_v6(false).unwrap();
    /// assert_eq!(s.multicast_loop_v6().unwrap(), false);
    /// ```
    pub fn set_multicast_loop_v6(&self, multicast_loop_v6: bool) -> io::Result<()> {
        self.inner
            .get_ref()
            .set_multicast_loop_v6(multicast_loop_v6)
    }

    /// The value of `IPV6_MULTICAST_LOOP`, as set by [`UdpSocket::set_multicast_loop_v6`].
    ///
    /// ```
    /// let s = bureau::block_on(bureau::net::UdpSocket::bind("[::1]:0")).unwrap();
    /// assert!(s.multicast_loop_v6().unwrap());
    /// ```
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.inner.get_ref().multicast_loop_v6()
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface whose
    /// address is `interface` (`Ipv4Addr::UNSPECIFIED` lets the kernel pick
    /// one by its routes). Fails on a host with no route for it.
    ///
    /// ```
    /// use bureau::net::{Ipv4Addr, UdpSocket};
    /// let s = bureau::block_on(UdpSocket::bind("0.0.0.0:0")).unwrap();
    /// let group = Ipv4Addr::new(224, 0, 0, 251);
    /// // On the loopback interface, so nothing leaves the host.
    /// if s.join_multicast_v4(group, Ipv4Addr::LOCALHOST).is_ok() {
    ///     s.leave_multicast_v4(group, Ipv4Addr::LOCALHOST).unwrap();
    /// }
    /// ```
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.inner
            .get_ref()
            .join_multicast_v4(&multiaddr, &interface)
    }

    /// Leaves an IPv4 multicast group joined by
    /// [`UdpSocket::join_multicast_v4`] with the same arguments.
    ///
    /// ```
    /// use bureau::net::{Ipv4Addr, UdpSocket};
    /// let s = bureau::block_on(UdpSocket::bind("0.0.0.0:0")).unwrap();
    /// let group = Ipv4Addr::new(224, 0, 0, 251);
    /// // Leaving a group never joined is an error.
    /// assert!(s.leave_multicast_v4(group, Ipv4Addr::LOCALHOST).is_err());
    /// ```
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.inner
            .get_ref()
            .leave_multicast_v4(&multiaddr, &interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on the interface with
    /// index `interface` (0 lets the kernel pick one). Fails on a host with
    /// no route for it.
    ///
    /// ```
    /// use bureau::net::{Ipv6Addr, UdpSocket};
    /// # if let Ok(s) = bureau::block_on(UdpSocket::bind("[::]:0")) {
    /// let group = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb);
    /// // Interface 1 is the loopback one on Linux: nothing leaves the host.
    /// if s.join_multicast_v6(&group, 1).is_ok() {
    ///     s.leave_multicast_v6(&group, 1).unwrap();
    /// }
    /// # }
    /// ```
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.get_ref().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group joined by
    /// [`UdpSocket::join_multicast_v6`] with the same arguments.
    ///
    /// ```
    /// use bureau::net::{Ipv6Addr, UdpSocket};
    /// # if let Ok(s) = bureau::block_on(UdpSocket::bind("[::]:0")) {
    /// let group = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb);
    /// // Leaving a group never joined is an error.
    /// assert!(s.leave_multicast_v6(&group, 0).is_err());
    /// # }
    /// ```
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner
            .get_ref()
            .leave_multicast_v6(multiaddr, interface)
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
