//! `UnixListener` and `UnixStream`: cheap-to-clone handles over
//! `Async<std::os::unix::net::UnixListener>` / `Async<..::UnixStream>`.
//!
//! It must never block the event loop: binding is instant, connecting and
//! accepting go through the reactor.

use std::io;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use futures_lite::{Stream, StreamExt};

use crate::Async;

/// A Unix-domain stream listener; clones share the socket.
///
/// ```
/// use bureau::net::{UnixListener, UnixStream};
/// let path = std::env::temp_dir().join(format!("bureau-net-doc-{}", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// bureau::block_on(async {
///     let l = UnixListener::bind(&path)?;
///     let _c = UnixStream::connect(&path).await?;
///     let (_s, _addr) = l.accept().await?;
///     std::io::Result::Ok(())
/// }).unwrap();
/// # std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct UnixListener {
    inner: Arc<Async<std::os::unix::net::UnixListener>>,
}

impl UnixListener {
    /// Binds to the socket file `path` (a plain call: binding never waits).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("bureau-net-bind-{}", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let l = bureau::net::UnixListener::bind(&path).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Async::<std::os::unix::net::UnixListener>::bind(path)
            .map(|l| UnixListener { inner: Arc::new(l) })
    }

    /// Waits for a connection. A loop that logs an error and calls it
    /// again never spins; see [`TcpListener::accept`](crate::net::TcpListener::accept).
    ///
    /// ```
    /// use bureau::net::{UnixListener, UnixStream};
    /// let path = std::env::temp_dir().join(format!("bureau-net-acc-{}", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// bureau::block_on(async {
    ///     let l = UnixListener::bind(&path)?;
    ///     let _c = UnixStream::connect(&path).await?;
    ///     l.accept().await?;
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, addr) = self.inner.accept().await?;
        Ok((UnixStream::from(s), addr))
    }

    /// A stream of incoming connections; errors are yielded and the stream
    /// goes on.
    ///
    /// ```
    /// use bureau::net::{UnixListener, UnixStream};
    /// use bureau::prelude::*;
    /// let path = std::env::temp_dir().join(format!("bureau-net-inc-{}", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// bureau::block_on(async {
    ///     let l = UnixListener::bind(&path)?;
    ///     let _c = UnixStream::connect(&path).await?;
    ///     l.incoming().next().await.unwrap()?;
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn incoming(&self) -> impl Stream<Item = io::Result<UnixStream>> + Send + Unpin + '_ {
        self.inner.incoming().map(|r| r.map(UnixStream::from))
    }

    /// The address the listener is bound to.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("bureau-net-la-{}", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let l = bureau::net::UnixListener::bind(&path).unwrap();
    /// assert_eq!(l.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }
}

impl From<Async<std::os::unix::net::UnixListener>> for UnixListener {
    fn from(inner: Async<std::os::unix::net::UnixListener>) -> UnixListener {
        UnixListener {
            inner: Arc::new(inner),
        }
    }
}

impl TryFrom<std::os::unix::net::UnixListener> for UnixListener {
    type Error = io::Error;

    /// Makes a std listener non-blocking and registers it with the reactor
    /// (which can fail, hence `TryFrom`).
    ///
    /// ```
    /// use bureau::net::{UnixListener, UnixStream};
    /// let path = std::env::temp_dir().join(format!("bureau-net-tl-{}", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// bureau::block_on(async {
    ///     let l = UnixListener::try_from(std::os::unix::net::UnixListener::bind(&path)?)?;
    ///     let _c = UnixStream::connect(&path).await?;
    ///     l.accept().await?;
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    fn try_from(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        Async::try_from(listener).map(UnixListener::from)
    }
}

/// A Unix-domain stream connection; clones share the socket. Closing it
/// (`AsyncWriteExt::close`) shuts down writing.
///
/// ```
/// use bureau::net::UnixStream;
/// use bureau::prelude::*;
/// bureau::block_on(async {
///     let (mut a, mut b) = UnixStream::pair()?;
///     a.write_all(b"hi").await?;
///     a.close().await?;
///     let mut got = Vec::new();
///     b.read_to_end(&mut got).await?;
///     assert_eq!(got, b"hi");
///     std::io::Result::Ok(())
/// }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct UnixStream {
    inner: Arc<Async<std::os::unix::net::UnixStream>>,
}

impl UnixStream {
    /// Connects to the socket file `path`.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("bureau-net-con-{}", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
    /// bureau::block_on(bureau::net::UnixStream::connect(&path)).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        Async::<std::os::unix::net::UnixStream>::connect(path)
            .await
            .map(UnixStream::from)
    }

    /// A connected pair of streams.
    ///
    /// ```
    /// let (a, b) = bureau::net::UnixStream::pair().unwrap();
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = Async::<std::os::unix::net::UnixStream>::pair()?;
        Ok((UnixStream::from(a), UnixStream::from(b)))
    }

    /// The local address of the connection.
    ///
    /// ```
    /// let (a, _b) = bureau::net::UnixStream::pair().unwrap();
    /// assert!(a.local_addr().unwrap().is_unnamed());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The address of the peer.
    ///
    /// ```
    /// let (a, _b) = bureau::net::UnixStream::pair().unwrap();
    /// assert!(a.peer_addr().unwrap().is_unnamed());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Shuts down reading, writing or both.
    ///
    /// ```
    /// let (a, _b) = bureau::net::UnixStream::pair().unwrap();
    /// a.shutdown(std::net::Shutdown::Both).unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }
}

impl TryFrom<std::os::unix::net::UnixStream> for UnixStream {
    type Error = io::Error;

    /// Makes a connected std stream non-blocking and registers it with the
    /// reactor, as [`UnixStream::connect`] registers its own.
    ///
    /// ```
    /// use bureau::net::UnixStream;
    /// use bureau::prelude::*;
    /// bureau::block_on(async {
    ///     let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    ///     let mut a = UnixStream::try_from(a)?;
    ///     std::io::Write::write_all(&mut b, b"hi")?;
    ///     let mut buf = [0; 2];
    ///     a.read_exact(&mut buf).await?;
    ///     assert_eq!(&buf, b"hi");
    ///     std::io::Result::Ok(())
    /// }).unwrap();
    /// ```
    fn try_from(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        Async::try_from(stream).map(UnixStream::from)
    }
}

stream_io!(UnixStream, std::os::unix::net::UnixStream);
