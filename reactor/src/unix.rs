//! Unix-domain sockets on the reactor: `Async<UnixListener>`,
//! `Async<UnixStream>` and `Async<UnixDatagram>`; the first two also made
//! from std's sockets.
//!
//! A path that begins with a NUL byte names a Linux abstract socket (the
//! bytes after the NUL are its name), in `bind`, `connect` and `send_to`
//! alike, as in async-io; a NUL anywhere else in a path is an error.
//!
//! It must never block the thread: `bind` and `pair` are instant, and
//! everything that may wait goes through the reactor.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener, UnixStream};
use std::path::Path;
use std::sync::OnceLock;

use futures_lite::Stream;
use rustix::io::Errno;
use socket2::{Domain, SockAddr, Type};

use crate::async_io::Async;
use crate::tcp::{
    accept_nonblocking, connected, nonblocking_socket, register_stream, start_connect,
    widen_backlog,
};

impl Async<UnixListener> {
    /// Binds a listener to the socket file `path`, or to the abstract
    /// name after a leading NUL byte (no file is made then).
    ///
    /// ```
    /// use std::os::unix::net::UnixListener;
    /// let path = std::env::temp_dir().join(format!("bureau-doc-l-{}", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let l = bureau_reactor::Async::<UnixListener>::bind(&path).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    ///
    /// An abstract socket:
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::UnixListener;
    /// let name = format!("\0bureau-doc-abstract-l-{}", std::process::id());
    /// let l = bureau_reactor::Async::<UnixListener>::bind(&name).unwrap();
    /// let addr = l.get_ref().local_addr().unwrap();
    /// assert_eq!(addr.as_abstract_name(), Some(&name.as_bytes()[1..]));
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<Async<UnixListener>> {
        let listener = match abstract_addr(path.as_ref())? {
            Some(addr) => UnixListener::bind_addr(&addr)?,
            None => UnixListener::bind(path)?,
        };
        widen_backlog(&listener)?;
        Async::new(listener)
    }

    /// Waits for a connection; see `Async<TcpListener>::accept` for which
    /// errors it returns when, so that a loop that logs an error and calls
    /// it again never spins.
    ///
    /// ```
    /// use std::os::unix::net::{UnixListener, UnixStream};
    /// use bureau_reactor::Async;
    /// let path = std::env::temp_dir().join(format!("bureau-doc-a-{}", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// futures_lite::future::block_on(async {
    ///     let l = Async::<UnixListener>::bind(&path)?;
    ///     let _c = Async::<UnixStream>::connect(&path).await?;
    ///     let (_s, _addr) = l.accept().await?;
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(Async<UnixStream>, SocketAddr)> {
        let (fd, addr) = self.accept_with(accept_nonblocking).await?;
        let addr = std_addr(addr)?;
        Ok((Async::new_stream(UnixStream::from(fd))?, addr))
    }

    /// A stream of incoming connections; errors are yielded, as and when
    /// [`accept`](Self::accept) returns them, and the stream goes on.
    ///
    /// ```
    /// use std::os::unix::net::{UnixListener, UnixStream};
    /// use bureau_reactor::Async;
    /// use futures_lite::StreamExt;
    /// let path = std::env::temp_dir().join(format!("bureau-doc-i-{}", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// futures_lite::future::block_on(async {
    ///     let l = Async::<UnixListener>::bind(&path)?;
    ///     let _c = UnixStream::connect(&path)?;
    ///     l.incoming().next().await.unwrap()?;
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn incoming(
        &self,
    ) -> impl Stream<Item = io::Result<Async<UnixStream>>> + Send + Unpin + '_ {
        futures_lite::StreamExt::map(self.incoming_with(accept_nonblocking), |r| {
            r.and_then(|(fd, _)| Async::new_stream(UnixStream::from(fd)))
        })
    }
}

/// The peer address `accept4` reported, as std's type: a path, an abstract
/// name, or (the usual case: the client did not bind) unnamed.
fn std_addr(addr: SockAddr) -> io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    if let Some(path) = addr.as_pathname() {
        return SocketAddr::from_pathname(path);
    }
    // An empty abstract name is what an unnamed peer reads as.
    if let Some(name) = addr.as_abstract_namespace().filter(|n| !n.is_empty()) {
        return SocketAddr::from_abstract_name(name);
    }
    unnamed_addr()
}

