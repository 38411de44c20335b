//! Anything that names socket addresses, and resolving it: literal
//! addresses at once, host names on the blocking pool.
//!
//! It must never call the system resolver on the event-loop thread.

use std::io;
// (`ToSocketAddrs` goes unused under loom, where no name is looked up.)
#[cfg_attr(loom, allow(unused_imports))]
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs};

/// What an address argument turns into before any lookup.
pub enum Lookup {
    /// Already addresses (or an error found without a lookup).
    Done(io::Result<Vec<SocketAddr>>),
    /// A host name and port for the system resolver.
    Host(String, u16),
}

/// Keeps [`AsyncToSocketAddrs`] closed to other types.
mod sealed {
    /// Turns an address argument into a [`super::Lookup`].
    pub trait Sealed {
        /// The addresses, or the host name to look up. It takes `&self` so
        /// that a reference can forward to what it points at.
        fn lookup(&self) -> super::Lookup;
    }
}

/// Anything that names one or more socket addresses: `"host:port"` as a
/// `&str` or `String`, `SocketAddr`, `(IpAddr, u16)`, `(&str, u16)`, ...,
/// and a reference to any of them (so `send_to(buf, &addr)` works, as in
/// std's `ToSocketAddrs`). Host names are resolved on the blocking pool.
///
/// ```
/// use bureau::net::{resolve, AsyncToSocketAddrs};
/// async fn first(addr: impl AsyncToSocketAddrs) -> std::io::Result<std::net::SocketAddr> {
///     Ok(resolve(addr).await?[0])
/// }
/// let a = bureau::block_on(first(([127, 0, 0, 1], 80))).unwrap();
/// assert_eq!(a.port(), 80);
/// let named = String::from("127.0.0.1:81");
/// assert_eq!(bureau::block_on(first(&named)).unwrap().port(), 81);
/// ```
pub trait AsyncToSocketAddrs: sealed::Sealed {}

impl<T: sealed::Sealed + ?Sized> AsyncToSocketAddrs for T {}

/// Resolves `addr` to its socket addresses; host names are looked up on
/// the blocking pool.
///
/// ```
/// let addrs = bureau::block_on(bureau::net::resolve("localhost:8080")).unwrap();
/// assert!(addrs.iter().all(|a| a.port() == 8080 && a.ip().is_loopback()));
/// ```
pub async fn resolve(addr: impl AsyncToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    match addr.lookup() {
        Lookup::Done(r) => r,
        // Under loom, refused: a real lookup would make the model depend on
        // the network.
        #[cfg(loom)]
        Lookup::Host(..) => Err(bureau_reactor::loom_reactor::unsupported("name lookups")),
        #[cfg(not(loom))]
        Lookup::Host(host, port) => {
            crate::unblock(move || {
                (host.as_str(), port)
                    .to_socket_addrs()
                    .map(Iterator::collect)
            })
            .await
        }
    }
}

/// Runs `op` on each address of `addr` in turn and returns the first
/// success, or the last error.
pub(crate) async fn try_each<T, F, Fut>(addr: impl AsyncToSocketAddrs, mut op: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut last = None;
    for a in resolve(addr).await? {
        match op(a).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

/// A reference names what it points at.
impl<T: sealed::Sealed + ?Sized> sealed::Sealed for &T {
    fn lookup(&self) -> Lookup {
        (**self).lookup()
    }
}

impl sealed::Sealed for SocketAddr {
    fn lookup(&self) -> Lookup {
        Lookup::Done(Ok(vec![*self]))
    }
}

impl sealed::Sealed for SocketAddrV4 {
    fn lookup(&self) -> Lookup {
        SocketAddr::V4(*self).lookup()
    }
}

impl sealed::Sealed for SocketAddrV6 {
    fn lookup(&self) -> Lookup {
        SocketAddr::V6(*self).lookup()
    }
}

impl sealed::Sealed for (IpAddr, u16) {
    fn lookup(&self) -> Lookup {
        SocketAddr::from(*self).lookup()
    }
}

impl sealed::Sealed for (Ipv4Addr, u16) {
    fn lookup(&self) -> Lookup {
        SocketAddr::from(*self).lookup()
    }
}

impl sealed::Sealed for (Ipv6Addr, u16) {
    fn lookup(&self) -> Lookup {
        SocketAddr::from(*self).lookup()
    }
}

impl sealed::Sealed for ([u8; 4], u16) {
    fn lookup(&self) -> Lookup {
        SocketAddr::from(*self).lookup()
    }
}

impl sealed::Sealed for [SocketAddr] {
    fn lookup(&self) -> Lookup {
        Lookup::Done(Ok(self.to_vec()))
    }
}

impl sealed::Sealed for (&str, u16) {
    fn lookup(&self) -> Lookup {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => (ip, self.1).lookup(),
            Err(_) => Lookup::Host(self.0.to_owned(), self.1),
        }
    }
}

impl sealed::Sealed for (String, u16) {
    fn lookup(&self) -> Lookup {
        (self.0.as_str(), self.1).lookup()
    }
}

impl sealed::Sealed for str {
    fn lookup(&self) -> Lookup {
        if let Ok(a) = self.parse::<SocketAddr>() {
            return a.lookup();
        }
        let Some((host, port)) = self.rsplit_once(':') else {
            return invalid("expected \"host:port\"");
        };
        match port.parse::<u16>() {
            Ok(port) => (host, port).lookup(),
            Err(_) => invalid("the port after ':' is not a number from 0 to 65535"),
        }
    }
}

impl sealed::Sealed for String {
    fn lookup(&self) -> Lookup {
        self.as_str().lookup()
    }
}

/// An invalid-input error found before any lookup.
fn invalid(msg: &'static str) -> Lookup {
    Lookup::Done(Err(io::Error::new(io::ErrorKind::InvalidInput, msg)))
}