/// An unnamed Unix socket address (std has no constructor for one), made
/// once from an unbound datagram socket.
fn unnamed_addr() -> io::Result<SocketAddr> {
    static UNNAMED: OnceLock<SocketAddr> = OnceLock::new();
    if let Some(a) = UNNAMED.get() {
        return Ok(a.clone());
    }
    let a = UnixDatagram::unbound()?.local_addr()?;
    Ok(UNNAMED.get_or_init(|| a).clone())
}

/// The abstract socket address `path` names if it begins with a NUL byte
/// (the rest, byte for byte, is the name; `None` for any other path).
/// A name too long for `sun_path` is an error.
fn abstract_addr(path: &Path) -> io::Result<Option<SocketAddr>> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    match path.as_os_str().as_bytes().strip_prefix(&[0]) {
        Some(name) => SocketAddr::from_abstract_name(name).map(Some),
        None => Ok(None),
    }
}

/// The address `connect` dials for `path`: after a leading NUL byte the
/// abstract name that follows (socket2 gives it no terminating NUL), and
/// otherwise the socket file, taken as a C string: a path with a NUL in it
/// is `EINVAL`, one too long `ENAMETOOLONG`, and the empty path the empty
/// abstract name. socket2 (like std) wants room for the terminating NUL of
/// a file's path, so a path of exactly 108 bytes is too long; an abstract
/// name may fill all 107 bytes after its NUL.
fn path_addr(path: &Path) -> io::Result<SockAddr> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    if bytes.first() != Some(&0) && bytes.contains(&0) {
        return Err(Errno::INVAL.into());
    }
    if bytes.is_empty() {
        // socket2 would make it unnamed (`EINVAL` from connect).
        return SockAddr::unix("\0");
    }
    SockAddr::unix(path).map_err(|_| Errno::NAMETOOLONG.into())
}

impl Async<UnixStream> {
    /// Connects to the socket file `path`, or to the abstract socket named
    /// by what follows a leading NUL byte, without blocking the thread.
    ///
    /// ```
    /// use std::os::unix::net::{UnixListener, UnixStream};
    /// use bureau_reactor::Async;
    /// let path = std::env::temp_dir().join(format!("bureau-doc-c-{}", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let _l = UnixListener::bind(&path).unwrap();
    /// futures_lite::future::block_on(Async::<UnixStream>::connect(&path)).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<Async<UnixStream>> {
        let addr = path_addr(path.as_ref())?;
        let socket = nonblocking_socket(Domain::UNIX, Type::STREAM)?;
        start_connect(&socket, &addr)?;
        // Created non-blocking above: no FIONBIO needed.
        let stream = Async::new_stream(UnixStream::from(socket))?;
        stream
            .write_with(|s| connected(s.take_error(), s.peer_addr().map(drop)))
            .await?;
        Ok(stream)
    }

    /// A connected pair of streams.
    ///
    /// ```
    /// let (a, b) = bureau_reactor::Async::<std::os::unix::net::UnixStream>::pair().unwrap();
    /// ```
    pub fn pair() -> io::Result<(Async<UnixStream>, Async<UnixStream>)> {
        let (a, b) = UnixStream::pair()?;
        a.set_nonblocking(true)?;
        b.set_nonblocking(true)?;
        Ok((Async::new_stream(a)?, Async::new_stream(b)?))
    }
}

impl TryFrom<UnixListener> for Async<UnixListener> {
    type Error = io::Error;

    /// Makes a listening socket non-blocking and registers it; its backlog
    /// stays what it was listened with.
    ///
    /// ```
    /// use std::os::unix::net::{UnixListener, UnixStream};
    /// use bureau_reactor::Async;
    /// let path = std::env::temp_dir().join(format!("bureau-doc-tl-{}", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let l = Async::try_from(UnixListener::bind(&path).unwrap()).unwrap();
    /// let _c = UnixStream::connect(&path).unwrap();
    /// futures_lite::future::block_on(l.accept()).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    fn try_from(listener: UnixListener) -> io::Result<Async<UnixListener>> {
        Async::new(listener)
    }
}

impl TryFrom<UnixStream> for Async<UnixStream> {
    type Error = io::Error;

    /// Makes a connected stream non-blocking and registers it, as
    /// `Async::connect` and `accept` register theirs.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use bureau_reactor::Async;
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// let a = Async::try_from(a).unwrap();
    /// assert!(a.get_ref().peer_addr().is_ok());
    /// ```
    fn try_from(stream: UnixStream) -> io::Result<Async<UnixStream>> {
        register_stream(stream)
    }
}

impl Async<UnixDatagram> {
    /// Binds a datagram socket to the socket file `path`, or to the
    /// abstract name after a leading NUL byte.
    ///
    /// ```
    /// use std::os::unix::net::UnixDatagram;
    /// let path = std::env::temp_dir().join(format!("bureau-doc-d-{}", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let d = bureau_reactor::Async::<UnixDatagram>::bind(&path).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<Async<UnixDatagram>> {
        let socket = match abstract_addr(path.as_ref())? {
            Some(addr) => UnixDatagram::bind_addr(&addr)?,
            None => UnixDatagram::bind(path)?,
        };
        Async::new(socket)
    }

    /// A datagram socket bound to no address.
    ///
    /// ```
    /// let d = bureau_reactor::Async::<std::os::unix::net::UnixDatagram>::unbound().unwrap();
    /// ```
    pub fn unbound() -> io::Result<Async<UnixDatagram>> {
        Async::new(UnixDatagram::unbound()?)
    }

    /// A connected pair of datagram sockets.
    ///
    /// ```
    /// use std::os::unix::net::UnixDatagram;
    /// use bureau_reactor::Async;
    /// futures_lite::future::block_on(async {
    ///     let (a, b) = Async::<UnixDatagram>::pair()?;
    ///     a.send(b"hi").await?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.recv(&mut buf).await?, 2);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub fn pair() -> io::Result<(Async<UnixDatagram>, Async<UnixDatagram>)> {
        let (a, b) = UnixDatagram::pair()?;
        Ok((Async::new(a)?, Async::new(b)?))
    }

    /// Receives one datagram and its sender's address.
    ///
    /// ```
    /// use std::os::unix::net::UnixDatagram;
    /// use bureau_reactor::Async;
    /// futures_lite::future::block_on(async {
    ///     let (a, b) = Async::<UnixDatagram>::pair()?;
    ///     a.send(b"hi").await?;
    ///     let mut buf = [0; 8];
    ///     let (n, _from) = b.recv_from(&mut buf).await?;
    ///     assert_eq!(n, 2);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.read_with(|s| s.recv_from(buf)).await
    }

    /// Sends one datagram to the socket file `path`, or to the abstract
    /// socket named by what follows a leading NUL byte.
    ///
    /// ```
    /// use std::os::unix::net::UnixDatagram;
    /// use bureau_reactor::Async;
    /// let path = std::env::temp_dir().join(format!("bureau-doc-s-{}", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// futures_lite::future::block_on(async {
    ///     let b = Async::<UnixDatagram>::bind(&path)?;
    ///     let a = Async::<UnixDatagram>::unbound()?;
    ///     assert_eq!(a.send_to(b"hi", &path).await?, 2);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub async fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        match abstract_addr(path.as_ref())? {
            Some(addr) => self.write_with(|s| s.send_to_addr(buf, &addr)).await,
            None => self.write_with(|s| s.send_to(buf, path.as_ref())).await,
        }
    }

    /// Receives one datagram from the connected peer.
    ///
    /// ```
    /// use std::os::unix::net::UnixDatagram;
    /// use bureau_reactor::Async;
    /// futures_lite::future::block_on(async {
    ///     let (a, b) = Async::<UnixDatagram>::pair()?;
    ///     b.send(b"hey").await?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(a.recv(&mut buf).await?, 3);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(|s| s.recv(buf)).await
    }

    /// Sends one datagram to the connected peer.
    ///
    /// ```
    /// use std::os::unix::net::UnixDatagram;
    /// use bureau_reactor::Async;
    /// futures_lite::future::block_on(async {
    ///     let (a, _b) = Async::<UnixDatagram>::pair()?;
    ///     assert_eq!(a.send(b"hey").await?, 3);
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.write_with(|s| s.send(buf)).await
    }
}
